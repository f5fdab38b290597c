//! `StorageStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, rows, storage};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl StorageStore for SqliteStore {
    async fn create_object(&self, new: NewObject) -> StoreResult<Admitted> {
        self.writer
            .write(move |ctx| storage::create(ctx, new))
            .await
    }

    async fn object(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<StoredObject>> {
        self.lookup(|c| storage::get(c, Some(org_id.as_str()), id))
    }

    async fn object_by_id(&self, id: &str) -> StoreResult<Option<StoredObject>> {
        self.lookup(|c| storage::get(c, None, id))
    }

    async fn objects(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| storage::list(c, &org, before.as_deref(), limit))
            .await
    }

    async fn storage_used(&self, org_id: &OrgId) -> StoreResult<i64> {
        self.lookup(|c| storage::used(c, org_id.as_str()))
    }

    async fn record_upload(&self, upload: RecordUpload) -> StoreResult<Recorded> {
        self.writer
            .write(move |ctx| storage::record_upload(ctx, upload))
            .await
    }

    async fn change_object(&self, change: ChangeObject) -> StoreResult<Option<StoredObject>> {
        self.writer
            .write(move |ctx| storage::change(ctx, change))
            .await
    }

    async fn purgeable_objects(
        &self,
        deleted_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let (d, a) = (rows::ts(deleted_before), rows::ts(abandoned_before));
        self.read(move |c| storage::purgeable(c, &d, &a, limit))
            .await
    }
}
