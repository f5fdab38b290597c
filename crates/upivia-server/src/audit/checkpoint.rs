//! Signed checkpoints of the chain head, kept outside the database.
//!
//! A checkpoint says "at `time`, chain `chain` had `seq` entries and its
//! last hash was `head_hash`; entries from `keyed_from` on carry a MAC",
//! signed with the Ed25519 signing key. The checkpoint file holds one JSON
//! object a line, appended and fsynced, never rewritten:
//!
//! ```text
//! {"chain":"global","head_hash":"…","key_id":"ed25519:…","keyed_from":1,"seq":42,"sig":"…","time":"…","v":1}
//! ```
//!
//! The signature covers `CONTEXT` followed by the canonical JSON (sorted
//! keys, no whitespace) of every field but `sig`, so a line re-encoded by
//! another tool still verifies, and a checkpoint cannot be mistaken for
//! anything else the key might sign.

use std::io::{BufRead, BufReader};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ChainBreak;
use super::keys::{AuditPublicKey, AuditSigningKey};

/// Domain separation for what the signing key signs.
const CONTEXT: &[u8] = b"upivia audit checkpoint v1\n";

/// The one chain of a database (it spans every organisation), on SQLite
/// and on PostgreSQL alike.
pub const GLOBAL_CHAIN: &str = "global";

/// What is signed. Unknown fields are refused: a field the signer did not
/// mean to sign is not one to trust.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version, 1.
    pub v: u32,
    pub chain: String,
    /// Entries in the chain (the head's seq; 0 = empty).
    pub seq: i64,
    /// The head entry's `hash` (the plain SHA-256 link, which anyone can
    /// recompute from the rows).
    pub head_hash: String,
    /// The first seq that carries a MAC: entries before it predate keyed
    /// chains. Signed, so stripping MACs off newer entries is caught.
    pub keyed_from: i64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Which key signed it (`AuditPublicKey::id`).
    pub key_id: String,
}

impl Checkpoint {
    fn signed_bytes(&self) -> Vec<u8> {
        let canonical = serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default();
        let mut bytes = CONTEXT.to_vec();
        bytes.extend_from_slice(canonical.as_bytes());
        bytes
    }

    /// The checkpoint as a line of the file (no newline).
    pub fn sign(&self, key: &AuditSigningKey) -> String {
        let sig = STANDARD.encode(key.sign(&self.signed_bytes()).to_bytes());
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("sig".into(), Value::String(sig));
        }
        value.to_string()
    }

    /// Parses one line and checks its signature under `public`.
    pub fn open(line: &str, public: &AuditPublicKey) -> Result<Checkpoint, String> {
        let mut value: Value =
            serde_json::from_str(line).map_err(|e| format!("not a JSON checkpoint: {e}"))?;
        let sig = match value.as_object_mut().and_then(|m| m.remove("sig")) {
            Some(Value::String(sig)) => sig,
            _ => return Err("the checkpoint has no signature".into()),
        };
        let checkpoint: Checkpoint =
            serde_json::from_value(value).map_err(|e| format!("not a checkpoint: {e}"))?;
        if checkpoint.v != 1 {
            return Err(format!("unknown checkpoint version {}", checkpoint.v));
        }
        if checkpoint.key_id != public.id() {
            return Err(format!(
                "signed by another key ({}, expected {})",
                checkpoint.key_id,
                public.id()
            ));
        }
        let sig = STANDARD
            .decode(sig)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or("the signature is not an Ed25519 signature")?;
        if !public.verify(&checkpoint.signed_bytes(), &sig) {
            return Err("the signature does not verify: the checkpoint was altered".into());
        }
        Ok(checkpoint)
    }
}

/// A checkpoint file, read and checked.
#[derive(Debug, Default)]
pub struct CheckpointLog {
    /// The file exists (it may still be empty).
    pub present: bool,
    /// The checkpoints of the chain asked for, in file order.
    pub checkpoints: Vec<Checkpoint>,
}

/// Reads the checkpoint file at `path` and keeps `chain`'s checkpoints.
/// Every line must verify under `public`; within a chain, seqs and times
/// never go back and one seq never has two heads. The first line that
/// breaks a rule is returned as the break (its `id` names the line).
/// Reading fails (`Err(Ok)`) only when the file cannot be read.
pub fn read_log(
    path: &Path,
    public: &AuditPublicKey,
    chain: &str,
) -> Result<Result<CheckpointLog, ChainBreak>, std::io::Error> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Ok(CheckpointLog::default()));
        }
        Err(e) => return Err(e),
    };
    let lines = BufReader::new(file)
        .lines()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(check_lines(&lines, "checkpoint line", public, chain))
}

/// The same rules over lines from elsewhere (the database's record, on
/// PostgreSQL); a break's `id` is `<label> N`, N counting from 1.
pub fn check_lines(
    lines: &[String],
    label: &str,
    public: &AuditPublicKey,
    chain: &str,
) -> Result<CheckpointLog, ChainBreak> {
    let mut log = CheckpointLog {
        present: true,
        checkpoints: Vec::new(),
    };
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let broken = |seq: i64, reason: String| ChainBreak {
            seq,
            id: format!("{label} {number}"),
            reason,
        };
        let checkpoint = match Checkpoint::open(line, public) {
            Ok(c) => c,
            Err(reason) => {
                let seq = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v["seq"].as_i64())
                    .unwrap_or(0);
                return Err(broken(seq, reason));
            }
        };
        if checkpoint.chain != chain {
            continue;
        }
        if let Some(prev) = log.checkpoints.last()
            && let Some(reason) = out_of_order(prev, &checkpoint)
        {
            return Err(broken(checkpoint.seq, reason));
        }
        log.checkpoints.push(checkpoint);
    }
    Ok(log)
}

/// One chain's checkpoints from two records of it (the database's and a
/// node's file, each already checked), in seq order, each once. A line in
/// one and not the other is kept: the chain must reach it all the same.
pub fn merge(a: Vec<Checkpoint>, b: Vec<Checkpoint>) -> Vec<Checkpoint> {
    let mut all = a;
    for c in b {
        if !all.contains(&c) {
            all.push(c);
        }
    }
    all.sort_by(|x, y| (x.seq, &x.time).cmp(&(y.seq, &y.time)));
    all
}

/// Why `next` cannot follow `prev` in one chain's checkpoints, if it cannot.
pub(crate) fn out_of_order(prev: &Checkpoint, next: &Checkpoint) -> Option<String> {
    if next.seq < prev.seq {
        return Some(format!(
            "goes back from seq {} to seq {}: checkpoints were reordered or the chain was rebuilt",
            prev.seq, next.seq
        ));
    }
    if next.seq == prev.seq && next.head_hash != prev.head_hash {
        return Some(format!(
            "a second head for seq {}: the chain was rewritten after it was signed",
            next.seq
        ));
    }
    if next.time < prev.time {
        return Some("its time goes back".into());
    }
    if next.keyed_from != prev.keyed_from {
        return Some(format!(
            "keyed_from changed from {} to {}",
            prev.keyed_from, next.keyed_from
        ));
    }
    None
}

#[cfg(test)]
mod tests;
