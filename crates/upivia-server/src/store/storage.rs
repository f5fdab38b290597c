//! Stored objects (files). The row decides what an object is; its bytes
//! live in the blob backend (`domains/storage/blobs.rs`) under `blob_key`.
//! Every change is a conditional update on the status the caller read, so
//! two nodes racing (a confirm and a late PUT, two restores) change a row
//! once. An object's `size_bytes` counts against its organisation's quota
//! from the moment the row exists until its bytes are purged; the quota is
//! checked in the transaction that inserts the row.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectStatus {
    /// Presigned: waiting for its bytes and a confirm.
    Pending,
    Live,
    /// Soft-deleted: restorable until the window closes.
    Deleted,
    /// Its bytes are gone; the row stays so a late restore is told why.
    Purged,
}

impl ObjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectStatus::Pending => "pending",
            ObjectStatus::Live => "live",
            ObjectStatus::Deleted => "deleted",
            ObjectStatus::Purged => "purged",
        }
    }

    pub fn parse(raw: &str) -> Option<ObjectStatus> {
        match raw {
            "pending" => Some(ObjectStatus::Pending),
            "live" => Some(ObjectStatus::Live),
            "deleted" => Some(ObjectStatus::Deleted),
            "purged" => Some(ObjectStatus::Purged),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoredObject {
    pub id: String,
    pub org_id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Of the sealed bytes; `None` while pending.
    pub sha256: Option<String>,
    pub status: ObjectStatus,
    /// Where the bytes are; `None` until a presigned upload arrives.
    pub blob_key: Option<String>,
    /// What the server computed over the last presigned PUT.
    pub uploaded_sha256: Option<String>,
    pub upload_expires_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub sealed_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub purged_at: Option<OffsetDateTime>,
}

/// Inserting `object` if the organisation's held bytes plus its size stay
/// within `quota_bytes`.
#[derive(Clone, Debug)]
pub struct NewObject {
    pub object: StoredObject,
    pub quota_bytes: i64,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub enum Admitted {
    Created(Box<StoredObject>),
    /// Nothing was written; `used` is what the organisation holds.
    OverQuota {
        used: i64,
    },
}

/// The bytes of a presigned upload arrived at `blob_key`.
#[derive(Clone, Debug)]
pub struct RecordUpload {
    pub id: String,
    pub blob_key: String,
    pub sha256: String,
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The row points at the new bytes; `replaced` held an earlier upload.
    Recorded { replaced: Option<String> },
    /// Sealed, deleted or gone meanwhile: the new bytes are not the
    /// object's (the caller deletes them).
    NotPending,
}

/// Moving an object from the status `from` (as read) to `to`.
#[derive(Clone, Debug)]
pub struct ChangeObject {
    pub org_id: OrgId,
    pub id: String,
    pub from: ObjectStatus,
    pub to: ObjectStatus,
    /// Sealing: the bytes sealed must still be these (a PUT racing a
    /// confirm replaces `blob_key`, and the confirm then changes nothing).
    pub expect_blob_key: Option<String>,
    /// Set when sealing.
    pub sha256: Option<String>,
    pub now: OffsetDateTime,
    pub audit: Option<AuditEvent>,
}

#[async_trait]
pub trait StorageStore: Send + Sync + 'static {
    async fn create_object(&self, new: NewObject) -> StoreResult<Admitted>;
    async fn object(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<StoredObject>>;
    /// By id alone: a signed URL names no organisation (its signature
    /// proves it).
    async fn object_by_id(&self, id: &str) -> StoreResult<Option<StoredObject>>;
    /// Live objects, newest first, ids below `before`, at most `limit`.
    async fn objects(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>>;
    /// Bytes the organisation holds (every object not purged).
    async fn storage_used(&self, org_id: &OrgId) -> StoreResult<i64>;
    async fn record_upload(&self, upload: RecordUpload) -> StoreResult<Recorded>;
    /// The object as changed, or `None` when it was no longer `from` (or
    /// no longer held `expect_blob_key`).
    async fn change_object(&self, change: ChangeObject) -> StoreResult<Option<StoredObject>>;
    /// Objects whose bytes may go: deleted before `deleted_before`, or
    /// pending with an upload window that closed before `abandoned_before`.
    async fn purgeable_objects(
        &self,
        deleted_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>>;
}
