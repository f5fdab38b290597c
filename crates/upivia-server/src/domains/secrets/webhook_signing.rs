//! An organisation's webhook signing secret: the key its real
//! `notification.webhook` deliveries are signed with (Standard Webhooks).
//! The owner rotates it and reads the new value in that one answer; admins
//! see only whether one is set and when. It is kept as a reserved
//! organisation secret, so it is sealed, versioned and audited like any
//! other, and the API that lists secrets never shows it.

use base64::Engine as _;
use rand::Rng;
use secrecy::SecretString;

use super::super::DomainError;
use crate::governance::secrets;
use crate::governance::trail;
use crate::ids::OrgId;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::SecretMeta;

/// Where the secret is kept among the organisation's secrets.
pub use crate::providers::signing::ORG_SECRET_NAME as SECRET_NAME;

/// The random bytes behind `whsec_`; Standard Webhooks asks for 24 to 64.
const KEY_BYTES: usize = 32;

/// A new rotation's value, shown once.
pub struct Rotated {
    pub meta: SecretMeta,
    pub secret: SecretString,
}

fn fresh() -> SecretString {
    let bytes: [u8; KEY_BYTES] = rand::rng().random();
    SecretString::from(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Makes a new secret; the previous one stops signing at once.
pub async fn rotate(platform: &Platform, user: &UserPrincipal) -> Result<Rotated, DomainError> {
    if user.role != Role::Owner {
        return Err(DomainError::Forbidden(format!(
            "only the owner rotates the webhook signing secret; you are {}",
            user.role.as_str()
        )));
    }
    let secret = fresh();
    let audit = AuditEvent::new(
        &user.org_id,
        "webhook.signing_secret.rotated",
        trail::user_actor(&user.user_id),
    );
    let meta = secrets::write(
        platform,
        &OrgId::from(&user.org_id),
        SECRET_NAME,
        &secret,
        audit,
    )
    .await?;
    Ok(Rotated { meta, secret })
}

/// When the secret was made and its version; `None` before the first
/// rotation. Admins and the owner.
pub async fn describe(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Option<SecretMeta>, DomainError> {
    if user.role < Role::Admin {
        return Err(DomainError::Forbidden(format!(
            "the webhook signing secret's details need the admin role; you are {}",
            user.role.as_str()
        )));
    }
    let org = OrgId::from(&user.org_id);
    Ok(platform
        .stores
        .secrets
        .secrets(&org)
        .await?
        .into_iter()
        .find(|s| s.name == SECRET_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookSecret;
    use secrecy::ExposeSecret;

    #[test]
    fn fresh_secrets_are_standard_webhooks_keys_and_differ() {
        let a = fresh();
        let b = fresh();
        assert_ne!(a.expose_secret(), b.expose_secret());
        let parsed = WebhookSecret::parse(a.expose_secret()).unwrap();
        assert_eq!(parsed.key().len(), KEY_BYTES);
    }
}
