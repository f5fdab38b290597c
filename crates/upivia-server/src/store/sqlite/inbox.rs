//! The agent-requests inbox. A request is decided once: the decision is a
//! conditional update of a pending row, and the writer runs one job at a
//! time, so a second decision sees the first.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::store::{
    AgentRequest, DecideRequest, Decision, InboxQuery, InboxStatus, InboxViewer, NewAgentRequest,
    StatusFilter, StoreError, StoreResult,
};

const COLUMNS: &str = "r.id, r.org_id, r.agent_id, COALESCE(a.name, r.agent_name) AS agent_name, \
    a.owner_user_id AS agent_owner_user_id, r.created_by, r.created_by_user_id, r.request_type, \
    r.title, r.body, r.link, r.status, r.response, r.resolved_by_user_id, r.resolved_at, \
    r.created_at, r.updated_at";

const FROM: &str = "agent_requests r LEFT JOIN agents a ON a.id = r.agent_id";

fn row(row: &Row<'_>) -> rusqlite::Result<AgentRequest> {
    let status: String = row.get("status")?;
    Ok(AgentRequest {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        agent_name: row.get("agent_name")?,
        agent_owner_user_id: row.get("agent_owner_user_id")?,
        created_by: row.get("created_by")?,
        created_by_user_id: row.get("created_by_user_id")?,
        request_type: row.get("request_type")?,
        title: row.get("title")?,
        body: row.get("body")?,
        link: row.get("link")?,
        status: InboxStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("bad value in column status: {status:?}").into(),
            )
        })?,
        response: row.get("response")?,
        resolved_by_user_id: row.get("resolved_by_user_id")?,
        resolved_at: rows::opt_time_col(row, "resolved_at")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

pub(super) fn get(conn: &Connection, org_id: &str, id: &str) -> StoreResult<Option<AgentRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = ?1 AND r.org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

pub(super) fn list(conn: &Connection, q: InboxQuery) -> StoreResult<Vec<AgentRequest>> {
    let (viewer_kind, viewer_id) = match &q.viewer {
        InboxViewer::Everyone => (0, ""),
        InboxViewer::User(u) => (1, u.as_str()),
        InboxViewer::Agent(a) => (2, a.as_str()),
    };
    let status = match q.status {
        StatusFilter::Pending => "r.status = 'pending'",
        StatusFilter::Decided => "r.status IN ('resolved', 'rejected')",
        StatusFilter::Rejected => "r.status = 'rejected'",
        StatusFilter::All => "1",
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.org_id = ?1 AND {status} \
         AND (?2 = 0 OR (?2 = 1 AND (r.created_by_user_id = ?3 OR a.owner_user_id = ?3)) \
              OR (?2 = 2 AND r.agent_id = ?3)) \
         AND (?4 IS NULL OR r.request_type = ?4) \
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(
        params![
            q.org_id.as_str(),
            viewer_kind,
            viewer_id,
            q.request_type,
            q.limit
        ],
        row,
    )
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, n: NewAgentRequest) -> StoreResult<AgentRequest> {
    let org = n.org_id.as_str();
    let now = rows::ts(n.now);
    ctx.conn
        .execute(
            "INSERT INTO agent_requests (id, org_id, agent_id, agent_name, created_by, \
             created_by_user_id, request_type, title, body, link, status, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?11)",
            params![
                n.id,
                org,
                n.agent_id.as_ref().map(|a| a.as_str()),
                n.agent_name,
                n.created_by,
                n.created_by_user_id.as_ref().map(|u| u.as_str()),
                n.request_type,
                n.title,
                n.body,
                n.link,
                now
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, n.audit, n.now)?;
    get(ctx.conn, org, &n.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn decide(ctx: &mut WriteCtx<'_>, d: DecideRequest) -> StoreResult<Decision> {
    let org = d.org_id.as_str();
    let changed = ctx
        .conn
        .execute(
            "UPDATE agent_requests SET status = ?1, response = ?2, resolved_by_user_id = ?3, \
             resolved_at = ?4, updated_at = ?4 WHERE id = ?5 AND org_id = ?6 AND status = 'pending'",
            params![
                d.status.as_str(),
                d.response,
                d.user_id.as_str(),
                rows::ts(d.now),
                d.id,
                org
            ],
        )
        .map_err(db_error)?;
    let current = get(ctx.conn, org, &d.id)?.ok_or(StoreError::NotFound)?;
    if changed == 0 {
        return Ok(Decision::AlreadyDecided(current));
    }
    audit::append(ctx, d.audit, d.now)?;
    Ok(Decision::Decided(current))
}
