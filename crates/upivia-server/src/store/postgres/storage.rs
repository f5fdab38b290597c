//! `StorageStore` on PostgreSQL, with the answers of `sqlite/storage.rs`.
//! The quota check locks the organisation's row first, so two nodes
//! admitting uploads of one organisation take turns between the sum and
//! the insert.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::store::*;

const COLUMNS: &str = "id, org_id, filename, content_type, size_bytes, sha256, status, blob_key, \
    uploaded_sha256, upload_expires_at, created_by, created_at, updated_at, sealed_at, \
    deleted_at, purged_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    filename: String,
    content_type: String,
    size_bytes: i64,
    sha256: Option<String>,
    status: String,
    blob_key: Option<String>,
    uploaded_sha256: Option<String>,
    upload_expires_at: Option<OffsetDateTime>,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    sealed_at: Option<OffsetDateTime>,
    deleted_at: Option<OffsetDateTime>,
    purged_at: Option<OffsetDateTime>,
}

impl Row {
    fn into_object(self) -> StoreResult<StoredObject> {
        Ok(StoredObject {
            status: ObjectStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("object status {:?}", self.status)))?,
            id: self.id,
            org_id: self.org_id,
            filename: self.filename,
            content_type: self.content_type,
            size_bytes: self.size_bytes,
            sha256: self.sha256,
            blob_key: self.blob_key,
            uploaded_sha256: self.uploaded_sha256,
            upload_expires_at: self.upload_expires_at,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            sealed_at: self.sealed_at,
            deleted_at: self.deleted_at,
            purged_at: self.purged_at,
        })
    }
}

async fn get(
    conn: &mut PgConnection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<StoredObject>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM stored_objects WHERE id = $1 AND ($2::TEXT IS NULL OR org_id = $2)"
    );
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_object)
        .transpose()
}

async fn used(conn: &mut PgConnection, org_id: &str) -> StoreResult<i64> {
    let (sum,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM stored_objects \
         WHERE org_id = $1 AND status <> 'purged'",
    )
    .bind(org_id)
    .fetch_one(conn)
    .await
    .map_err(db_error)?;
    Ok(sum)
}

fn objects(rows: Vec<Row>) -> StoreResult<Vec<StoredObject>> {
    rows.into_iter().map(Row::into_object).collect()
}

#[async_trait]
impl StorageStore for PgStore {
    async fn create_object(&self, n: NewObject) -> StoreResult<Admitted> {
        let o = n.object;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("SELECT id FROM orgs WHERE id = $1 FOR UPDATE")
            .bind(&o.org_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or(StoreError::NotFound)?;
        let held = used(&mut tx, &o.org_id).await?;
        if held.saturating_add(o.size_bytes) > n.quota_bytes {
            return Ok(Admitted::OverQuota { used: held });
        }
        sqlx::query(
            "INSERT INTO stored_objects (id, org_id, filename, content_type, size_bytes, sha256, \
             status, blob_key, uploaded_sha256, upload_expires_at, created_by, created_at, \
             updated_at, sealed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
        )
        .bind(&o.id)
        .bind(&o.org_id)
        .bind(&o.filename)
        .bind(&o.content_type)
        .bind(o.size_bytes)
        .bind(&o.sha256)
        .bind(o.status.as_str())
        .bind(&o.blob_key)
        .bind(&o.uploaded_sha256)
        .bind(o.upload_expires_at)
        .bind(&o.created_by)
        .bind(o.created_at)
        .bind(o.sealed_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &n.audit, o.created_at).await?;
        let object = get(&mut tx, None, &o.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Admitted::Created(Box::new(object)))
    }

    async fn object(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<StoredObject>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, Some(org_id.as_str()), id).await
    }

    async fn object_by_id(&self, id: &str) -> StoreResult<Option<StoredObject>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, None, id).await
    }

    async fn objects(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM stored_objects WHERE org_id = $1 AND status = 'live' \
             AND ($2::TEXT IS NULL OR id COLLATE \"C\" < $2) \
             ORDER BY id COLLATE \"C\" DESC LIMIT $3"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        objects(rows)
    }

    async fn storage_used(&self, org_id: &OrgId) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        used(&mut conn, org_id.as_str()).await
    }

    async fn record_upload(&self, u: RecordUpload) -> StoreResult<Recorded> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let previous: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT blob_key FROM stored_objects WHERE id = $1 AND status = 'pending' FOR UPDATE",
        )
        .bind(&u.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some((replaced,)) = previous else {
            return Ok(Recorded::NotPending);
        };
        sqlx::query(
            "UPDATE stored_objects SET blob_key = $1, uploaded_sha256 = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(&u.blob_key)
        .bind(&u.sha256)
        .bind(u.now)
        .bind(&u.id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Recorded::Recorded { replaced })
    }

    async fn change_object(&self, c: ChangeObject) -> StoreResult<Option<StoredObject>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE stored_objects SET status = $1, updated_at = $2, \
             sha256 = COALESCE($3, sha256), \
             sealed_at = CASE WHEN $1 = 'live' AND sealed_at IS NULL THEN $2 ELSE sealed_at END, \
             deleted_at = CASE WHEN $1 = 'deleted' THEN $2 \
                               WHEN $1 = 'purged' THEN deleted_at ELSE NULL END, \
             purged_at = CASE WHEN $1 = 'purged' THEN $2 ELSE purged_at END \
             WHERE id = $4 AND org_id = $5 AND status = $6 \
               AND ($7::TEXT IS NULL OR blob_key = $7)",
        )
        .bind(c.to.as_str())
        .bind(c.now)
        .bind(&c.sha256)
        .bind(&c.id)
        .bind(c.org_id.as_str())
        .bind(c.from.as_str())
        .bind(&c.expect_blob_key)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        if let Some(event) = &c.audit {
            audit::insert(&mut tx, event, c.now).await?;
        }
        let object = get(&mut tx, None, &c.id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(object)
    }

    async fn purgeable_objects(
        &self,
        deleted_before: OffsetDateTime,
        abandoned_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<StoredObject>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "(SELECT {COLUMNS} FROM stored_objects WHERE status = 'deleted' AND deleted_at < $1) \
             UNION ALL \
             (SELECT {COLUMNS} FROM stored_objects \
              WHERE status = 'pending' AND upload_expires_at < $2) \
             LIMIT $3"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(deleted_before)
            .bind(abandoned_before)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        objects(rows)
    }
}
