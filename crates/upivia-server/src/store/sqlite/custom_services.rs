//! `CustomServiceStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{SqliteStore, audit, db_error, rows};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::money::Cents;
use crate::store::{
    CustomAuth, CustomOperation, CustomServiceStore, PutMode, StoreError, StoreResult,
};

const COLUMNS: &str = "org_id, service, operation, description, endpoint, auth_type, \
     auth_header, secret_ref, request_schema, cost_estimate_cents, registered_by, created_at, \
     updated_at, idempotent";

fn operation(row: &Row<'_>) -> rusqlite::Result<CustomOperation> {
    let secret_ref: String = row.get("secret_ref")?;
    let auth = match row.get::<_, Option<String>>("auth_header")? {
        Some(header) => CustomAuth::Header { header, secret_ref },
        None => CustomAuth::Bearer { secret_ref },
    };
    Ok(CustomOperation {
        org_id: OrgId::from(row.get::<_, String>("org_id")?),
        service: row.get("service")?,
        operation: row.get("operation")?,
        description: row.get("description")?,
        endpoint: row.get("endpoint")?,
        auth,
        request_schema: rows::json_col(row, "request_schema")?,
        cost_estimate: Cents::new(row.get("cost_estimate_cents")?),
        idempotent: row.get("idempotent")?,
        registered_by: row.get("registered_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn get(
    conn: &Connection,
    org_id: &str,
    service: &str,
    op: &str,
) -> StoreResult<Option<CustomOperation>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM custom_operations \
         WHERE org_id = ?1 AND service = ?2 AND operation = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(params![org_id, service, op], operation)
            .optional()
    })
    .map_err(db_error)
}

#[async_trait]
impl CustomServiceStore for SqliteStore {
    async fn custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        op: &str,
    ) -> StoreResult<Option<CustomOperation>> {
        self.lookup(|c| get(c, org_id.as_str(), service, op))
    }

    async fn custom_operations(&self, org_id: &OrgId) -> StoreResult<Vec<CustomOperation>> {
        let org = org_id.clone();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM custom_operations WHERE org_id = ?1 \
                 ORDER BY service, operation"
            ))
            .and_then(|mut s| {
                s.query_map([org.as_str()], operation)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
        })
        .await
    }

    async fn put_custom_operation(
        &self,
        op: CustomOperation,
        mode: PutMode,
        audit_event: AuditEvent,
    ) -> StoreResult<CustomOperation> {
        self.writer
            .write(move |ctx| {
                let org = op.org_id.as_str();
                let existing = get(ctx.conn, org, &op.service, &op.operation)?;
                let created_at = match (mode, &existing) {
                    (PutMode::Create, Some(_)) => {
                        return Err(StoreError::Conflict(format!(
                            "{}.{} is already registered",
                            op.service, op.operation
                        )));
                    }
                    (PutMode::Update, None) => return Err(StoreError::NotFound),
                    (PutMode::Create, None) => op.created_at,
                    (PutMode::Update, Some(old)) => old.created_at,
                };
                ctx.conn
                    .execute(
                        &format!(
                            "INSERT OR REPLACE INTO custom_operations ({COLUMNS}) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                        ),
                        params![
                            org,
                            op.service,
                            op.operation,
                            op.description,
                            op.endpoint,
                            op.auth.kind(),
                            op.auth.header(),
                            op.auth.secret_ref(),
                            op.request_schema.to_string(),
                            op.cost_estimate.get(),
                            op.registered_by,
                            rows::ts(created_at),
                            rows::ts(op.updated_at),
                            op.idempotent,
                        ],
                    )
                    .map_err(db_error)?;
                audit::append(ctx, audit_event, op.updated_at)?;
                get(ctx.conn, org, &op.service, &op.operation)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn remove_custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        op: &str,
        now: OffsetDateTime,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        let (org, service, op) = (org_id.clone(), service.to_owned(), op.to_owned());
        self.writer
            .write(move |ctx| {
                let gone = ctx
                    .conn
                    .execute(
                        "DELETE FROM custom_operations \
                         WHERE org_id = ?1 AND service = ?2 AND operation = ?3",
                        params![org.as_str(), service, op],
                    )
                    .map_err(db_error)?;
                if gone == 0 {
                    return Err(StoreError::NotFound);
                }
                let left: i64 = ctx
                    .conn
                    .query_row(
                        "SELECT COUNT(*) FROM custom_operations WHERE org_id = ?1 AND service = ?2",
                        params![org.as_str(), service],
                        |r| r.get(0),
                    )
                    .map_err(db_error)?;
                ctx.conn
                    .execute(
                        "DELETE FROM bindings WHERE service_id = ?2 \
                         AND (operation = ?3 OR (?4 = 0 AND operation = '*')) \
                         AND agent_id IN (SELECT id FROM agents WHERE org_id = ?1)",
                        params![org.as_str(), service, op, left],
                    )
                    .map_err(db_error)?;
                audit::append(ctx, audit_event, now)
            })
            .await
    }
}
