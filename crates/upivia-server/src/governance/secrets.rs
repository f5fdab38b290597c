//! Opening and sealing organisation secrets for the platform's own use:
//! a private service's credential, an organisation's webhook signing key.
//! Who may write them over the API is `domains/secrets`; this is the
//! mechanism both use, and what a provider reaches through
//! [`OrgSecrets`](crate::providers::OrgSecrets).

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::json;

use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::platform::Platform;
use crate::providers::{OrgSecrets, ProviderError};
use crate::store::{PutSecret, SecretMeta, StoreError, StoreResult};
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

/// Names the platform keeps for itself in the same table; the API neither
/// lists nor accepts them.
pub const RESERVED_PREFIX: &str = "upivia.";

pub fn reserved(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
}

/// The organisation's data key, made (and stored wrapped) on first use.
async fn data_key(platform: &Platform, org_id: &OrgId) -> StoreResult<DataKey> {
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
            StoreError::Corrupt(format!(
                "the data key of {} does not open under this node's master key",
                org_id.as_str()
            ))
        })
}

/// Seals `value` as the next version of `name` and stores it with `audit`
/// (its details gain the name and version, never the value).
pub async fn write(
    platform: &Platform,
    org: &OrgId,
    name: &str,
    value: &SecretString,
    audit: AuditEvent,
) -> StoreResult<SecretMeta> {
    let key = data_key(platform, org).await?;
    // Another writer between the read and the write makes the store refuse;
    // seal again for the version after theirs.
    for _ in 0..3 {
        let previous = platform
            .stores
            .secrets
            .secret(org, name)
            .await?
            .map(|s| s.meta.version);
        let version = previous.unwrap_or(0) + 1;
        let written = platform
            .stores
            .secrets
            .put_secret(PutSecret {
                org_id: org.clone(),
                name: name.to_owned(),
                version,
                previous,
                sealed: key.seal(name, version, value),
                now: platform.clock.now(),
                audit: audit
                    .clone()
                    .with_details_merged(json!({"name": name, "version": version})),
            })
            .await;
        match written {
            Err(StoreError::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict(format!(
        "the secret {name} is being written by others; try again"
    )))
}

/// The value of `name`, opened (never an API answer).
pub async fn reveal(
    platform: &Platform,
    org_id: &OrgId,
    name: &str,
) -> StoreResult<Option<(SecretMeta, SecretString)>> {
    let Some(sealed) = platform.stores.secrets.secret(org_id, name).await? else {
        return Ok(None);
    };
    let key = data_key(platform, org_id).await?;
    key.open(name, sealed.meta.version, &sealed.sealed)
        .map(|value| Some((sealed.meta, value)))
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "secret {name} of {} does not open: {e}",
                org_id.as_str()
            ))
        })
}

/// Seals a value the platform keeps in a row of its own (a trigger's
/// signing secret) under the organisation's data key, bound to `name`
/// (so a sealed value moved to another row does not open).
pub async fn seal_private(
    platform: &Platform,
    org: &OrgId,
    name: &str,
    value: &SecretString,
) -> StoreResult<String> {
    Ok(data_key(platform, org).await?.seal(name, 1, value))
}

/// Opens what [`seal_private`] sealed under `name`.
pub async fn open_private(
    platform: &Platform,
    org: &OrgId,
    name: &str,
    sealed: &str,
) -> StoreResult<SecretString> {
    data_key(platform, org)
        .await?
        .open(name, 1, sealed)
        .map_err(|e| StoreError::Corrupt(format!("{name} of {} does not open: {e}", org.as_str())))
}

/// What providers are handed: the platform's secrets, by organisation.
pub struct PlatformSecrets<'a>(pub &'a Platform);

#[async_trait]
impl OrgSecrets for PlatformSecrets<'_> {
    async fn secret(
        &self,
        org_id: &OrgId,
        name: &str,
    ) -> Result<Option<SecretString>, ProviderError> {
        match reveal(self.0, org_id, name).await {
            Ok(found) => Ok(found.map(|(_, value)| value)),
            Err(e) => {
                tracing::error!(org_id = %org_id.as_str(), secret = name, error = %e, "could not open a secret for a provider");
                Err(ProviderError::Unavailable(format!(
                    "the secret {name} could not be read: {e}"
                )))
            }
        }
    }
}
