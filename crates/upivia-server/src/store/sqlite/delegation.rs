//! Delegated tasks on SQLite. The writer runs one job at a time, and each
//! change is one conditional update (the status compare-and-set, and the
//! `last_seq` counter its events take their numbers from), so a second
//! transition sees the first.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::money::Cents;
use crate::store::{
    DelegatedTask, NewDelegatedTask, NewTaskEvent, StoreError, StoreResult, TaskCreated,
    TaskDirection, TaskEvent, TaskEventKind, TaskQuery, TaskStatus, TaskUpdated, UpdateTask,
};

const COLUMNS: &str = "id, org_id, parent_agent_id, child_agent_id, objective, budget_cap_cents, \
    permissions, model_id, status, result, last_seq, created_at, updated_at";

fn bad(column: &str, raw: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {raw:?}").into(),
    )
}

fn row(row: &Row<'_>) -> rusqlite::Result<DelegatedTask> {
    let status: String = row.get("status")?;
    let permissions: String = row.get("permissions")?;
    Ok(DelegatedTask {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        parent_agent_id: row.get("parent_agent_id")?,
        child_agent_id: row.get("child_agent_id")?,
        objective: row.get("objective")?,
        budget_cap: row
            .get::<_, Option<i64>>("budget_cap_cents")?
            .map(Cents::new),
        permissions: serde_json::from_str(&permissions)
            .map_err(|_| bad("permissions", &permissions))?,
        model_id: row.get("model_id")?,
        status: TaskStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        result: rows::opt_json_col(row, "result")?,
        last_seq: row.get("last_seq")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<TaskEvent> {
    let kind: String = row.get("kind")?;
    Ok(TaskEvent {
        seq: row.get("seq")?,
        kind: TaskEventKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        path: row.get("path")?,
        detail: rows::json_col(row, "detail")?,
        at: rows::time_col(row, "at")?,
    })
}

pub(super) fn get(
    conn: &Connection,
    org_id: &str,
    task_id: &str,
) -> StoreResult<Option<DelegatedTask>> {
    let sql = format!("SELECT {COLUMNS} FROM delegated_tasks WHERE id = ?1 AND org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![task_id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(conn: &Connection, q: TaskQuery) -> StoreResult<Vec<DelegatedTask>> {
    let side = match q.direction {
        TaskDirection::Created => "parent_agent_id = ?2",
        TaskDirection::Received => "child_agent_id = ?2",
        TaskDirection::Both => "(parent_agent_id = ?2 OR child_agent_id = ?2)",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM delegated_tasks WHERE org_id = ?1 AND {side} \
         AND (?3 IS NULL OR status = ?3) ORDER BY created_at DESC, id DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(
        params![
            q.org_id.as_str(),
            q.agent_id.as_str(),
            q.status.map(TaskStatus::as_str),
            q.limit
        ],
        row,
    )
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

pub(super) fn events(
    conn: &Connection,
    task_id: &str,
    kind: TaskEventKind,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<TaskEvent>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, kind, path, detail, at FROM delegated_task_events \
             WHERE task_id = ?1 AND kind = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )
        .map_err(db_error)?;
    stmt.query_map(params![task_id, kind.as_str(), after, limit], event_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Inserts `events` numbered after `last_seq` (already taken by the caller's update).
fn insert_events(
    conn: &Connection,
    task_id: &str,
    first_seq: i64,
    events: &[NewTaskEvent],
    at: &str,
) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO delegated_task_events (task_id, seq, kind, path, detail, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_error)?;
    for (seq, event) in (first_seq..).zip(events) {
        stmt.execute(params![
            task_id,
            seq,
            event.kind.as_str(),
            event.path,
            json_text(&event.detail),
            at
        ])
        .map_err(db_error)?;
    }
    Ok(())
}

fn event_count(events: &[NewTaskEvent]) -> StoreResult<i64> {
    i64::try_from(events.len()).map_err(|_| StoreError::Corrupt("too many task events".into()))
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewDelegatedTask) -> StoreResult<TaskCreated> {
    let org = n.org_id.as_str();
    let parent: Option<Option<String>> = ctx
        .conn
        .prepare_cached(
            "SELECT parent_agent_id FROM agents WHERE id = ?1 AND org_id = ?2 \
             AND deleted_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![n.child_agent_id.as_str(), org], |r| r.get(0))
                .optional()
        })
        .map_err(db_error)?;
    match parent {
        None => return Ok(TaskCreated::NoChild),
        Some(p) if p.as_deref() != Some(n.parent_agent_id.as_str()) => {
            return Ok(TaskCreated::NotAChild);
        }
        Some(_) => {}
    }
    let now = rows::ts(n.now);
    let permissions = serde_json::to_string(&n.permissions)
        .map_err(|e| StoreError::Corrupt(format!("permissions: {e}")))?;
    ctx.conn
        .execute(
            "INSERT INTO delegated_tasks (id, org_id, parent_agent_id, child_agent_id, objective, \
             budget_cap_cents, permissions, model_id, status, last_seq, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 1, ?9, ?9)",
            params![
                n.id,
                org,
                n.parent_agent_id.as_str(),
                n.child_agent_id.as_str(),
                n.objective,
                n.budget_cap.map(Cents::get),
                permissions,
                n.model_id,
                now
            ],
        )
        .map_err(db_error)?;
    let created = NewTaskEvent {
        kind: TaskEventKind::Status,
        path: None,
        detail: serde_json::json!({"to": "pending"}),
    };
    insert_events(ctx.conn, &n.id, 1, &[created], &now)?;
    audit::append(ctx, n.audit, n.now)?;
    let task = get(ctx.conn, org, &n.id)?.ok_or(StoreError::NotFound)?;
    Ok(TaskCreated::Created(Box::new(task)))
}

pub(super) fn update(ctx: &mut WriteCtx<'_>, u: UpdateTask) -> StoreResult<TaskUpdated> {
    let org = u.org_id.as_str();
    let now = rows::ts(u.now);
    let count = event_count(&u.events)?;
    let result = u.result.as_ref().map(json_text);
    let last: Option<i64> = ctx
        .conn
        .prepare_cached(
            "UPDATE delegated_tasks SET status = COALESCE(?1, status), \
             result = COALESCE(?2, result), last_seq = last_seq + ?3, updated_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 AND status = ?7 RETURNING last_seq",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    u.status.map(TaskStatus::as_str),
                    result,
                    count,
                    now,
                    u.task_id,
                    org,
                    u.expect.as_str()
                ],
                |r| r.get(0),
            )
            .optional()
        })
        .map_err(db_error)?;
    let Some(last) = last else {
        let current = get(ctx.conn, org, &u.task_id)?.ok_or(StoreError::NotFound)?;
        return Ok(TaskUpdated::Stale(current));
    };
    insert_events(ctx.conn, &u.task_id, last - count + 1, &u.events, &now)?;
    audit::append(ctx, u.audit, u.now)?;
    let task = get(ctx.conn, org, &u.task_id)?.ok_or(StoreError::NotFound)?;
    Ok(TaskUpdated::Updated(task))
}

pub(super) fn append_event(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    task_id: &str,
    event: NewTaskEvent,
    now: OffsetDateTime,
) -> StoreResult<i64> {
    let at = rows::ts(now);
    let seq: i64 = ctx
        .conn
        .prepare_cached(
            "UPDATE delegated_tasks SET last_seq = last_seq + 1 \
             WHERE id = ?1 AND org_id = ?2 RETURNING last_seq",
        )
        .and_then(|mut s| {
            s.query_row(params![task_id, org_id], |r| r.get(0))
                .optional()
        })
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
    insert_events(ctx.conn, task_id, seq, &[event], &at)?;
    Ok(seq)
}
