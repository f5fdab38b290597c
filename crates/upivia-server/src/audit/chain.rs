//! Tamper evidence. Each entry's `hash` is SHA-256 over a canonical JSON
//! encoding of all its fields plus the previous entry's hash, so editing,
//! deleting or reordering a row breaks the link after it. That chain alone
//! can be recomputed by anyone who can write the database, so every entry
//! from `keyed_from` on also carries `mac = HMAC-SHA256(audit key, hash)`:
//! a rewritten entry cannot get a valid MAC without the key, and since the
//! hash commits to every earlier entry, each MAC vouches for the whole
//! chain up to it. What the chain cannot show by itself, entries cut off
//! the end, the signed checkpoints do (`checkpoint.rs`).
//!
//! Canonical encoding: a JSON object with keys in lexicographic order (the
//! order `serde_json::Map` keeps without `preserve_order`), no whitespace;
//! `details` is included as stored, re-encoded canonically. The MAC is not
//! part of it: the same hash serves entries from before and after keyed
//! chains, and the public chain stays checkable without the key.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::checkpoint::Checkpoint;
use super::keys::AuditKey;
use crate::clock::rfc3339;
use crate::model::AuditEntry;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain separation for what the audit key authenticates.
const MAC_CONTEXT: &[u8] = b"upivia audit entry v2\n";

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

fn mac_message(hash: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(MAC_CONTEXT.len() + hash.len());
    message.extend_from_slice(MAC_CONTEXT);
    message.extend_from_slice(hash.as_bytes());
    message
}

/// The MAC an entry with `hash` must carry.
pub fn entry_mac(key: &AuditKey, hash: &str) -> String {
    key.mac_hex(&mac_message(hash))
}

/// The first place where the chain does not hold. `id` is the entry's id,
/// `checkpoint line N` for a checkpoint, or empty for an entry that is
/// missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub id: String,
    pub reason: String,
}

/// What a chain is checked against.
#[derive(Clone, Debug)]
pub struct ChainRules {
    /// The audit key; without it MACs are checked for presence only.
    pub key: Option<AuditKey>,
    /// Entries from this seq on must carry a MAC, older ones must not.
    pub keyed_from: i64,
    /// Signed checkpoints of this chain, seq never decreasing.
    pub checkpoints: Vec<Checkpoint>,
}

/// Checks entries fed in `seq` order from the first. A verifier is a
/// state machine so the store can feed it page by page.
pub struct ChainVerifier<'r> {
    rules: &'r ChainRules,
    prev_hash: String,
    prev_seq: i64,
    prev_id: String,
    /// The next checkpoint to match.
    next_checkpoint: usize,
}

/// How far a verified chain reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The last entry's seq (0 for an empty chain).
    pub last_seq: i64,
}

impl<'r> ChainVerifier<'r> {
    pub fn new(rules: &'r ChainRules) -> ChainVerifier<'r> {
        ChainVerifier {
            rules,
            prev_hash: GENESIS_HASH.to_owned(),
            prev_seq: 0,
            prev_id: String::new(),
            next_checkpoint: 0,
        }
    }

    /// Entries accepted so far.
    pub fn checked(&self) -> i64 {
        self.prev_seq
    }

    pub fn feed(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        self.match_checkpoints()?;
        let broken = |reason: String| ChainBreak {
            seq: entry.seq,
            id: entry.id.clone(),
            reason,
        };
        if entry.seq != self.prev_seq + 1 {
            return Err(broken(format!(
                "sequence gap: expected {}, found {}",
                self.prev_seq + 1,
                entry.seq
            )));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(broken("prev_hash does not match the previous entry".into()));
        }
        if entry_hash(entry) != entry.hash {
            return Err(broken("hash does not match the entry's content".into()));
        }
        let keyed_from = self.rules.keyed_from;
        match (&entry.mac, entry.seq >= keyed_from) {
            (None, true) => {
                return Err(broken(format!(
                    "no MAC, but every entry from seq {keyed_from} on carries one: it was removed"
                )));
            }
            (Some(_), false) => {
                return Err(broken(format!(
                    "carries a MAC, but entries before seq {keyed_from} predate keyed chains"
                )));
            }
            (Some(mac), true) => {
                if let Some(key) = &self.rules.key
                    && !key.verify_hex(&mac_message(&entry.hash), mac)
                {
                    return Err(broken(
                        "MAC does not match: the entry was written or rewritten without the audit key"
                            .into(),
                    ));
                }
            }
            (None, false) => {}
        }
        self.prev_hash.clone_from(&entry.hash);
        self.prev_id.clone_from(&entry.id);
        self.prev_seq = entry.seq;
        Ok(())
    }

    /// Every checkpoint at the seq reached so far must name its hash.
    fn match_checkpoints(&mut self) -> Result<(), ChainBreak> {
        let checkpoints = &self.rules.checkpoints;
        while let Some(c) = checkpoints.get(self.next_checkpoint) {
            if c.seq > self.prev_seq {
                break;
            }
            if c.seq < self.prev_seq || c.head_hash != self.prev_hash {
                return Err(ChainBreak {
                    seq: c.seq,
                    id: self.prev_id.clone(),
                    reason: format!(
                        "hash differs from the head signed at {}: the chain was rewritten after that checkpoint",
                        c.time
                    ),
                });
            }
            self.next_checkpoint += 1;
        }
        Ok(())
    }

    /// Ends the walk: checkpoints past the last entry mean entries were cut
    /// off the end.
    pub fn finish(mut self) -> Result<Reach, ChainBreak> {
        self.match_checkpoints()?;
        if let Some(last) = self.rules.checkpoints.last()
            && last.seq > self.prev_seq
        {
            return Err(ChainBreak {
                seq: self.prev_seq + 1,
                id: String::new(),
                reason: format!(
                    "missing: the chain ends at seq {}, but a checkpoint signed at {} covers seq {}; entries {} to {} were deleted",
                    self.prev_seq,
                    last.time,
                    last.seq,
                    self.prev_seq + 1,
                    last.seq
                ),
            });
        }
        Ok(Reach {
            last_seq: self.prev_seq,
        })
    }
}

#[cfg(test)]
mod tests;
