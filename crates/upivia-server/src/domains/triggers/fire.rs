//! A webhook fire: `POST /triggers/{id}/fire` with no credentials but an
//! HMAC-SHA256 of the exact body bytes under the trigger's secret. The
//! signature is checked before the body is parsed, in constant time; only
//! then does anything about the trigger's state show (a cron trigger, a
//! disabled one). The fire payload fills the trigger's template and the
//! result is a service request of the trigger's agent. A delivery its
//! sender retries (the same `webhook-id` or `Idempotency-Key`) carries the
//! same idempotency key, so it is one request.

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::service::secret_name;
use crate::domains::automation::dispatch::{self, Dispatch, Dispatched};
use crate::domains::automation::template;
use crate::governance::secrets;
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::platform::Platform;
use crate::store::{RecordFire, StoreError, Trigger, TriggerKind};

#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error("trigger not found")]
    NotFound,
    #[error("the X-AgentWallet-Signature header is missing or does not match the body")]
    BadSignature,
    #[error("this is a cron trigger; only webhook triggers are fired over HTTP")]
    NotAWebhook,
    #[error("this trigger is disabled")]
    Disabled,
    #[error("the fire payload must be a JSON object (or empty)")]
    BadPayload,
    #[error("this delivery id was already used with another payload")]
    DeliveryMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `sha256=<hex>` (any case) as bytes.
fn signature_bytes(header: &str) -> Option<Vec<u8>> {
    let (scheme, hex_sig) = header.trim().split_once('=')?;
    if !scheme.eq_ignore_ascii_case("sha256") {
        return None;
    }
    hex::decode(hex_sig.trim()).ok()
}

fn signed(secret: &[u8], body: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// The idempotency key of a delivery: bounded and free of whatever the
/// sender put in its id.
fn delivery_key(trigger_id: &str, delivery: &str) -> String {
    let digest = Sha256::digest(delivery.as_bytes());
    format!("trigger-fire:{trigger_id}:{}", hex::encode(&digest[..16]))
}

pub async fn fire(
    platform: &Platform,
    trigger_id: &str,
    body: &[u8],
    signature: Option<&str>,
    delivery: Option<&str>,
) -> Result<Dispatched, FireError> {
    let trigger = platform
        .stores
        .triggers
        .trigger_for_fire(trigger_id)
        .await?
        .ok_or(FireError::NotFound)?;
    let org = OrgId::from(&trigger.org_id);
    let secret = secrets::open_private(
        platform,
        &org,
        &secret_name(&trigger.id),
        &trigger.sealed_secret,
    )
    .await?;
    let given = signature
        .and_then(signature_bytes)
        .ok_or(FireError::BadSignature)?;
    if !signed(secret.expose_secret().as_bytes(), body, &given) {
        return Err(FireError::BadSignature);
    }
    if trigger.kind == TriggerKind::Cron {
        return Err(FireError::NotAWebhook);
    }
    if trigger.disabled {
        return Err(FireError::Disabled);
    }
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| FireError::BadPayload)?
    };
    if !payload.is_object() {
        return Err(FireError::BadPayload);
    }
    let idempotency_key = delivery
        .filter(|d| !d.is_empty())
        .map(|d| delivery_key(&trigger.id, d));
    let dispatched = dispatch::dispatch(
        platform,
        Dispatch {
            org_id: org,
            agent_id: AgentId::from(&trigger.agent_id),
            service: trigger.service.clone(),
            operation: trigger.operation.clone(),
            payload: template::fill(&trigger.payload_template, &payload),
            idempotency_key,
            metadata: json!({"trigger_id": trigger.id, "trigger_kind": "webhook"}),
        },
    )
    .await?;
    if dispatched.reason_code.as_deref() == Some("idempotency_key_payload_mismatch") {
        return Err(FireError::DeliveryMismatch);
    }
    // A redelivery replays the first answer; the trigger recorded it then.
    if !dispatched.replayed {
        record(platform, &trigger, None, &dispatched).await?;
    }
    Ok(dispatched)
}

/// Notes the fire on the trigger; a fire that reached no service request
/// gets an audit entry of its own (`trigger.dispatch_refused`).
pub(super) async fn record(
    platform: &Platform,
    trigger: &Trigger,
    tick: Option<time::OffsetDateTime>,
    dispatched: &Dispatched,
) -> Result<(), StoreError> {
    let audit = (!dispatched.reached_pipeline()).then(|| {
        AuditEvent::new(
            &trigger.org_id,
            "trigger.dispatch_refused",
            format!("trigger:{}", trigger.id),
        )
        .with_agent(&trigger.agent_id)
        .with_details(json!({
            "trigger_id": trigger.id,
            "operation": format!("{}.{}", trigger.service, trigger.operation),
            "dispatch_status": dispatched.status,
            "reason_code": dispatched.reason_code,
            "message": dispatched.message,
            "scheduled_for": tick.map(crate::clock::rfc3339),
        }))
    });
    platform
        .stores
        .triggers
        .record_fire(RecordFire {
            id: trigger.id.clone(),
            tick,
            request_id: dispatched.request_id.clone(),
            dispatch_status: dispatched.status.clone(),
            now: platform.clock.now(),
            audit,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_over_the_exact_bytes() {
        let body = br#"{"a":1,"b":"x"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"trgsec_k").unwrap();
        mac.update(body);
        let hex_sig = hex::encode(mac.finalize().into_bytes());
        let good = signature_bytes(&format!("sha256={hex_sig}")).unwrap();
        assert!(signed(b"trgsec_k", body, &good));
        let upper = signature_bytes(&format!("SHA256={}", hex_sig.to_uppercase())).unwrap();
        assert!(signed(b"trgsec_k", body, &upper));
        // The same JSON re-serialised with a space is other bytes.
        assert!(!signed(b"trgsec_k", br#"{"a": 1,"b":"x"}"#, &good));
        assert!(!signed(b"other", body, &good));
        assert!(signature_bytes(&hex_sig).is_none());
        assert!(signature_bytes("sha1=00").is_none());
        assert!(signature_bytes("sha256=zz").is_none());
    }

    #[test]
    fn delivery_keys_are_bounded_and_per_trigger() {
        let long = "x".repeat(10_000);
        let a = delivery_key("trg_1", &long);
        assert!(a.len() < 80);
        assert_ne!(a, delivery_key("trg_2", &long));
        assert_eq!(a, delivery_key("trg_1", &long));
    }
}
