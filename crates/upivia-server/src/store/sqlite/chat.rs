//! Chat sessions, messages and pauses on SQLite. Every write is one job of
//! the writer, so "reuse an open empty session" and "take the pause" are
//! each one atomic step.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{db_error, rows};
use crate::store::{
    AppendChat, ChatMessage, ChatPause, ChatSession, ChatSessionFilter, NewChatSession,
    PauseChange, StoreError, StoreResult,
};

const SESSION_COLUMNS: &str = "id, org_id, user_id, agent_id, model_id, title, message_count, \
    created_at, last_message_at, closed_at";
const MESSAGE_COLUMNS: &str =
    "id, session_id, role, content, tool_calls, tool_call_id, tool_name, created_at";
const PAUSE_COLUMNS: &str = "session_id, kind, request_id, approval_id, state, created_at";

fn session(row: &Row<'_>) -> rusqlite::Result<ChatSession> {
    Ok(ChatSession {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        user_id: row.get("user_id")?,
        agent_id: row.get("agent_id")?,
        model_id: row.get("model_id")?,
        title: row.get("title")?,
        message_count: row.get("message_count")?,
        created_at: rows::time_col(row, "created_at")?,
        last_message_at: rows::opt_time_col(row, "last_message_at")?,
        closed_at: rows::opt_time_col(row, "closed_at")?,
    })
}

fn message(row: &Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        id: row.get("id")?,
        session_id: row.get("session_id")?,
        role: row.get("role")?,
        content: row.get("content")?,
        tool_calls: rows::opt_json_col(row, "tool_calls")?,
        tool_call_id: row.get("tool_call_id")?,
        tool_name: row.get("tool_name")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

fn pause(row: &Row<'_>) -> rusqlite::Result<ChatPause> {
    Ok(ChatPause {
        session_id: row.get("session_id")?,
        kind: row.get("kind")?,
        request_id: row.get("request_id")?,
        approval_id: row.get("approval_id")?,
        state: rows::json_col(row, "state")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

pub(super) fn get(conn: &Connection, org_id: &str, id: &str) -> StoreResult<Option<ChatSession>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = ?1 AND org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], session).optional())
        .map_err(db_error)
}

pub(super) fn open(ctx: &mut WriteCtx<'_>, n: NewChatSession) -> StoreResult<ChatSession> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM chat_sessions \
         WHERE org_id = ?1 AND user_id = ?2 AND agent_id = ?3 AND model_id IS ?4 \
         AND closed_at IS NULL AND message_count = 0 AND room_id IS NULL \
         ORDER BY created_at DESC LIMIT 1"
    );
    let reusable = match n.room_id {
        Some(_) => None,
        None => ctx
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(
                    params![n.org_id.as_str(), n.user_id, n.agent_id, n.model_id],
                    session,
                )
                .optional()
            })
            .map_err(db_error)?,
    };
    if let Some(found) = reusable {
        return Ok(found);
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO chat_sessions (id, org_id, user_id, agent_id, model_id, title, \
             message_count, created_at, room_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)",
        )
        .and_then(|mut s| {
            s.execute(params![
                n.id,
                n.org_id.as_str(),
                n.user_id,
                n.agent_id,
                n.model_id,
                n.title,
                rows::ts(n.now),
                n.room_id
            ])
        })
        .map_err(db_error)?;
    get(ctx.conn, n.org_id.as_str(), &n.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    f: &ChatSessionFilter,
) -> StoreResult<Vec<ChatSession>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM chat_sessions \
         WHERE org_id = ?1 AND user_id = ?2 AND (?3 IS NULL OR agent_id = ?3) \
         AND (?4 OR closed_at IS NULL) AND (?5 OR message_count > 0) AND room_id IS NULL \
         ORDER BY COALESCE(last_message_at, created_at) DESC, id DESC LIMIT ?6"
    );
    // A team's filter is applied after the query: no limit there (-1).
    let limit = if f.agent_ids.is_some() {
        -1
    } else {
        i64::from(f.limit)
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let all = stmt
        .query_map(
            params![
                org_id,
                user_id,
                f.agent_id,
                f.include_closed,
                f.include_empty,
                limit
            ],
            session,
        )
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(all
        .into_iter()
        .filter(|s| {
            f.agent_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&s.agent_id))
        })
        .take(f.limit as usize)
        .collect())
}

pub(super) fn close(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    user_id: &str,
    id: Option<&str>,
    now: time::OffsetDateTime,
) -> StoreResult<u64> {
    let closed = ctx
        .conn
        .prepare_cached(
            "UPDATE chat_sessions SET closed_at = ?1 \
             WHERE org_id = ?2 AND user_id = ?3 AND closed_at IS NULL AND room_id IS NULL \
             AND (?4 IS NULL OR id = ?4)",
        )
        .and_then(|mut s| s.execute(params![rows::ts(now), org_id, user_id, id]))
        .map_err(db_error)?;
    Ok(closed as u64)
}

pub(super) fn messages(
    conn: &Connection,
    org_id: &str,
    session_id: &str,
) -> StoreResult<Vec<ChatMessage>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages m WHERE m.session_id = ?1 \
         AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = m.session_id AND s.org_id = ?2) \
         ORDER BY m.seq"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(params![session_id, org_id], message)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

pub(super) fn append(ctx: &mut WriteCtx<'_>, a: AppendChat) -> StoreResult<()> {
    if get(ctx.conn, a.org_id.as_str(), &a.session_id)?.is_none() {
        return Err(StoreError::NotFound);
    }
    for m in &a.messages {
        ctx.conn
            .prepare_cached(
                "INSERT INTO chat_messages (id, session_id, role, content, tool_calls, \
                 tool_call_id, tool_name, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    m.id,
                    a.session_id,
                    m.role,
                    m.content,
                    m.tool_calls.as_ref().map(|v| v.to_string()),
                    m.tool_call_id,
                    m.tool_name,
                    rows::ts(m.created_at)
                ])
            })
            .map_err(db_error)?;
    }
    if !a.messages.is_empty() {
        ctx.conn
            .prepare_cached(
                "UPDATE chat_sessions SET message_count = message_count + ?1, \
                 last_message_at = ?2 WHERE id = ?3",
            )
            .and_then(|mut s| {
                s.execute(params![
                    a.messages.len() as i64,
                    rows::ts(a.now),
                    a.session_id
                ])
            })
            .map_err(db_error)?;
    }
    match a.pause {
        PauseChange::Keep => {}
        PauseChange::Clear => {
            ctx.conn
                .prepare_cached("DELETE FROM chat_pauses WHERE session_id = ?1")
                .and_then(|mut s| s.execute([&a.session_id]))
                .map_err(db_error)?;
        }
        PauseChange::Set(p) => {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO chat_pauses (session_id, org_id, kind, request_id, approval_id, \
                     state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (session_id) DO UPDATE SET kind = excluded.kind, \
                     request_id = excluded.request_id, approval_id = excluded.approval_id, \
                     state = excluded.state, created_at = excluded.created_at",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        a.session_id,
                        a.org_id.as_str(),
                        p.kind,
                        p.request_id,
                        p.approval_id,
                        p.state.to_string(),
                        rows::ts(p.created_at)
                    ])
                })
                .map_err(db_error)?;
        }
    }
    Ok(())
}

pub(super) fn get_pause(
    conn: &Connection,
    org_id: &str,
    session_id: &str,
) -> StoreResult<Option<ChatPause>> {
    let sql =
        format!("SELECT {PAUSE_COLUMNS} FROM chat_pauses WHERE session_id = ?1 AND org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![session_id, org_id], pause).optional())
        .map_err(db_error)
}

pub(super) fn take_pause(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    session_id: &str,
) -> StoreResult<Option<ChatPause>> {
    let found = get_pause(ctx.conn, org_id, session_id)?;
    if found.is_some() {
        ctx.conn
            .prepare_cached("DELETE FROM chat_pauses WHERE session_id = ?1")
            .and_then(|mut s| s.execute([session_id]))
            .map_err(db_error)?;
    }
    Ok(found)
}
