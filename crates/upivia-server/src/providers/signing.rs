//! Signing outbound webhooks the Standard Webhooks way: each delivery
//! carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}">`.
//!
//! Each organisation signs with its own secret, which its owner rotates
//! over the API (`domains/secrets/webhook_signing.rs`) and which is kept
//! sealed among its secrets under [`ORG_SECRET_NAME`]. An organisation
//! that has none is signed with `UPIVIA_WEBHOOK_SIGNING_SECRET` where one is
//! configured; with neither, nothing is sent: an unsigned delivery would
//! teach receivers to skip the check.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

use super::{ProviderCall, ProviderError};
use crate::config::WebhookSecret;

/// The reserved organisation secret that holds the signing secret.
pub const ORG_SECRET_NAME: &str = "upivia.webhook_signing_secret";

/// Finds the key a delivery is signed with.
#[derive(Clone, Debug, Default)]
pub struct SigningKeys {
    fallback: Option<WebhookSecret>,
}

impl SigningKeys {
    pub fn new(fallback: Option<WebhookSecret>) -> Self {
        SigningKeys { fallback }
    }

    pub fn has_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// The calling organisation's secret, else the configured one.
    pub async fn key_for(&self, call: &ProviderCall<'_>) -> Result<WebhookSecret, ProviderError> {
        if let Some(own) = call.secrets.secret(call.org_id, ORG_SECRET_NAME).await? {
            return WebhookSecret::parse(own.expose_secret()).map_err(|_| {
                ProviderError::Unavailable(
                    "the organisation's webhook signing secret is unreadable; its owner rotates it \
                     with POST /api/v1/webhooks/signing-secret"
                        .into(),
                )
            });
        }
        self.fallback.clone().ok_or_else(|| {
            ProviderError::Adapter(
                "notification.webhook: the organisation has no webhook signing secret; its owner \
                 creates one with POST /api/v1/webhooks/signing-secret"
                    .into(),
            )
        })
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
            sign(
                secret.key(),
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                body
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }
}
