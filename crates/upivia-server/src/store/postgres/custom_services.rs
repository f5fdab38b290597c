//! `CustomServiceStore` on PostgreSQL, with the answers of
//! `sqlite/custom_services.rs`. A create relies on the primary key and an
//! update on the row it changes, so two nodes cannot both create one
//! operation.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use time::OffsetDateTime;

use super::{PgStore, audit, db_error, rows};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::money::Cents;
use crate::store::{
    CustomAuth, CustomOperation, CustomServiceStore, PutMode, StoreError, StoreResult,
};

#[derive(sqlx::FromRow)]
struct Row {
    org_id: String,
    service: String,
    operation: String,
    description: String,
    endpoint: String,
    auth_header: Option<String>,
    secret_ref: String,
    request_schema: String,
    cost_estimate_cents: i64,
    idempotent: bool,
    registered_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_operation(self) -> StoreResult<CustomOperation> {
        let auth = match self.auth_header {
            Some(header) => CustomAuth::Header {
                header,
                secret_ref: self.secret_ref,
            },
            None => CustomAuth::Bearer {
                secret_ref: self.secret_ref,
            },
        };
        Ok(CustomOperation {
            org_id: OrgId::from(self.org_id),
            service: self.service,
            operation: self.operation,
            description: self.description,
            endpoint: self.endpoint,
            auth,
            request_schema: rows::json("request_schema", &self.request_schema)?,
            cost_estimate: Cents::new(self.cost_estimate_cents),
            idempotent: self.idempotent,
            registered_by: self.registered_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "org_id, service, operation, description, endpoint, auth_type, \
     auth_header, secret_ref, request_schema, cost_estimate_cents, registered_by, created_at, \
     updated_at, idempotent";

#[async_trait]
impl CustomServiceStore for PgStore {
    async fn custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        operation: &str,
    ) -> StoreResult<Option<CustomOperation>> {
        if ![org_id.as_str(), service, operation]
            .iter()
            .all(|t| rows::storable(t))
        {
            return Ok(None);
        }
        let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM custom_operations \
             WHERE org_id = $1 AND service = $2 AND operation = $3"
        )))
        .bind(org_id.as_str())
        .bind(service)
        .bind(operation)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(Row::into_operation).transpose()
    }

    async fn custom_operations(&self, org_id: &OrgId) -> StoreResult<Vec<CustomOperation>> {
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM custom_operations WHERE org_id = $1 \
             ORDER BY service COLLATE \"C\", operation COLLATE \"C\""
        )))
        .bind(org_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.into_iter().map(Row::into_operation).collect()
    }

    async fn put_custom_operation(
        &self,
        op: CustomOperation,
        mode: PutMode,
        audit_event: AuditEvent,
    ) -> StoreResult<CustomOperation> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let statement = match mode {
            PutMode::Create => format!(
                "INSERT INTO custom_operations ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13) \
                 ON CONFLICT (org_id, service, operation) DO NOTHING RETURNING {COLUMNS}"
            ),
            PutMode::Update => format!(
                "UPDATE custom_operations SET description = $4, endpoint = $5, auth_type = $6, \
                 auth_header = $7, secret_ref = $8, request_schema = $9, \
                 cost_estimate_cents = $10, registered_by = $11, updated_at = $12, idempotent = $13 \
                 WHERE org_id = $1 AND service = $2 AND operation = $3 RETURNING {COLUMNS}"
            ),
        };
        let written: Option<Row> = sqlx::query_as(AssertSqlSafe(statement))
            .bind(op.org_id.as_str())
            .bind(&op.service)
            .bind(&op.operation)
            .bind(&op.description)
            .bind(&op.endpoint)
            .bind(op.auth.kind())
            .bind(op.auth.header())
            .bind(op.auth.secret_ref())
            .bind(op.request_schema.to_string())
            .bind(op.cost_estimate.get())
            .bind(&op.registered_by)
            .bind(op.updated_at)
            .bind(op.idempotent)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = written else {
            return Err(match mode {
                PutMode::Create => StoreError::Conflict(format!(
                    "{}.{} is already registered",
                    op.service, op.operation
                )),
                PutMode::Update => StoreError::NotFound,
            });
        };
        audit::insert(&mut tx, &audit_event, op.updated_at).await?;
        tx.commit().await.map_err(db_error)?;
        row.into_operation()
    }

    async fn remove_custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        operation: &str,
        now: OffsetDateTime,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let gone = sqlx::query(
            "DELETE FROM custom_operations WHERE org_id = $1 AND service = $2 AND operation = $3",
        )
        .bind(org_id.as_str())
        .bind(service)
        .bind(operation)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if gone == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM bindings WHERE service_id = $2 \
             AND (operation = $3 OR (operation = '*' AND NOT EXISTS \
               (SELECT 1 FROM custom_operations WHERE org_id = $1 AND service = $2))) \
             AND agent_id IN (SELECT id FROM agents WHERE org_id = $1)",
        )
        .bind(org_id.as_str())
        .bind(service)
        .bind(operation)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit_event, now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }
}
