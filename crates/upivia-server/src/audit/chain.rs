//! Tamper evidence. Each entry's hash covers a canonical JSON encoding of
//! all its fields plus the previous entry's hash, so editing, deleting or
//! reordering any row breaks every link after it.
//!
//! Canonical encoding: a JSON object with keys in lexicographic order (the
//! order `serde_json::Map` keeps without `preserve_order`), no whitespace;
//! `details` is included as stored, re-encoded canonically.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clock::rfc3339;
use crate::model::AuditEntry;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn canonical(entry: &AuditEntry) -> String {
    let e = &entry.event;
    let value = json!({
        "seq": entry.seq,
        "id": entry.id,
        "org_id": e.org_id,
        "event_type": e.event_type,
        "actor": e.actor,
        "agent_id": e.agent_id,
        "service": e.service,
        "operation": e.operation,
        "status": e.status,
        "request_id": e.request_id,
        "cost_cents": e.cost.map(|c| c.get()),
        "details": e.details,
        "created_at": rfc3339(entry.created_at),
        "prev_hash": entry.prev_hash,
    });
    // `Value`'s Display is compact and its maps are sorted: canonical.
    value.to_string()
}

/// The hash an entry must carry, given its other fields.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    hasher.update(canonical(entry).as_bytes());
    hex::encode(hasher.finalize())
}

/// The first place where the chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub id: String,
    pub reason: String,
}

/// Checks entries given in `seq` order, starting from `prev` (the hash of
/// the entry before the first one given, or [`GENESIS_HASH`]). Returns the
/// last hash on success so long chains can be checked in pages.
pub fn verify_chain<'a>(
    prev: &str,
    prev_seq: i64,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<(String, i64), ChainBreak> {
    let mut prev = prev.to_owned();
    let mut prev_seq = prev_seq;
    for entry in entries {
        let broken = |reason: String| ChainBreak {
            seq: entry.seq,
            id: entry.id.clone(),
            reason,
        };
        if entry.seq != prev_seq + 1 {
            return Err(broken(format!(
                "sequence gap: expected {}, found {}",
                prev_seq + 1,
                entry.seq
            )));
        }
        if entry.prev_hash != prev {
            return Err(broken("prev_hash does not match the previous entry".into()));
        }
        if entry_hash(entry) != entry.hash {
            return Err(broken("hash does not match the entry's content".into()));
        }
        prev = entry.hash.clone();
        prev_seq = entry.seq;
    }
    Ok((prev, prev_seq))
}

#[cfg(test)]
mod tests;
