//! Checking a database's chain against the audit key and the signed
//! checkpoints. The same walk serves `upivia audit verify`, with the keys
//! from the data directory or only a public key, and the admin endpoint.
//!
//! It fails when a row was edited (even with its hash, or the whole plain
//! chain after it, recomputed: the MAC, and any checkpoint after it, no
//! longer match), a row is missing from the middle (a gap) or from the end
//! below the latest checkpoint, a MAC was stripped, a checkpoint does not
//! verify or was signed by another key, or the checkpoint file is missing
//! or older than the database records, while the chain has entries.
//!
//! On PostgreSQL the database records every node's checkpoints, and those
//! are the ones checked, together with a node's file when one is given
//! (each line in it must be reached too: a line cut from the database's
//! record but kept in a file still counts).
//!
//! What it cannot see: entries cut off the end after the latest checkpoint
//! (the interval is short, and a clean stop signs one last checkpoint), and
//! without the audit key, entries after the latest checkpoint rewritten
//! with the plain chain recomputed.

use std::path::{Path, PathBuf};

use super::checkpoint::{self, Checkpoint};
use super::{AuditError, AuditKey, AuditPublicKey, ChainBreak, ChainRules, GLOBAL_CHAIN};
use crate::store::GovernanceStore;

/// What a verification found.
#[derive(Clone, Debug)]
pub struct AuditReport {
    /// Entries that passed every check before the first break.
    pub entries_checked: i64,
    /// Checkpoints whose signatures verified.
    pub checkpoints_checked: usize,
    pub last_checkpoint: Option<Checkpoint>,
    /// Entries after the latest checkpoint: covered by their MACs when
    /// `keyed`, by nothing signed otherwise.
    pub unsigned_entries: i64,
    /// Whether MACs were checked (the audit key was at hand).
    pub keyed: bool,
    pub first_break: Option<ChainBreak>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Where the checkpoints checked came from, for the messages.
enum Record<'a> {
    File { path: &'a Path, present: bool },
    Database,
}

impl Record<'_> {
    fn empty(&self) -> String {
        match self {
            Record::File {
                path,
                present: true,
            } => format!("the checkpoint file {} is empty", path.display()),
            Record::File { path, .. } => {
                format!("there is no checkpoint file at {}", path.display())
            }
            Record::Database => {
                "the database's checkpoint record (audit_checkpoints) is empty".into()
            }
        }
    }

    fn older(&self, seq: i64, recorded: &str) -> String {
        match self {
            Record::File { .. } => format!(
                "the checkpoint file ends at seq {seq}, but {recorded}: the file was replaced by an older copy"
            ),
            Record::Database => format!(
                "the recorded checkpoints end at seq {seq}, but {recorded}: checkpoints were deleted"
            ),
        }
    }
}

async fn read_file(
    path: &Path,
    public: &AuditPublicKey,
) -> Result<Result<checkpoint::CheckpointLog, ChainBreak>, AuditError> {
    let (owned, public) = (PathBuf::from(path), public.clone());
    tokio::task::spawn_blocking(move || checkpoint::read_log(&owned, &public, GLOBAL_CHAIN))
        .await
        .map_err(|e| AuditError::Store(crate::store::StoreError::Other(Box::new(e))))?
        .map_err(|source| AuditError::CheckpointFile {
            path: path.to_owned(),
            source,
        })
}

/// Verifies the chain in `store`. `key` is the audit key (`None` checks
/// only what the public key can: signatures, the plain chain, and that it
/// reaches every signed head). `checkpoint_file` is the record where the
/// store keeps none (SQLite), an extra one where it does (PostgreSQL).
pub async fn verify(
    store: &dyn GovernanceStore,
    key: Option<&AuditKey>,
    public: &AuditPublicKey,
    checkpoint_file: Option<&Path>,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        entries_checked: 0,
        checkpoints_checked: 0,
        last_checkpoint: None,
        unsigned_entries: 0,
        keyed: key.is_some(),
        first_break: None,
    };
    // The database's record first: a server seals the file before it
    // records that, so a seal landing meanwhile leaves the file ahead of
    // the record read here, never behind it.
    let state = store.audit_chain().await?;
    let recorded = store.audit_checkpoints(None).await?;
    let file = match checkpoint_file {
        Some(path) => read_file(path, public).await?,
        None => Ok(checkpoint::CheckpointLog::default()),
    };
    let (log, record) = match recorded {
        None => {
            let record = match checkpoint_file {
                Some(path) => Record::File {
                    path,
                    present: file.as_ref().is_ok_and(|l| l.present),
                },
                None => Record::Database,
            };
            (file, record)
        }
        Some(lines) => {
            let log = checkpoint::check_lines(&lines, "recorded checkpoint", public, GLOBAL_CHAIN)
                .and_then(|table| {
                    file.map(|file| checkpoint::CheckpointLog {
                        present: true,
                        checkpoints: checkpoint::merge(table.checkpoints, file.checkpoints),
                    })
                });
            (log, Record::Database)
        }
    };
    let log = match log {
        Ok(log) => log,
        Err(brk) => {
            report.first_break = Some(brk);
            return Ok(report);
        }
    };
    report.checkpoints_checked = log.checkpoints.len();
    report.last_checkpoint = log.checkpoints.last().cloned();
    let Some(state) = state else {
        report.first_break = Some(ChainBreak {
            seq: 0,
            id: String::new(),
            reason: "the database's record of its audit chain (audit_chains) was deleted".into(),
        });
        return Ok(report);
    };
    // Signed beats stored: the database's copy is only compared.
    let keyed_from = match log.checkpoints.first() {
        Some(signed) if signed.keyed_from != state.keyed_from => {
            report.first_break = Some(ChainBreak {
                seq: state.keyed_from.min(signed.keyed_from),
                id: String::new(),
                reason: format!(
                    "the database says entries carry MACs from seq {}, the signed checkpoints say from seq {}",
                    state.keyed_from, signed.keyed_from
                ),
            });
            return Ok(report);
        }
        Some(signed) => signed.keyed_from,
        None => state.keyed_from,
    };
    let rules = ChainRules {
        key: key.cloned(),
        keyed_from,
        checkpoints: log.checkpoints,
    };
    // Read before the walk: a running server only moves the head on, so
    // the walk reaches at least this far.
    let head = store.audit_head().await?;
    let walked = store.verify_audit(rules).await?;
    report.entries_checked = walked.entries_checked;
    if let Some(brk) = walked.first_break {
        report.first_break = Some(brk);
        return Ok(report);
    }
    let last_seq = walked.last_seq.unwrap_or(0);
    let signed_seq = report.last_checkpoint.as_ref().map_or(0, |c| c.seq);
    report.unsigned_entries = last_seq - signed_seq;
    report.first_break = coverage_break(last_seq, report.last_checkpoint.as_ref(), &record, &state);
    if report.first_break.is_none() {
        report.first_break = head_break(store, &head, last_seq).await?;
    }
    Ok(report)
}

/// The entries after the last checkpoint have only the database's record
/// of the head to answer for them: a tail cut there shows as a head past
/// the last entry, or one whose hash is not the entry's.
async fn head_break(
    store: &dyn GovernanceStore,
    head: &crate::store::AuditHead,
    last_seq: i64,
) -> Result<Option<ChainBreak>, AuditError> {
    if head.seq > last_seq {
        let first = last_seq + 1;
        let gone = if head.seq == first {
            format!("entry {first} was deleted")
        } else {
            format!("entries {first} to {} were deleted", head.seq)
        };
        return Ok(Some(ChainBreak {
            seq: first,
            id: String::new(),
            reason: format!(
                "the database records its head at entry {}, the last entry is {last_seq}: {gone}",
                head.seq
            ),
        }));
    }
    if head.seq > 0 && store.audit_hash_at(head.seq).await?.as_deref() != Some(head.hash.as_str()) {
        return Ok(Some(ChainBreak {
            seq: head.seq,
            id: String::new(),
            reason: format!(
                "the database's record of its head (entry {}) does not match that entry's hash",
                head.seq
            ),
        }));
    }
    Ok(None)
}

/// The rules about the checkpoint file itself: a chain with entries needs
/// one (every start of the server signs the head before serving, so only
/// a database from before checkpoints, or a first start that crashed
/// before it, lacks one), and it must not be older than what the database
/// records having written.
fn coverage_break(
    last_seq: i64,
    latest: Option<&Checkpoint>,
    record: &Record<'_>,
    state: &crate::store::AuditChainState,
) -> Option<ChainBreak> {
    let recorded = state.checkpoint_seq.unwrap_or(0);
    let recorded_note = || {
        format!(
            "the database records {} checkpoints, the latest of seq {} at {}",
            state.checkpoints,
            recorded,
            state.checkpoint_at.as_deref().unwrap_or("?")
        )
    };
    match latest {
        None if last_seq > 0 || state.checkpoints > 0 => {
            let file = record.empty();
            let why = if state.checkpoints > 0 {
                format!("{}: it was deleted or replaced", recorded_note())
            } else {
                "start the server once to sign the current head if this database predates checkpoints"
                    .into()
            };
            Some(ChainBreak {
                seq: 1,
                id: String::new(),
                reason: format!("no signed checkpoint covers the chain: {file}; {why}"),
            })
        }
        Some(c) if c.seq < recorded => Some(ChainBreak {
            seq: c.seq + 1,
            id: String::new(),
            reason: record.older(c.seq, &recorded_note()),
        }),
        _ => None,
    }
}
