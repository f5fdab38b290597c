//! Human-input requests. Asking under a key looks the key up first inside
//! the writer's job, and the writer runs one job at a time, so a second ask
//! finds the first's row; answering and cancelling are conditional updates
//! of a pending row.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::store::{
    AnswerHumanInput, CancelHumanInput, HumanInput, HumanInputAsked, HumanInputClosed,
    HumanInputQuery, HumanInputSource, HumanInputStatus, HumanInputViewer, NewHumanInput,
    StoreError, StoreResult,
};

const COLUMNS: &str = "id, org_id, source, title, prompt_text, assignee_email, workflow_id, \
    workflow_name, workflow_run_id, step_id, room_id, agent_id, dedupe_key, status, answer_text, \
    answered_by_user_id, answered_by_email, created_at, answered_at, cancelled_at";

fn bad(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {value:?}").into(),
    )
}

fn row(row: &Row<'_>) -> rusqlite::Result<HumanInput> {
    let status: String = row.get("status")?;
    let source: String = row.get("source")?;
    Ok(HumanInput {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        source: HumanInputSource::parse(&source).ok_or_else(|| bad("source", &source))?,
        title: row.get("title")?,
        prompt_text: row.get("prompt_text")?,
        assignee_email: row.get("assignee_email")?,
        workflow_id: row.get("workflow_id")?,
        workflow_name: row.get("workflow_name")?,
        workflow_run_id: row.get("workflow_run_id")?,
        step_id: row.get("step_id")?,
        room_id: row.get("room_id")?,
        agent_id: row.get("agent_id")?,
        dedupe_key: row.get("dedupe_key")?,
        status: HumanInputStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        answer_text: row.get("answer_text")?,
        answered_by_user_id: row.get("answered_by_user_id")?,
        answered_by_email: row.get("answered_by_email")?,
        created_at: rows::time_col(row, "created_at")?,
        answered_at: rows::opt_time_col(row, "answered_at")?,
        cancelled_at: rows::opt_time_col(row, "cancelled_at")?,
    })
}

pub(super) fn get(conn: &Connection, org_id: &str, id: &str) -> StoreResult<Option<HumanInput>> {
    let sql = format!("SELECT {COLUMNS} FROM human_inputs WHERE id = ?1 AND org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn by_key(conn: &Connection, key: &str) -> StoreResult<Option<HumanInput>> {
    let sql = format!("SELECT {COLUMNS} FROM human_inputs WHERE dedupe_key = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![key], row).optional())
        .map_err(db_error)
}

pub(super) fn list(conn: &Connection, q: HumanInputQuery) -> StoreResult<Vec<HumanInput>> {
    let (everyone, email) = match &q.viewer {
        HumanInputViewer::Everyone => (1, String::new()),
        HumanInputViewer::Assignee(email) => (0, email.to_lowercase()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM human_inputs WHERE org_id = ?1 \
         AND (?2 IS NULL OR status = ?2) \
         AND (?3 = 1 OR assignee_email IS NULL OR lower(assignee_email) = ?4) \
         ORDER BY created_at DESC, id DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(
        params![
            q.org_id.as_str(),
            q.status.map(HumanInputStatus::as_str),
            everyone,
            email,
            q.limit
        ],
        row,
    )
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

pub(super) fn of_run(
    conn: &Connection,
    org_id: &str,
    run_id: &str,
) -> StoreResult<Vec<HumanInput>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM human_inputs WHERE workflow_run_id = ?1 AND org_id = ?2 \
         ORDER BY created_at, id"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![run_id, org_id], row)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn pending(conn: &Connection, org_id: &str) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM human_inputs WHERE org_id = ?1 AND status = 'pending'",
        )
        .and_then(|mut s| s.query_row(params![org_id], |r| r.get(0)))
        .map_err(db_error)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("a count of {n}")))
}

pub(super) fn ask(ctx: &mut WriteCtx<'_>, n: NewHumanInput) -> StoreResult<HumanInputAsked> {
    if let Some(key) = &n.dedupe_key
        && let Some(existing) = by_key(ctx.conn, key)?
    {
        return Ok(HumanInputAsked::Existing(existing));
    }
    let org = n.org_id.as_str();
    ctx.conn
        .execute(
            "INSERT INTO human_inputs (id, org_id, source, title, prompt_text, assignee_email, \
             workflow_id, workflow_name, workflow_run_id, step_id, room_id, agent_id, dedupe_key, \
             status, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'pending', ?14)",
            params![
                n.id,
                org,
                n.source.as_str(),
                n.title,
                n.prompt_text,
                n.assignee_email,
                n.workflow_id,
                n.workflow_name,
                n.workflow_run_id,
                n.step_id,
                n.room_id,
                n.agent_id,
                n.dedupe_key,
                rows::ts(n.now)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, n.audit, n.now)?;
    let created = get(ctx.conn, org, &n.id)?.ok_or(StoreError::NotFound)?;
    Ok(HumanInputAsked::Created(created))
}

pub(super) fn answer(ctx: &mut WriteCtx<'_>, a: AnswerHumanInput) -> StoreResult<HumanInputClosed> {
    let org = a.org_id.as_str();
    let changed = ctx
        .conn
        .execute(
            "UPDATE human_inputs SET status = 'answered', answer_text = ?1, \
             answered_by_user_id = ?2, answered_by_email = ?3, answered_at = ?4 \
             WHERE id = ?5 AND org_id = ?6 AND status = 'pending'",
            params![a.text, a.user_id, a.email, rows::ts(a.now), a.id, org],
        )
        .map_err(db_error)?;
    let current = get(ctx.conn, org, &a.id)?.ok_or(StoreError::NotFound)?;
    if changed == 0 {
        return Ok(HumanInputClosed::AlreadyClosed(current));
    }
    audit::append(ctx, a.audit, a.now)?;
    Ok(HumanInputClosed::Closed(current))
}

pub(super) fn cancel(ctx: &mut WriteCtx<'_>, c: CancelHumanInput) -> StoreResult<HumanInputClosed> {
    let org = c.org_id.as_str();
    let changed = ctx
        .conn
        .execute(
            "UPDATE human_inputs SET status = 'cancelled', cancelled_at = ?1 \
             WHERE id = ?2 AND org_id = ?3 AND status = 'pending'",
            params![rows::ts(c.now), c.id, org],
        )
        .map_err(db_error)?;
    let current = get(ctx.conn, org, &c.id)?.ok_or(StoreError::NotFound)?;
    if changed == 0 {
        return Ok(HumanInputClosed::AlreadyClosed(current));
    }
    audit::append(ctx, c.audit, c.now)?;
    Ok(HumanInputClosed::Closed(current))
}
