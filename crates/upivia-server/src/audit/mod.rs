//! The audit trail: a keyed hash chain over every decision, and signed
//! checkpoints of its head kept outside the database. `chain` computes and
//! checks links; `keys` holds the audit (HMAC) and signing (Ed25519) keys;
//! `checkpoint` is the signed checkpoint format and file; `seal` writes
//! checkpoints; `verify` checks a database against its key and checkpoints.
//! The store appends entries in the transaction of the change they
//! describe; `api/audit_logs.rs` queries them.

pub mod chain;
pub mod checkpoint;
pub mod keys;
pub mod seal;
pub mod verify;

use std::path::PathBuf;

pub use chain::{ChainBreak, ChainRules, ChainVerifier, GENESIS_HASH, entry_hash, entry_mac};
pub use checkpoint::{Checkpoint, GLOBAL_CHAIN};
pub use keys::{AuditKey, AuditPublicKey, AuditSigningKey};
pub use seal::Sealer;
pub use verify::{AuditReport, verify};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("could not read or write the key file {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {path} is unusable: {reason}")]
    MalformedKey { path: PathBuf, reason: String },
    #[error(
        "the audit key ({given}) is not the one this database's chain was written with ({recorded}); \
         set UPIVIA_AUDIT_KEY or --audit-key-file to that key"
    )]
    KeyMismatch { recorded: String, given: String },
    #[error("could not read or write the checkpoint file {path}")]
    CheckpointFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the checkpoint file {path} does not verify: {reason}")]
    BadCheckpoints { path: PathBuf, reason: String },
    #[error(
        "the audit chain does not reach its last signed checkpoint (seq {seq}, signed at {time}): {reason}; \
         if the database was restored from an older backup, move {path} aside (it records what was lost) and start again"
    )]
    Behind {
        seq: i64,
        time: String,
        reason: String,
        path: PathBuf,
    },
    #[error(
        "the checkpoint signing key ({given}) is not the one this database's checkpoints are signed with ({recorded}); \
         every node signs with the same key: set --audit-signing-key-file (UPIVIA_AUDIT_SIGNING_KEY_FILE) to that key"
    )]
    SigningKeyMismatch { recorded: String, given: String },
    #[error("the checkpoints the database records (audit_checkpoints) do not verify: {reason}")]
    BadRecordedCheckpoints { reason: String },
    #[error("the database has no record of its audit chain")]
    NoChainRecord,
    #[error(transparent)]
    Store(#[from] StoreError),
}
