//! The sealer: signs checkpoints of the chain head and appends them to the
//! checkpoint file (and its copy), off the request path. The worker calls
//! [`Sealer::seal`] on an interval; the server also seals once before it
//! serves and once after a clean stop, so only the entries written since
//! the latest seal are ever unsigned.
//!
//! Where the database records checkpoints itself (PostgreSQL: several
//! nodes, one chain), the store signs under its one-node-at-a-time lock
//! with this sealer's key and keeps the lines; this node's file and copy
//! then get the lines it signed, as evidence outside the database, and
//! the checks read the database's lines (plus the file's).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::checkpoint::{self, Checkpoint};
use super::{AuditError, AuditKey, AuditPublicKey, AuditReport, AuditSigningKey, GLOBAL_CHAIN};
use crate::clock::rfc3339;
use crate::store::{AuditHead, GovernanceStore, SharedSeal};

/// Checkpoints kept in memory for the API (the file keeps them all).
const RECENT: usize = 1_000;

pub struct Sealer {
    key: AuditKey,
    signing: AuditSigningKey,
    public: AuditPublicKey,
    file: PathBuf,
    copy: Option<PathBuf>,
    /// Held across a whole seal, so two seals never interleave their lines.
    state: Mutex<SealState>,
}

#[derive(Default)]
struct SealState {
    recent: VecDeque<Checkpoint>,
}

impl SealState {
    fn last(&self) -> Option<&Checkpoint> {
        self.recent.back()
    }
}

impl Sealer {
    /// Reads the checkpoint file at `file`; every line must verify under
    /// `signing`'s public key (a file altered or signed by another key is
    /// refused rather than extended).
    pub fn open(
        key: AuditKey,
        signing: AuditSigningKey,
        file: PathBuf,
        copy: Option<PathBuf>,
    ) -> Result<Sealer, AuditError> {
        let public = signing.public();
        let log = checkpoint::read_log(&file, &public, GLOBAL_CHAIN)
            .map_err(|source| AuditError::CheckpointFile {
                path: file.clone(),
                source,
            })?
            .map_err(|brk| AuditError::BadCheckpoints {
                path: file.clone(),
                reason: format!("{}: {}", brk.id, brk.reason),
            })?;
        let mut recent: VecDeque<Checkpoint> = log.checkpoints.into();
        while recent.len() > RECENT {
            recent.pop_front();
        }
        Ok(Sealer {
            key,
            signing,
            public,
            file,
            copy,
            state: Mutex::new(SealState { recent }),
        })
    }

    pub fn public_key(&self) -> &AuditPublicKey {
        &self.public
    }

    pub fn checkpoint_file(&self) -> &Path {
        &self.file
    }

    /// Refuses a database whose chain does not reach the latest checkpoint:
    /// appending to it would only bury the loss under new entries.
    pub async fn check_reaches(&self, store: &dyn GovernanceStore) -> Result<(), AuditError> {
        let state = self.state.lock().await;
        let recorded = match store.audit_checkpoints(Some(1)).await? {
            Some(lines) => {
                checkpoint::check_lines(&lines, "recorded checkpoint", &self.public, GLOBAL_CHAIN)
                    .map_err(|brk| AuditError::BadRecordedCheckpoints { reason: brk.reason })?
                    .checkpoints
            }
            None => Vec::new(),
        };
        let latest = checkpoint::merge(recorded, state.last().cloned().into_iter().collect());
        let Some(last) = latest.last() else {
            return Ok(());
        };
        let behind = |reason: String| AuditError::Behind {
            seq: last.seq,
            time: last.time.clone(),
            reason,
            path: self.file.clone(),
        };
        let chain = store
            .audit_chain()
            .await?
            .ok_or(AuditError::NoChainRecord)?;
        if chain.keyed_from != last.keyed_from {
            return Err(behind(format!(
                "the database says entries carry MACs from seq {}, the checkpoint says from {}",
                chain.keyed_from, last.keyed_from
            )));
        }
        if last.seq == 0 {
            return Ok(());
        }
        match store.audit_hash_at(last.seq).await? {
            Some(hash) if hash == last.head_hash => Ok(()),
            Some(_) => Err(behind(format!(
                "entry {} has another hash than the one signed",
                last.seq
            ))),
            None => Err(behind(format!("entry {} is gone", last.seq))),
        }
    }

    /// Signs the current head and appends it, unless it is the one signed
    /// last. Returns the new checkpoint.
    pub async fn seal(
        &self,
        store: &dyn GovernanceStore,
        now: OffsetDateTime,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let mut state = self.state.lock().await;
        if let Some(signed) = self.seal_recorded(store, now).await? {
            if let Some(c) = &signed {
                state.recent.push_back(c.clone());
                if state.recent.len() > RECENT {
                    state.recent.pop_front();
                }
            }
            return Ok(signed);
        }
        let head = store.audit_head().await?;
        let checkpoint = match self.next(head, state.last(), now) {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(None),
            Err(reason) => {
                return Err(AuditError::BadCheckpoints {
                    path: self.file.clone(),
                    reason,
                });
            }
        };
        let mut line = checkpoint.sign(&self.signing);
        line.push('\n');
        let (file, copy) = (self.file.clone(), self.copy.clone());
        tokio::task::spawn_blocking(move || {
            append(&file, &line).map_err(|source| AuditError::CheckpointFile {
                path: file.clone(),
                source,
            })?;
            if let Some(copy) = copy
                && let Err(e) = append(&copy, &line)
            {
                // The primary holds it; a copy that lags shows when
                // verified against.
                tracing::error!(path = %copy.display(), error = %e, "could not append to the checkpoint copy");
            }
            Ok::<_, AuditError>(())
        })
        .await
        .map_err(|e| AuditError::Store(crate::store::StoreError::Other(Box::new(e))))??;
        // After the file: the database never records a checkpoint the file
        // lacks.
        store.record_audit_checkpoint(checkpoint.seq, now).await?;
        state.recent.push_back(checkpoint.clone());
        if state.recent.len() > RECENT {
            state.recent.pop_front();
        }
        Ok(Some(checkpoint))
    }

    /// The checkpoint of `head` to sign after `last`, if the head moved;
    /// the error says why it cannot follow `last`.
    fn next(
        &self,
        head: AuditHead,
        last: Option<&Checkpoint>,
        now: OffsetDateTime,
    ) -> Result<Option<Checkpoint>, String> {
        if head.seq == 0 || last.is_some_and(|l| l.seq == head.seq && l.head_hash == head.hash) {
            return Ok(None);
        }
        // The record's times never go back, even if the clock does.
        let mut time = rfc3339(now);
        if let Some(last) = last
            && time < last.time
        {
            time.clone_from(&last.time);
        }
        let checkpoint = Checkpoint {
            v: 1,
            chain: GLOBAL_CHAIN.to_owned(),
            seq: head.seq,
            head_hash: head.hash,
            keyed_from: head.keyed_from,
            time,
            key_id: self.public.id(),
        };
        if let Some(reason) = last.and_then(|l| checkpoint::out_of_order(l, &checkpoint)) {
            return Err(format!("the next checkpoint {reason}"));
        }
        Ok(Some(checkpoint))
    }

    /// Seals through a store that records checkpoints itself; `None` when
    /// it records none (SQLite), and the sealer writes its file instead.
    async fn seal_recorded(
        &self,
        store: &dyn GovernanceStore,
        now: OffsetDateTime,
    ) -> Result<Option<Option<Checkpoint>>, AuditError> {
        // `sign` runs inside the store's transaction; what it made or why
        // it refused comes back through these.
        let made: std::sync::Mutex<Option<Checkpoint>> = std::sync::Mutex::new(None);
        let refused: std::sync::Mutex<Option<AuditError>> = std::sync::Mutex::new(None);
        let sign = |head: &AuditHead, latest: Option<&str>| -> Option<String> {
            let last = match latest.map(|line| Checkpoint::open(line, &self.public)) {
                None => None,
                Some(Ok(c)) => Some(c),
                Some(Err(reason)) => {
                    put(
                        &refused,
                        AuditError::BadRecordedCheckpoints {
                            reason: format!("the latest: {reason}"),
                        },
                    );
                    return None;
                }
            };
            match self.next(head.clone(), last.as_ref(), now) {
                Ok(Some(c)) => {
                    let line = c.sign(&self.signing);
                    put(&made, c);
                    Some(line)
                }
                Ok(None) => None,
                Err(reason) => {
                    put(&refused, AuditError::BadRecordedCheckpoints { reason });
                    None
                }
            }
        };
        let outcome = store.seal_audit(&sign, now).await?;
        let (made, refused) = (take(made), take(refused));
        match outcome {
            SharedSeal::NotRecorded => Ok(None),
            SharedSeal::Unchanged => match refused {
                Some(e) => Err(e),
                None => Ok(Some(None)),
            },
            SharedSeal::Signed(mut line) => {
                let checkpoint = made.ok_or_else(|| AuditError::BadRecordedCheckpoints {
                    reason: "the store recorded a line this sealer did not sign".into(),
                })?;
                // The database holds it; the file and its copy keep what
                // this node signed, outside the database.
                line.push('\n');
                let (file, copy) = (self.file.clone(), self.copy.clone());
                let appended = tokio::task::spawn_blocking(move || {
                    for path in std::iter::once(file).chain(copy) {
                        if let Err(e) = append(&path, &line) {
                            tracing::error!(path = %path.display(), error = %e, "could not append a recorded checkpoint to the file");
                        }
                    }
                })
                .await;
                if let Err(e) = appended {
                    tracing::error!(error = %e, "could not append a recorded checkpoint to the file");
                }
                Ok(Some(Some(checkpoint)))
            }
        }
    }

    /// The latest checkpoints, newest first, as lines of the file (of the
    /// database's record, where it keeps one).
    pub async fn recent(
        &self,
        store: &dyn GovernanceStore,
        limit: usize,
    ) -> Result<Vec<Value>, AuditError> {
        let newest = u32::try_from(limit).unwrap_or(u32::MAX);
        if let Some(lines) = store.audit_checkpoints(Some(newest)).await? {
            return Ok(lines
                .iter()
                .rev()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect());
        }
        let state = self.state.lock().await;
        Ok(state
            .recent
            .iter()
            .rev()
            .take(limit)
            // Ed25519 signatures are deterministic: re-signing gives the
            // very line in the file.
            .filter_map(|c| serde_json::from_str(&c.sign(&self.signing)).ok())
            .collect())
    }

    /// Verifies the store with this server's keys and checkpoint file.
    pub async fn verify(&self, store: &dyn GovernanceStore) -> Result<AuditReport, AuditError> {
        // A seal in progress may have written the file but not yet the
        // database's record of it; waiting for it keeps the two in step.
        let _state = self.state.lock().await;
        super::verify(store, Some(&self.key), &self.public, Some(&self.file)).await
    }
}

/// Appends `line` and makes it durable; a new file is created 0600.
fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let existed = path.exists();
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()?;
    if !existed && let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        dir.sync_all()?;
    }
    Ok(())
}

fn put<T>(cell: &std::sync::Mutex<Option<T>>, value: T) {
    *cell.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
}

fn take<T>(cell: std::sync::Mutex<Option<T>>) -> Option<T> {
    cell.into_inner().unwrap_or_else(|p| p.into_inner())
}
