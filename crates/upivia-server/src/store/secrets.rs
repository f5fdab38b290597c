//! Organisation secrets, stored sealed (see `vault`): the store never sees
//! a value, only its ciphertext, and each organisation's data key only
//! wrapped by the master key.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;

/// What a list shows of a secret: never its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretMeta {
    pub name: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A secret as stored: its ciphertext under the organisation's data key.
#[derive(Clone, Debug)]
pub struct SealedSecret {
    pub meta: SecretMeta,
    pub sealed: String,
}

/// Writing version `version` of a secret: `previous` is the version the
/// writer saw (`None`: there was none); another writer in between is a
/// `Conflict`, and the caller seals again for the next version.
#[derive(Clone, Debug)]
pub struct PutSecret {
    pub org_id: OrgId,
    pub name: String,
    pub version: i64,
    pub previous: Option<i64>,
    pub sealed: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// The organisation's wrapped data key: the stored one, or `candidate`
    /// stored now when there is none (of two nodes racing, both get the
    /// one that was stored).
    async fn data_key(
        &self,
        org_id: &OrgId,
        candidate: String,
        now: OffsetDateTime,
    ) -> StoreResult<String>;
    async fn secrets(&self, org_id: &OrgId) -> StoreResult<Vec<SecretMeta>>;
    async fn secret(&self, org_id: &OrgId, name: &str) -> StoreResult<Option<SealedSecret>>;
    async fn put_secret(&self, put: PutSecret) -> StoreResult<SecretMeta>;
    /// `NotFound` when there is no such secret.
    async fn delete_secret(
        &self,
        org_id: &OrgId,
        name: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
}
