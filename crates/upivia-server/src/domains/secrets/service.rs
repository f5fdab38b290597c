//! The rules of organisation secrets. An admin or the owner writes, lists
//! (names, versions and times; never values) and deletes them; nobody reads
//! a value back over the API: the platform opens it only to use it (a
//! private service's credential). Each write is a new version, sealed for
//! exactly that organisation, name and version, and audited without its
//! value.

use secrecy::SecretString;
use serde_json::json;

use super::super::DomainError;
use crate::governance::secrets::{self, RESERVED_PREFIX, reserved};
use crate::governance::trail;
use crate::ids::OrgId;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::SecretMeta;

pub use crate::governance::secrets::valid_name;

/// The largest value, in bytes.
pub const VALUE_MAX_BYTES: usize = 16 * 1024;

fn admin(user: &UserPrincipal) -> Result<(), DomainError> {
    if user.role >= Role::Admin {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!(
            "organisation secrets need the admin role; you are {}",
            user.role.as_str()
        )))
    }
}

/// Checked before the body is read.
pub fn may_manage(user: &UserPrincipal) -> Result<(), DomainError> {
    admin(user)
}

/// Writes `value` as the next version of `name`.
pub async fn put(
    platform: &Platform,
    user: &UserPrincipal,
    name: &str,
    value: SecretString,
) -> Result<SecretMeta, DomainError> {
    admin(user)?;
    if reserved(name) {
        return Err(DomainError::Invalid(format!(
            "invalid field name: names starting with {RESERVED_PREFIX:?} are the platform's own"
        )));
    }
    let audit = AuditEvent::new(&user.org_id, "secret.set", trail::user_actor(&user.user_id));
    Ok(secrets::write(platform, &OrgId::from(&user.org_id), name, &value, audit).await?)
}

pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Vec<SecretMeta>, DomainError> {
    admin(user)?;
    let mut all = platform
        .stores
        .secrets
        .secrets(&OrgId::from(&user.org_id))
        .await?;
    all.retain(|s| !reserved(&s.name));
    Ok(all)
}

pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    name: &str,
) -> Result<(), DomainError> {
    admin(user)?;
    if reserved(name) {
        return Err(DomainError::NotFound("secret"));
    }
    let audit = AuditEvent::new(
        &user.org_id,
        "secret.deleted",
        trail::user_actor(&user.user_id),
    )
    .with_details(json!({"name": name}));
    platform
        .stores
        .secrets
        .delete_secret(
            &OrgId::from(&user.org_id),
            name,
            platform.clock.now(),
            audit,
        )
        .await
        .map_err(DomainError::missing("secret"))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_are_shaped_like_variables() {
        for ok in ["STRIPE_KEY", "_x", "a.b-c_9", &"A".repeat(128)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "9lives",
            "-x",
            "a b",
            "a/b",
            "é",
            &"A".repeat(129),
            "a\u{0}",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
