//! `SecretStore` on SQLite: ciphertexts only, written by the writer.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{SqliteStore, audit, db_error, rows};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::{PutSecret, SealedSecret, SecretMeta, SecretStore, StoreError, StoreResult};

fn meta(row: &Row<'_>) -> rusqlite::Result<SecretMeta> {
    Ok(SecretMeta {
        name: row.get("name")?,
        version: row.get("version")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn get(conn: &Connection, org_id: &str, name: &str) -> StoreResult<Option<SealedSecret>> {
    conn.prepare_cached(
        "SELECT name, version, sealed, created_at, updated_at FROM org_secrets \
         WHERE org_id = ?1 AND name = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![org_id, name], |r| {
            Ok(SealedSecret {
                meta: meta(r)?,
                sealed: r.get("sealed")?,
            })
        })
        .optional()
    })
    .map_err(db_error)
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn data_key(
        &self,
        org_id: &OrgId,
        candidate: String,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let org = org_id.clone();
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO org_data_keys (org_id, wrapped, created_at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (org_id) DO NOTHING",
                        params![org.as_str(), candidate, rows::ts(now)],
                    )
                    .map_err(db_error)?;
                ctx.conn
                    .query_row(
                        "SELECT wrapped FROM org_data_keys WHERE org_id = ?1",
                        [org.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(db_error)
            })
            .await
    }

    async fn secrets(&self, org_id: &OrgId) -> StoreResult<Vec<SecretMeta>> {
        let org = org_id.clone();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT name, version, created_at, updated_at FROM org_secrets \
                 WHERE org_id = ?1 ORDER BY name",
            )
            .and_then(|mut s| {
                s.query_map([org.as_str()], meta)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(db_error)
        })
        .await
    }

    async fn secret(&self, org_id: &OrgId, name: &str) -> StoreResult<Option<SealedSecret>> {
        self.lookup(|c| get(c, org_id.as_str(), name))
    }

    async fn put_secret(&self, put: PutSecret) -> StoreResult<SecretMeta> {
        self.writer
            .write(move |ctx| {
                let org = put.org_id.as_str();
                let seen = get(ctx.conn, org, &put.name)?.map(|s| s.meta.version);
                if seen != put.previous {
                    return Err(StoreError::Conflict(format!(
                        "the secret {} changed while it was written; try again",
                        put.name
                    )));
                }
                let now = rows::ts(put.now);
                ctx.conn
                    .execute(
                        "INSERT INTO org_secrets (org_id, name, version, sealed, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                         ON CONFLICT (org_id, name) DO UPDATE SET version = excluded.version, \
                         sealed = excluded.sealed, updated_at = excluded.updated_at",
                        params![org, put.name, put.version, put.sealed, now],
                    )
                    .map_err(db_error)?;
                audit::append(ctx, put.audit, put.now)?;
                get(ctx.conn, org, &put.name)?
                    .map(|s| s.meta)
                    .ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn delete_secret(
        &self,
        org_id: &OrgId,
        name: &str,
        now: OffsetDateTime,
        audit_event: AuditEvent,
    ) -> StoreResult<()> {
        let (org, name) = (org_id.clone(), name.to_owned());
        self.writer
            .write(move |ctx| {
                let gone = ctx
                    .conn
                    .execute(
                        "DELETE FROM org_secrets WHERE org_id = ?1 AND name = ?2",
                        params![org.as_str(), name],
                    )
                    .map_err(db_error)?;
                if gone == 0 {
                    return Err(StoreError::NotFound);
                }
                audit::append(ctx, audit_event, now)
            })
            .await
    }
}
