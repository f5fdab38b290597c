//! Signing outbound webhooks the Standard Webhooks way: each delivery
//! carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`.
//!
//! The secret sits behind [`WebhookSigner`] so the per-organisation secrets
//! to come (stored encrypted, rotated over the API) can replace the one
//! from the configuration without touching the delivery code.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookSecret;

/// Produces the `webhook-signature` header value for one delivery attempt.
pub trait WebhookSigner: Send + Sync + 'static {
    fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String;
}

/// One secret for every organisation, from `UPIVIA_WEBHOOK_SIGNING_SECRET`.
#[derive(Debug)]
pub struct StaticSigner {
    secret: WebhookSecret,
}

impl StaticSigner {
    pub fn new(secret: WebhookSecret) -> Self {
        StaticSigner { secret }
    }
}

impl WebhookSigner for StaticSigner {
    fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        sign(self.secret.key(), id, timestamp, body)
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation's own test vector.
    #[test]
    fn matches_the_reference_implementation() {
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            StaticSigner::new(secret).signature(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                body
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }
}
