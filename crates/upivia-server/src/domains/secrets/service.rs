//! The rules of organisation secrets. An admin or the owner writes, lists
//! (names, versions and times; never values) and deletes them; nobody reads
//! a value back over the API: the platform opens it only to use it (a
//! private service's credential). Each write is a new version, sealed for
//! exactly that organisation, name and version, and audited without its
//! value.

use secrecy::SecretString;
use serde_json::json;

use super::super::DomainError;
use crate::governance::trail;
use crate::ids::OrgId;
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{PutSecret, SecretMeta, StoreError};
use crate::vault::DataKey;

/// A name: a letter or `_` first, then letters, digits, `_`, `-`, `.`; at
/// most 128 characters (an environment variable's shape, so the same names
/// work in a configuration file).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

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

/// The organisation's data key, made (and stored wrapped) on first use.
async fn data_key(platform: &Platform, org_id: &OrgId) -> Result<DataKey, DomainError> {
    let (_, candidate) = platform.vault.new_data_key(org_id.as_str());
    let wrapped = platform
        .stores
        .secrets
        .data_key(org_id, candidate, platform.clock.now())
        .await?;
    platform
        .vault
        .open_data_key(org_id.as_str(), &wrapped)
        .map_err(|e| {
            tracing::error!(org_id = %org_id.as_str(), error = %e, "an organisation's data key does not open: is this node's master key the one the others use?");
            DomainError::Store(StoreError::Corrupt(format!(
                "the data key of {} does not open under this node's master key",
                org_id.as_str()
            )))
        })
}

/// Writes `value` as the next version of `name`.
pub async fn put(
    platform: &Platform,
    user: &UserPrincipal,
    name: &str,
    value: SecretString,
) -> Result<SecretMeta, DomainError> {
    admin(user)?;
    let org = OrgId::from(&user.org_id);
    let key = data_key(platform, &org).await?;
    // Another writer between the read and the write makes the store refuse;
    // seal again for the version after theirs.
    for _ in 0..3 {
        let previous = platform
            .stores
            .secrets
            .secret(&org, name)
            .await?
            .map(|s| s.meta.version);
        let version = previous.unwrap_or(0) + 1;
        let audit = AuditEvent::new(&user.org_id, "secret.set", trail::user_actor(&user.user_id))
            .with_details(json!({"name": name, "version": version}));
        let written = platform
            .stores
            .secrets
            .put_secret(PutSecret {
                org_id: org.clone(),
                name: name.to_owned(),
                version,
                previous,
                sealed: key.seal(name, version, &value),
                now: platform.clock.now(),
                audit,
            })
            .await;
        match written {
            Err(StoreError::Conflict(_)) => continue,
            other => return Ok(other?),
        }
    }
    Err(DomainError::Conflict {
        code: "conflict",
        message: format!("the secret {name} is being written by others; try again"),
    })
}

pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Vec<SecretMeta>, DomainError> {
    admin(user)?;
    Ok(platform
        .stores
        .secrets
        .secrets(&OrgId::from(&user.org_id))
        .await?)
}

pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    name: &str,
) -> Result<(), DomainError> {
    admin(user)?;
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

/// The value of `name` for the platform's own use (never an API answer).
pub async fn reveal(
    platform: &Platform,
    org_id: &OrgId,
    name: &str,
) -> Result<Option<SecretString>, DomainError> {
    let Some(sealed) = platform.stores.secrets.secret(org_id, name).await? else {
        return Ok(None);
    };
    let key = data_key(platform, org_id).await?;
    key.open(name, sealed.meta.version, &sealed.sealed)
        .map(Some)
        .map_err(|e| {
            DomainError::Store(StoreError::Corrupt(format!(
                "secret {name} of {} does not open: {e}",
                org_id.as_str()
            )))
        })
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
