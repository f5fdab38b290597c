//! Memories on SQLite. The FTS5 index follows the rows by the triggers of
//! migration 0049, in the writer's transaction; a search matches there and
//! joins back on `seq`. The quota is counted and the row inserted in one
//! write job, and the writer runs one job at a time, so two creates cannot
//! both take the last place.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::search;
use crate::store::{Memory, MemoryCreated, NewMemory, StoreError, StoreResult, UpdateMemory};

const COLUMNS: &str = "m.id, m.org_id, m.agent_id, m.content, m.tags, m.archived, m.created_by, \
    m.created_at, m.updated_at";

fn tags_col(row: &Row<'_>) -> rusqlite::Result<Vec<String>> {
    let raw: String = row.get("tags")?;
    serde_json::from_str(&raw).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad value in column tags: {raw:?}").into(),
        )
    })
}

fn row(row: &Row<'_>) -> rusqlite::Result<Memory> {
    Ok(Memory {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        content: row.get("content")?,
        tags: tags_col(row)?,
        archived: row.get("archived")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn tags_text(tags: &[String]) -> String {
    serde_json::Value::from(tags).to_string()
}

pub(super) fn get(
    conn: &Connection,
    org_id: &str,
    agent_id: &str,
    id: &str,
) -> StoreResult<Option<Memory>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memories m WHERE m.id = ?1 AND m.agent_id = ?2 AND m.org_id = ?3"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, agent_id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    agent_id: &str,
    limit: u32,
) -> StoreResult<Vec<Memory>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM memories m \
         WHERE m.agent_id = ?1 AND m.org_id = ?2 AND m.archived = 0 \
         ORDER BY m.seq DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![agent_id, org_id, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn search(
    conn: &Connection,
    org_id: &str,
    agent_id: &str,
    terms: &[String],
    limit: u32,
) -> StoreResult<Vec<Memory>> {
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    // bm25() is lower for a better match; its statistics are the whole
    // index's (every agent's memories), which only scales the scores.
    let sql = format!(
        "SELECT {COLUMNS} FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid \
         WHERE memories_fts MATCH ?1 AND m.agent_id = ?2 AND m.org_id = ?3 AND m.archived = 0 \
         ORDER BY bm25(memories_fts), m.seq DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(
        params![search::fts5_match(terms), agent_id, org_id, limit],
        row,
    )
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewMemory) -> StoreResult<MemoryCreated> {
    let held: i64 = ctx
        .conn
        .prepare_cached("SELECT COUNT(*) FROM memories WHERE agent_id = ?1")
        .and_then(|mut s| s.query_row([n.agent_id.as_str()], |r| r.get(0)))
        .map_err(db_error)?;
    if held >= i64::from(n.quota) {
        return Ok(MemoryCreated::QuotaReached);
    }
    let now = rows::ts(n.now);
    ctx.conn
        .prepare_cached(
            "INSERT INTO memories (id, org_id, agent_id, content, tags, archived, created_by, \
             created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                n.id,
                n.org_id.as_str(),
                n.agent_id.as_str(),
                n.content,
                tags_text(&n.tags),
                n.created_by,
                now
            ])
        })
        .map_err(db_error)?;
    audit::append(ctx, n.audit, n.now)?;
    get(ctx.conn, n.org_id.as_str(), n.agent_id.as_str(), &n.id)?
        .map(MemoryCreated::Created)
        .ok_or(StoreError::NotFound)
}

pub(super) fn update(ctx: &mut WriteCtx<'_>, u: UpdateMemory) -> StoreResult<Memory> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE memories SET content = COALESCE(?1, content), tags = COALESCE(?2, tags), \
             archived = COALESCE(?3, archived), updated_at = ?4 \
             WHERE id = ?5 AND agent_id = ?6 AND org_id = ?7",
            params![
                u.content,
                u.tags.as_deref().map(tags_text),
                u.archived,
                rows::ts(u.now),
                u.id,
                u.agent_id.as_str(),
                u.org_id.as_str()
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, u.audit, u.now)?;
    get(ctx.conn, u.org_id.as_str(), u.agent_id.as_str(), &u.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn delete(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    id: &str,
    event: crate::model::AuditEvent,
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    let changed = ctx
        .conn
        .execute(
            "DELETE FROM memories WHERE id = ?1 AND agent_id = ?2 AND org_id = ?3",
            params![id, agent_id, org_id],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)
}
