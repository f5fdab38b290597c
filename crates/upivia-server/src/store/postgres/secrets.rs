//! `SecretStore` on PostgreSQL, with the answers of `sqlite/secrets.rs`.
//! A write compares the version it saw in the same statement (`FOR UPDATE`
//! of the row, or the primary key refusing a second first write), so two
//! nodes writing one secret at once cannot both win.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::{PutSecret, SealedSecret, SecretMeta, SecretStore, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    version: i64,
    sealed: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_sealed(self) -> SealedSecret {
        SealedSecret {
            meta: SecretMeta {
                name: self.name,
                version: self.version,
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            sealed: self.sealed,
        }
    }
}

const COLUMNS: &str = "name, version, sealed, created_at, updated_at";

#[async_trait]
impl SecretStore for PgStore {
    async fn data_key(
        &self,
        org_id: &OrgId,
        candidate: String,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let stored: Option<String> = sqlx::query_scalar(
            "WITH new AS (INSERT INTO org_data_keys (org_id, wrapped, created_at) \
               VALUES ($1, $2, $3) ON CONFLICT (org_id) DO NOTHING RETURNING wrapped) \
             SELECT wrapped FROM new UNION ALL \
             SELECT wrapped FROM org_data_keys WHERE org_id = $1 LIMIT 1",
        )
        .bind(org_id.as_str())
        .bind(&candidate)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        if let Some(wrapped) = stored {
            return Ok(wrapped);
        }
        // Another node's first key committed while this statement waited:
        // its snapshot did not show it, a new one does.
        sqlx::query_scalar("SELECT wrapped FROM org_data_keys WHERE org_id = $1")
            .bind(org_id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn secrets(&self, org_id: &OrgId) -> StoreResult<Vec<SecretMeta>> {
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM org_secrets WHERE org_id = $1 ORDER BY name COLLATE \"C\""
        )))
        .bind(org_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(|r| r.into_sealed().meta).collect())
    }

    async fn secret(&self, org_id: &OrgId, name: &str) -> StoreResult<Option<SealedSecret>> {
        let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM org_secrets WHERE org_id = $1 AND name = $2"
        )))
        .bind(org_id.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(row.map(Row::into_sealed))
    }

    async fn put_secret(&self, put: PutSecret) -> StoreResult<SecretMeta> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let written: Option<Row> = match put.previous {
            None => sqlx::query_as(AssertSqlSafe(format!(
                "INSERT INTO org_secrets (org_id, name, version, sealed, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (org_id, name) DO NOTHING \
                 RETURNING {COLUMNS}"
            )))
            .bind(put.org_id.as_str())
            .bind(&put.name)
            .bind(put.version)
            .bind(&put.sealed)
            .bind(put.now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?,
            Some(previous) => sqlx::query_as(AssertSqlSafe(format!(
                "UPDATE org_secrets SET version = $3, sealed = $4, updated_at = $5 \
                 WHERE org_id = $1 AND name = $2 AND version = $6 RETURNING {COLUMNS}"
            )))
            .bind(put.org_id.as_str())
            .bind(&put.name)
            .bind(put.version)
            .bind(&put.sealed)
            .bind(put.now)
            .bind(previous)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?,
        };
        let Some(row) = written else {
            return Err(StoreError::Conflict(format!(
                "the secret {} changed while it was written; try again",
                put.name
            )));
        };
        audit::insert(&mut tx, &put.audit, put.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(row.into_sealed().meta)
    }

    async fn delete_secret(
        &self,
        org_id: &OrgId,
        name: &str,
        now: OffsetDateTime,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let gone = sqlx::query("DELETE FROM org_secrets WHERE org_id = $1 AND name = $2")
            .bind(org_id.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &audit_event, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }
}
