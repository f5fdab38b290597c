//! Triggers on SQLite. A tick is claimed by a conditional update of
//! `next_run_at`; the writer runs one job at a time, so of two claims of
//! one tick the second changes nothing.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::store::{
    ClaimTick, NewTrigger, RecordFire, StoreError, StoreResult, Trigger, TriggerKind, UpdateTrigger,
};

const COLUMNS: &str = "id, org_id, agent_id, kind, service, operation, payload_template, \
    schedule_expr, timezone, sealed_secret, disabled, next_run_at, pending_tick, pending_since, \
    last_fired_at, last_request_id, last_dispatch_status, fire_count, created_by, created_at, \
    updated_at";

fn row(row: &Row<'_>) -> rusqlite::Result<Trigger> {
    let kind: String = row.get("kind")?;
    Ok(Trigger {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        kind: TriggerKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("bad value in column kind: {kind:?}").into(),
            )
        })?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        payload_template: rows::json_col(row, "payload_template")?,
        schedule_expr: row.get("schedule_expr")?,
        timezone: row.get("timezone")?,
        sealed_secret: row.get("sealed_secret")?,
        disabled: row.get("disabled")?,
        next_run_at: rows::opt_time_col(row, "next_run_at")?,
        pending_tick: rows::opt_time_col(row, "pending_tick")?,
        pending_since: rows::opt_time_col(row, "pending_since")?,
        last_fired_at: rows::opt_time_col(row, "last_fired_at")?,
        last_request_id: row.get("last_request_id")?,
        last_dispatch_status: row.get("last_dispatch_status")?,
        fire_count: row.get("fire_count")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

pub(super) fn get(
    conn: &Connection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Trigger>> {
    let sql =
        format!("SELECT {COLUMNS} FROM triggers WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2)");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Trigger>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM triggers WHERE org_id = ?1 AND (?2 IS NULL OR id < ?2) \
         ORDER BY id DESC LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![org_id, before, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn due(
    conn: &Connection,
    now: &str,
    stale_before: &str,
    limit: u32,
) -> StoreResult<Vec<Trigger>> {
    // Two partial indexes, one branch each (SQLite matches a partial
    // index only to its literal condition).
    let sql = format!(
        "SELECT {COLUMNS} FROM triggers WHERE kind = 'cron' AND disabled = 0 \
           AND next_run_at <= ?1 AND pending_tick IS NULL \
         UNION ALL \
         SELECT {COLUMNS} FROM triggers WHERE pending_tick IS NOT NULL AND pending_since <= ?2 \
         LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![now, stale_before, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewTrigger) -> StoreResult<Trigger> {
    let now = rows::ts(n.now);
    ctx.conn
        .execute(
            "INSERT INTO triggers (id, org_id, agent_id, kind, service, operation, \
             payload_template, schedule_expr, timezone, sealed_secret, disabled, next_run_at, \
             created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11, ?12, ?13, ?13)",
            params![
                n.id,
                n.org_id.as_str(),
                n.agent_id.as_str(),
                n.kind.as_str(),
                n.service,
                n.operation,
                n.payload_template.to_string(),
                n.schedule_expr,
                n.timezone,
                n.sealed_secret,
                n.next_run_at.map(rows::ts),
                n.created_by,
                now
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, n.audit, n.now)?;
    get(ctx.conn, None, &n.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn update(ctx: &mut WriteCtx<'_>, u: UpdateTrigger) -> StoreResult<Trigger> {
    let (set_next, next) = match u.next_run_at {
        Some(next) => (1, next.map(rows::ts)),
        None => (0, None),
    };
    let changed = ctx
        .conn
        .execute(
            "UPDATE triggers SET disabled = COALESCE(?1, disabled), \
             schedule_expr = COALESCE(?2, schedule_expr), \
             payload_template = COALESCE(?3, payload_template), \
             next_run_at = CASE WHEN ?4 = 1 THEN ?5 ELSE next_run_at END, updated_at = ?6 \
             WHERE id = ?7 AND org_id = ?8",
            params![
                u.disabled,
                u.schedule_expr,
                u.payload_template.map(|t| t.to_string()),
                set_next,
                next,
                rows::ts(u.now),
                u.id,
                u.org_id.as_str()
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, u.audit, u.now)?;
    get(ctx.conn, None, &u.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn purge(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    id: &str,
    event: crate::model::AuditEvent,
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    let changed = ctx
        .conn
        .execute(
            "DELETE FROM triggers WHERE id = ?1 AND org_id = ?2",
            params![id, org_id],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)
}

pub(super) fn claim(ctx: &mut WriteCtx<'_>, c: ClaimTick) -> StoreResult<bool> {
    let now = rows::ts(c.now);
    let changed = ctx
        .conn
        .execute(
            "UPDATE triggers SET next_run_at = ?1, pending_tick = ?2, pending_since = ?3 \
             WHERE id = ?4 AND kind = 'cron' AND disabled = 0 AND next_run_at = ?2 \
               AND pending_tick IS NULL",
            params![c.next.map(rows::ts), rows::ts(c.tick), now, c.id],
        )
        .map_err(db_error)?;
    Ok(changed == 1)
}

pub(super) fn reclaim(
    ctx: &mut WriteCtx<'_>,
    id: &str,
    tick: &str,
    stale_before: &str,
    now: &str,
) -> StoreResult<bool> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE triggers SET pending_since = ?1 \
             WHERE id = ?2 AND pending_tick = ?3 AND pending_since <= ?4",
            params![now, id, tick, stale_before],
        )
        .map_err(db_error)?;
    Ok(changed == 1)
}

pub(super) fn record_fire(ctx: &mut WriteCtx<'_>, f: RecordFire) -> StoreResult<()> {
    let now = rows::ts(f.now);
    let changed = match f.tick {
        Some(tick) => ctx.conn.execute(
            "UPDATE triggers SET pending_tick = NULL, pending_since = NULL, last_fired_at = ?1, \
             last_request_id = ?2, last_dispatch_status = ?3, fire_count = fire_count + 1 \
             WHERE id = ?4 AND pending_tick = ?5",
            params![now, f.request_id, f.dispatch_status, f.id, rows::ts(tick)],
        ),
        None => ctx.conn.execute(
            "UPDATE triggers SET last_fired_at = ?1, last_request_id = ?2, \
             last_dispatch_status = ?3, fire_count = fire_count + 1 WHERE id = ?4",
            params![now, f.request_id, f.dispatch_status, f.id],
        ),
    }
    .map_err(db_error)?;
    // A tick another node settled first is theirs to record.
    if changed == 1
        && let Some(event) = f.audit
    {
        audit::append(ctx, event, f.now)?;
    }
    Ok(())
}
