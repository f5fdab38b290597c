//! The audit trail: a hash chain over every decision. `chain` computes and
//! checks hashes; the store appends entries in the transaction of the change
//! they describe; `api/audit_logs.rs` queries them.

pub mod chain;

pub use chain::{ChainBreak, GENESIS_HASH, entry_hash, verify_chain};
