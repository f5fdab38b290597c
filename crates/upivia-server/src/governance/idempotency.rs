//! Idempotency keys, with Stripe's semantics: scoped to the agent; the same
//! key with the same request replays the stored answer; with a different
//! request it is a conflict; while the first is still being decided, a
//! retry is told so instead of running twice. Requests that fail
//! validation store nothing, so the caller may fix them and retry. Keys
//! are forgotten after the configured retention, by a worker.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::GovernanceError;
use crate::platform::Platform;
use crate::store::{IdempotencyRecord, StoredResponse};

/// Keys forgotten per store call, and calls per worker pass: bounded work
/// per pass, so the writer never stalls on a backlog.
const PURGE_CHUNK: u32 = 1000;
const PURGE_CHUNKS_PER_PASS: usize = 10;

/// Forgets keys older than the retention, which is never shorter than an
/// approval can stay open plus a day: a request parked for approval keeps
/// its key while it can still be decided. Returns how many were forgotten.
pub async fn purge_expired(platform: &Platform) -> Result<usize, GovernanceError> {
    let settings = &platform.settings;
    let retention = settings
        .idempotency_retention
        .max(settings.approval_ttl + std::time::Duration::from_secs(24 * 3600));
    let retention = time::Duration::try_from(retention).unwrap_or(time::Duration::MAX);
    let cutoff = platform.clock.now().saturating_sub(retention);
    let mut purged = 0;
    for _ in 0..PURGE_CHUNKS_PER_PASS {
        let n = platform
            .stores
            .governance
            .purge_idempotency_keys(cutoff, PURGE_CHUNK)
            .await?;
        purged += n;
        if n < PURGE_CHUNK as usize {
            break;
        }
    }
    Ok(purged)
}

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// What decides "the same request": service, operation, payload and
/// metadata, compared as canonical JSON (key order and whitespace do not
/// matter; `null` metadata equals absent metadata).
pub fn fingerprint(
    service: &str,
    operation: &str,
    payload: &Value,
    metadata: Option<&Value>,
) -> String {
    let canonical = json!({
        "service": service,
        "operation": operation,
        "payload": payload,
        "metadata": metadata.filter(|m| !m.is_null()),
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The digest an approval is bound to: the exact payload of the request.
pub fn payload_digest(service: &str, operation: &str, payload: &Value) -> String {
    let canonical = json!({"service": service, "operation": operation, "payload": payload});
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

pub fn validate_key(key: &str) -> Result<(), GovernanceError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(GovernanceError::InvalidRequest(format!(
            "idempotency key must be 1 to {MAX_KEY_LEN} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(GovernanceError::InvalidRequest(
            "idempotency key must not contain control characters".into(),
        ));
    }
    Ok(())
}

/// What to do with an existing record for the key.
pub fn replay(
    existing: IdempotencyRecord,
    fingerprint: &str,
) -> Result<StoredResponse, GovernanceError> {
    if existing.fingerprint != fingerprint {
        return Err(GovernanceError::IdempotencyMismatch);
    }
    existing.response.ok_or(GovernanceError::IdempotencyInUse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_key_order_and_null_metadata() {
        let a: Value = serde_json::from_str(r#"{"to":"x","subject":"s"}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "subject" : "s", "to" : "x" }"#).unwrap();
        assert_eq!(
            fingerprint("email", "send", &a, None),
            fingerprint("email", "send", &b, Some(&Value::Null))
        );
        assert_ne!(
            fingerprint("email", "send", &a, None),
            fingerprint("email", "send", &a, Some(&json!({"k": 1})))
        );
        assert_ne!(
            fingerprint("email", "send", &a, None),
            fingerprint("sms", "send", &a, None)
        );
    }

    #[test]
    fn replay_distinguishes_mismatch_and_in_flight() {
        let record = |response| IdempotencyRecord {
            fingerprint: "f".into(),
            request_id: "req_1".into(),
            response,
        };
        assert!(matches!(
            replay(record(None), "g"),
            Err(GovernanceError::IdempotencyMismatch)
        ));
        assert!(matches!(
            replay(record(None), "f"),
            Err(GovernanceError::IdempotencyInUse)
        ));
        let stored = StoredResponse {
            status: 200,
            body: json!({"status": "executed"}),
        };
        assert_eq!(replay(record(Some(stored.clone())), "f").unwrap(), stored);
    }

    #[test]
    fn keys_are_bounded() {
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key("a\nb").is_err());
        assert!(validate_key(&"k".repeat(255)).is_ok());
    }
}
