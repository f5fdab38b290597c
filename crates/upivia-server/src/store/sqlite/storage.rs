//! Stored objects on SQLite. The writer runs one job at a time, so the
//! quota sum and the insert of `create` cannot interleave with another's.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::store::{
    Admitted, ChangeObject, NewObject, ObjectStatus, RecordUpload, Recorded, StoreResult,
    StoredObject,
};

const COLUMNS: &str = "id, org_id, filename, content_type, size_bytes, sha256, status, blob_key, \
    uploaded_sha256, upload_expires_at, created_by, created_at, updated_at, sealed_at, \
    deleted_at, purged_at";

fn row(row: &Row<'_>) -> rusqlite::Result<StoredObject> {
    let status: String = row.get("status")?;
    Ok(StoredObject {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        filename: row.get("filename")?,
        content_type: row.get("content_type")?,
        size_bytes: row.get("size_bytes")?,
        sha256: row.get("sha256")?,
        status: ObjectStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("bad value in column status: {status:?}").into(),
            )
        })?,
        blob_key: row.get("blob_key")?,
        uploaded_sha256: row.get("uploaded_sha256")?,
        upload_expires_at: rows::opt_time_col(row, "upload_expires_at")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        sealed_at: rows::opt_time_col(row, "sealed_at")?,
        deleted_at: rows::opt_time_col(row, "deleted_at")?,
        purged_at: rows::opt_time_col(row, "purged_at")?,
    })
}

pub(super) fn get(
    conn: &Connection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<StoredObject>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM stored_objects WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2)"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<StoredObject>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM stored_objects WHERE org_id = ?1 AND status = 'live' \
         AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![org_id, before, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn used(conn: &Connection, org_id: &str) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COALESCE(SUM(size_bytes), 0) FROM stored_objects \
         WHERE org_id = ?1 AND status <> 'purged'",
        params![org_id],
        |r| r.get(0),
    )
    .map_err(db_error)
}

pub(super) fn purgeable(
    conn: &Connection,
    deleted_before: &str,
    abandoned_before: &str,
    limit: u32,
) -> StoreResult<Vec<StoredObject>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM stored_objects WHERE status = 'deleted' AND deleted_at < ?1 \
         UNION ALL \
         SELECT {COLUMNS} FROM stored_objects WHERE status = 'pending' AND upload_expires_at < ?2 \
         LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![deleted_before, abandoned_before, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewObject) -> StoreResult<Admitted> {
    let o = n.object;
    let held = used(ctx.conn, &o.org_id)?;
    if held.saturating_add(o.size_bytes) > n.quota_bytes {
        return Ok(Admitted::OverQuota { used: held });
    }
    ctx.conn
        .execute(
            "INSERT INTO stored_objects (id, org_id, filename, content_type, size_bytes, sha256, \
             status, blob_key, uploaded_sha256, upload_expires_at, created_by, created_at, \
             updated_at, sealed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
            params![
                o.id,
                o.org_id,
                o.filename,
                o.content_type,
                o.size_bytes,
                o.sha256,
                o.status.as_str(),
                o.blob_key,
                o.uploaded_sha256,
                o.upload_expires_at.map(rows::ts),
                o.created_by,
                rows::ts(o.created_at),
                o.sealed_at.map(rows::ts),
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, n.audit, o.created_at)?;
    Ok(Admitted::Created(Box::new(
        get(ctx.conn, None, &o.id)?.ok_or(crate::store::StoreError::NotFound)?,
    )))
}

pub(super) fn record_upload(ctx: &mut WriteCtx<'_>, u: RecordUpload) -> StoreResult<Recorded> {
    let previous: Option<Option<String>> = ctx
        .conn
        .query_row(
            "SELECT blob_key FROM stored_objects WHERE id = ?1 AND status = 'pending'",
            params![u.id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    let Some(replaced) = previous else {
        return Ok(Recorded::NotPending);
    };
    ctx.conn
        .execute(
            "UPDATE stored_objects SET blob_key = ?1, uploaded_sha256 = ?2, updated_at = ?3 \
             WHERE id = ?4 AND status = 'pending'",
            params![u.blob_key, u.sha256, rows::ts(u.now), u.id],
        )
        .map_err(db_error)?;
    Ok(Recorded::Recorded { replaced })
}

pub(super) fn change(ctx: &mut WriteCtx<'_>, c: ChangeObject) -> StoreResult<Option<StoredObject>> {
    let now = rows::ts(c.now);
    let changed = ctx
        .conn
        .execute(
            "UPDATE stored_objects SET status = ?1, updated_at = ?2, \
             sha256 = COALESCE(?3, sha256), \
             sealed_at = CASE WHEN ?1 = 'live' AND sealed_at IS NULL THEN ?2 ELSE sealed_at END, \
             deleted_at = CASE WHEN ?1 = 'deleted' THEN ?2 \
                               WHEN ?1 = 'purged' THEN deleted_at ELSE NULL END, \
             purged_at = CASE WHEN ?1 = 'purged' THEN ?2 ELSE purged_at END \
             WHERE id = ?4 AND org_id = ?5 AND status = ?6 \
               AND (?7 IS NULL OR blob_key = ?7)",
            params![
                c.to.as_str(),
                now,
                c.sha256,
                c.id,
                c.org_id.as_str(),
                c.from.as_str(),
                c.expect_blob_key,
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Ok(None);
    }
    if let Some(event) = c.audit {
        audit::append(ctx, event, c.now)?;
    }
    get(ctx.conn, None, &c.id)
}
