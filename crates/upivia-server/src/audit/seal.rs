//! The sealer: signs checkpoints of the chain head and appends them to the
//! checkpoint file (and its copy), off the request path. The worker calls
//! [`Sealer::seal`] on an interval; the server also seals once before it
//! serves and once after a clean stop, so only the entries written since
//! the latest seal are ever unsigned.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::checkpoint::{self, Checkpoint};
use super::{AuditError, AuditKey, AuditPublicKey, AuditReport, AuditSigningKey, GLOBAL_CHAIN};
use crate::clock::rfc3339;
use crate::store::GovernanceStore;

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
        let Some(last) = state.last() else {
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
        let head = store.audit_head().await?;
        let last = state.last();
        if head.seq == 0 || last.is_some_and(|l| l.seq == head.seq && l.head_hash == head.hash) {
            return Ok(None);
        }
        // The file's times never go back, even if the clock does.
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
            return Err(AuditError::BadCheckpoints {
                path: self.file.clone(),
                reason: format!("the next checkpoint {reason}"),
            });
        }
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

    /// The latest checkpoints, newest first, as lines of the file.
    pub async fn recent(&self, limit: usize) -> Vec<Value> {
        let state = self.state.lock().await;
        state
            .recent
            .iter()
            .rev()
            .take(limit)
            // Ed25519 signatures are deterministic: re-signing gives the
            // very line in the file.
            .filter_map(|c| serde_json::from_str(&c.sign(&self.signing)).ok())
            .collect()
    }

    /// Verifies the store with this server's keys and checkpoint file.
    pub async fn verify(&self, store: &dyn GovernanceStore) -> Result<AuditReport, AuditError> {
        // A seal in progress may have written the file but not yet the
        // database's record of it; waiting for it keeps the two in step.
        let _state = self.state.lock().await;
        super::verify(store, Some(&self.key), &self.public, &self.file).await
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
