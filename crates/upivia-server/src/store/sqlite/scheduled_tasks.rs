//! Scheduled tasks and their runs on SQLite. A run is claimed by moving
//! the task's `next_run_at` from the tick with a conditional update and
//! inserting its pending row in the same job; `(task_id, scheduled_for)`
//! is unique, so one tick has one run whatever happens.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::model::AuditEvent;
use crate::store::{
    ClaimRun, FinishRun, NewScheduledTask, ReplaceScheduledTask, RunState, ScheduledTask,
    ScheduledTaskQuery, ScheduledTaskStatus, StoreError, StoreResult, TaskRun,
};

const COLUMNS: &str = "id, org_id, agent_id, name, description, category, service, operation, \
    payload, schedule, run_at, timezone, status, next_run_at, last_run_at, run_count, created_by, \
    created_at, updated_at";

const RUN_COLUMNS: &str = "r.id, r.task_id, r.org_id, r.agent_id, r.scheduled_for, r.state, \
    r.service_request_id, sr.status AS request_status, r.dispatch_status, r.reason_code, r.error, \
    r.started_at, r.claimed_at, r.finished_at";

const RUN_FROM: &str =
    "scheduled_task_runs r LEFT JOIN service_requests sr ON sr.id = r.service_request_id";

fn bad(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {value:?}").into(),
    )
}

fn row(row: &Row<'_>) -> rusqlite::Result<ScheduledTask> {
    let status: String = row.get("status")?;
    Ok(ScheduledTask {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        category: row.get("category")?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        payload: rows::json_col(row, "payload")?,
        schedule: row.get("schedule")?,
        run_at: rows::opt_time_col(row, "run_at")?,
        timezone: row.get("timezone")?,
        status: ScheduledTaskStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        next_run_at: rows::opt_time_col(row, "next_run_at")?,
        last_run_at: rows::opt_time_col(row, "last_run_at")?,
        run_count: row.get("run_count")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn run_row(row: &Row<'_>) -> rusqlite::Result<TaskRun> {
    let state: String = row.get("state")?;
    Ok(TaskRun {
        id: row.get("id")?,
        task_id: row.get("task_id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        scheduled_for: rows::time_col(row, "scheduled_for")?,
        state: RunState::parse(&state).ok_or_else(|| bad("state", &state))?,
        service_request_id: row.get("service_request_id")?,
        request_status: row.get("request_status")?,
        dispatch_status: row.get("dispatch_status")?,
        reason_code: row.get("reason_code")?,
        error: row.get("error")?,
        started_at: rows::time_col(row, "started_at")?,
        claimed_at: rows::time_col(row, "claimed_at")?,
        finished_at: rows::opt_time_col(row, "finished_at")?,
    })
}

pub(super) fn get(
    conn: &Connection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<ScheduledTask>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2)"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    q: ScheduledTaskQuery,
) -> StoreResult<(Vec<ScheduledTask>, u64)> {
    const FILTER: &str = "org_id = ?1 AND (?2 IS NULL OR status = ?2) \
        AND (?3 IS NULL OR agent_id = ?3) AND (?4 IS NULL OR category = ?4)";
    let status = q.status.map(ScheduledTaskStatus::as_str);
    let agent = q.agent_id.as_ref().map(|a| a.as_str());
    let org = q.org_id.as_str();
    let total: i64 = conn
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM scheduled_tasks WHERE {FILTER}"
        ))
        .and_then(|mut s| s.query_row(params![org, status, agent, q.category], |r| r.get(0)))
        .map_err(db_error)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE {FILTER} \
         ORDER BY created_at DESC, id DESC LIMIT ?5 OFFSET ?6"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let tasks = stmt
        .query_map(
            params![org, status, agent, q.category, q.limit, q.offset],
            row,
        )
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok((tasks, u64::try_from(total).unwrap_or(0)))
}

pub(super) fn runs(
    conn: &Connection,
    org_id: &str,
    task_id: &str,
    limit: u32,
    offset: u32,
) -> StoreResult<(Vec<TaskRun>, u64)> {
    let total: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM scheduled_task_runs WHERE task_id = ?1 AND org_id = ?2",
        )
        .and_then(|mut s| s.query_row(params![task_id, org_id], |r| r.get(0)))
        .map_err(db_error)?;
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.task_id = ?1 AND r.org_id = ?2 \
         ORDER BY r.scheduled_for DESC, r.id DESC LIMIT ?3 OFFSET ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let runs = stmt
        .query_map(params![task_id, org_id, limit, offset], run_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok((runs, u64::try_from(total).unwrap_or(0)))
}

fn run(conn: &Connection, run_id: &str) -> StoreResult<Option<TaskRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![run_id], run_row).optional())
        .map_err(db_error)
}

pub(super) fn due(conn: &Connection, now: &str, limit: u32) -> StoreResult<Vec<ScheduledTask>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE status = 'active' AND next_run_at <= ?1 \
         ORDER BY next_run_at LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![now, limit], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn stale_runs(
    conn: &Connection,
    stale_before: &str,
    limit: u32,
) -> StoreResult<Vec<TaskRun>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.state = 'pending' AND r.claimed_at <= ?1 \
         LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![stale_before, limit], run_row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewScheduledTask) -> StoreResult<ScheduledTask> {
    let now = rows::ts(n.now);
    ctx.conn
        .execute(
            "INSERT INTO scheduled_tasks (id, org_id, agent_id, name, description, category, \
             service, operation, payload, schedule, run_at, timezone, status, next_run_at, \
             created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'active', ?13, ?14, ?15, ?15)",
            params![
                n.id,
                n.org_id.as_str(),
                n.agent_id.as_str(),
                n.name,
                n.description,
                n.category,
                n.service,
                n.operation,
                n.payload.to_string(),
                n.schedule,
                n.run_at.map(rows::ts),
                n.timezone,
                n.next_run_at.map(rows::ts),
                n.created_by,
                now
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, n.audit, n.now)?;
    get(ctx.conn, None, &n.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn replace(
    ctx: &mut WriteCtx<'_>,
    r: ReplaceScheduledTask,
) -> StoreResult<ScheduledTask> {
    let t = &r.task;
    let changed = ctx
        .conn
        .execute(
            "UPDATE scheduled_tasks SET name = ?1, description = ?2, category = ?3, payload = ?4, \
             schedule = ?5, run_at = ?6, timezone = ?7, status = ?8, next_run_at = ?9, \
             updated_at = ?10 WHERE id = ?11 AND org_id = ?12 AND updated_at = ?13",
            params![
                t.name,
                t.description,
                t.category,
                t.payload.to_string(),
                t.schedule,
                t.run_at.map(rows::ts),
                t.timezone,
                t.status.as_str(),
                t.next_run_at.map(rows::ts),
                rows::ts(r.now),
                t.id,
                t.org_id,
                rows::ts(r.expected_updated_at)
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return match get(ctx.conn, Some(&t.org_id), &t.id)? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::Conflict(
                "the task changed meanwhile (it ran, or someone else changed it); read it and try again"
                    .into(),
            )),
        };
    }
    audit::append(ctx, r.audit, r.now)?;
    get(ctx.conn, None, &t.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn delete(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    id: &str,
    event: AuditEvent,
    now: time::OffsetDateTime,
) -> StoreResult<()> {
    ctx.conn
        .execute(
            "DELETE FROM scheduled_task_runs WHERE task_id = ?1 AND org_id = ?2",
            params![id, org_id],
        )
        .map_err(db_error)?;
    let changed = ctx
        .conn
        .execute(
            "DELETE FROM scheduled_tasks WHERE id = ?1 AND org_id = ?2",
            params![id, org_id],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)
}

pub(super) fn claim(ctx: &mut WriteCtx<'_>, c: ClaimRun) -> StoreResult<Option<TaskRun>> {
    let now = rows::ts(c.now);
    let tick = rows::ts(c.tick);
    let changed = ctx
        .conn
        .execute(
            "UPDATE scheduled_tasks SET next_run_at = ?1, last_run_at = ?2, \
             run_count = run_count + 1, \
             status = CASE WHEN ?1 IS NULL THEN 'completed' ELSE status END, updated_at = ?2 \
             WHERE id = ?3 AND status = 'active' AND next_run_at = ?4",
            params![c.next.map(rows::ts), now, c.task_id, tick],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Ok(None);
    }
    ctx.conn
        .execute(
            "INSERT INTO scheduled_task_runs (id, task_id, org_id, agent_id, scheduled_for, state, \
             started_at, claimed_at) \
             SELECT ?1, id, org_id, agent_id, ?2, 'pending', ?3, ?3 FROM scheduled_tasks WHERE id = ?4",
            params![c.run_id, tick, now, c.task_id],
        )
        .map_err(db_error)?;
    run(ctx.conn, &c.run_id)
}

pub(super) fn reclaim(
    ctx: &mut WriteCtx<'_>,
    run_id: &str,
    stale_before: &str,
    now: &str,
) -> StoreResult<bool> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE scheduled_task_runs SET claimed_at = ?1 \
             WHERE id = ?2 AND state = 'pending' AND claimed_at <= ?3",
            params![now, run_id, stale_before],
        )
        .map_err(db_error)?;
    Ok(changed == 1)
}

pub(super) fn finish(ctx: &mut WriteCtx<'_>, f: FinishRun) -> StoreResult<()> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE scheduled_task_runs SET state = ?1, service_request_id = ?2, \
             dispatch_status = ?3, reason_code = ?4, error = ?5, finished_at = ?6 \
             WHERE id = ?7 AND state = 'pending'",
            params![
                f.state.as_str(),
                f.service_request_id,
                f.dispatch_status,
                f.reason_code,
                f.error,
                rows::ts(f.now),
                f.run_id
            ],
        )
        .map_err(db_error)?;
    if changed == 1
        && let Some(event) = f.audit
    {
        audit::append(ctx, event, f.now)?;
    }
    Ok(())
}
