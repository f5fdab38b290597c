//! Device sessions and commands on SQLite. Every write is one job of the
//! writer, so a heartbeat's "take the queued commands" is one atomic step
//! and no command is delivered twice.

use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{chat, db_error, rows};
use crate::store::{
    ChatMessage, DeviceCommand, DeviceSession, Heartbeat, HeartbeatOutcome, LiveDeviceSession,
    NewDeviceCommand, StoreError, StoreResult,
};

const DEVICE_COLUMNS: &str = "session_id, last_heartbeat_at, paused, cwd";
const COMMAND_COLUMNS: &str =
    "id, session_id, content, status, created_at, delivered_at, updated_at";

fn device(row: &Row<'_>) -> rusqlite::Result<DeviceSession> {
    Ok(DeviceSession {
        session_id: row.get("session_id")?,
        last_heartbeat_at: rows::opt_time_col(row, "last_heartbeat_at")?,
        paused: row.get("paused")?,
        cwd: row.get("cwd")?,
    })
}

fn command(row: &Row<'_>) -> rusqlite::Result<DeviceCommand> {
    Ok(DeviceCommand {
        id: row.get("id")?,
        session_id: row.get("session_id")?,
        content: row.get("content")?,
        status: row.get("status")?,
        created_at: rows::time_col(row, "created_at")?,
        delivered_at: rows::opt_time_col(row, "delivered_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

pub(super) fn get(
    conn: &Connection,
    org_id: &str,
    session_id: &str,
) -> StoreResult<Option<DeviceSession>> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM device_sessions WHERE session_id = ?1 AND org_id = ?2"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![session_id, org_id], device).optional())
        .map_err(db_error)
}

fn require_session(conn: &Connection, org_id: &str, session_id: &str) -> StoreResult<()> {
    chat::get(conn, org_id, session_id)?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

pub(super) fn heartbeat(ctx: &mut WriteCtx<'_>, b: Heartbeat) -> StoreResult<HeartbeatOutcome> {
    let org = b.org_id.as_str();
    require_session(ctx.conn, org, &b.session_id)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO device_sessions (session_id, org_id, last_heartbeat_at, paused, cwd) \
             VALUES (?1, ?2, ?3, 0, ?4) ON CONFLICT (session_id) DO UPDATE SET \
             last_heartbeat_at = excluded.last_heartbeat_at, \
             cwd = COALESCE(excluded.cwd, device_sessions.cwd)",
        )
        .and_then(|mut s| s.execute(params![b.session_id, org, rows::ts(b.now), b.cwd]))
        .map_err(db_error)?;
    let state = get(ctx.conn, org, &b.session_id)?.ok_or(StoreError::NotFound)?;
    if state.paused {
        return Ok(HeartbeatOutcome {
            device: state,
            commands: Vec::new(),
        });
    }
    let sql = format!(
        "SELECT {COMMAND_COLUMNS} FROM device_commands \
         WHERE session_id = ?1 AND status = 'queued' ORDER BY created_at, id LIMIT ?2"
    );
    let mut taken = ctx
        .conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params![b.session_id, i64::from(b.limit)], command)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_error)?;
    for c in &mut taken {
        ctx.conn
            .prepare_cached(
                "UPDATE device_commands SET status = 'delivered', delivered_at = ?1, \
                 updated_at = ?1 WHERE id = ?2",
            )
            .and_then(|mut s| s.execute(params![rows::ts(b.now), c.id]))
            .map_err(db_error)?;
        c.status = "delivered".into();
        c.delivered_at = Some(b.now);
        c.updated_at = b.now;
    }
    Ok(HeartbeatOutcome {
        device: state,
        commands: taken,
    })
}

pub(super) fn live(
    conn: &Connection,
    org_id: &str,
    user_id: &str,
    since: OffsetDateTime,
    recent: u32,
) -> StoreResult<Vec<LiveDeviceSession>> {
    let sql = "SELECT s.id AS session_id, d.last_heartbeat_at, d.paused, d.cwd \
               FROM device_sessions d JOIN chat_sessions s ON s.id = d.session_id \
               WHERE d.org_id = ?1 AND s.user_id = ?2 AND d.last_heartbeat_at >= ?3 \
               ORDER BY d.last_heartbeat_at DESC, s.id DESC";
    let devices = conn
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params![org_id, user_id, rows::ts(since)], device)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_error)?;
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        let Some(session) = chat::get(conn, org_id, &d.session_id)? else {
            continue;
        };
        let recent_messages = recent_messages(conn, &d.session_id, recent)?;
        out.push(LiveDeviceSession {
            session,
            device: d,
            recent_messages,
        });
    }
    Ok(out)
}

fn recent_messages(
    conn: &Connection,
    session_id: &str,
    limit: u32,
) -> StoreResult<Vec<ChatMessage>> {
    let mut newest = conn
        .prepare_cached(
            "SELECT id, session_id, role, content, tool_calls, tool_call_id, tool_name, \
             created_at FROM chat_messages WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![session_id, i64::from(limit)], |row| {
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
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(db_error)?;
    newest.reverse();
    Ok(newest)
}

pub(super) fn set_paused(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    session_id: &str,
    paused: bool,
) -> StoreResult<DeviceSession> {
    require_session(ctx.conn, org_id, session_id)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO device_sessions (session_id, org_id, paused) VALUES (?1, ?2, ?3) \
             ON CONFLICT (session_id) DO UPDATE SET paused = excluded.paused",
        )
        .and_then(|mut s| s.execute(params![session_id, org_id, paused]))
        .map_err(db_error)?;
    get(ctx.conn, org_id, session_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn rename(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    session_id: &str,
    title: &str,
) -> StoreResult<()> {
    let changed = ctx
        .conn
        .prepare_cached("UPDATE chat_sessions SET title = ?1 WHERE id = ?2 AND org_id = ?3")
        .and_then(|mut s| s.execute(params![title, session_id, org_id]))
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn get_command(
    conn: &Connection,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<DeviceCommand>> {
    let sql =
        format!("SELECT {COMMAND_COLUMNS} FROM device_commands WHERE id = ?1 AND org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], command).optional())
        .map_err(db_error)
}

pub(super) fn queue(ctx: &mut WriteCtx<'_>, n: NewDeviceCommand) -> StoreResult<DeviceCommand> {
    let org = n.org_id.as_str();
    require_session(ctx.conn, org, &n.session_id)?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO device_commands (id, session_id, org_id, content, status, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5)",
        )
        .and_then(|mut s| s.execute(params![n.id, n.session_id, org, n.content, rows::ts(n.now)]))
        .map_err(db_error)?;
    get_command(ctx.conn, org, &n.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn set_status(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    id: &str,
    status: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<DeviceCommand>> {
    ctx.conn
        .prepare_cached(
            "UPDATE device_commands SET status = ?1, updated_at = ?2 WHERE id = ?3 AND org_id = ?4",
        )
        .and_then(|mut s| s.execute(params![status, rows::ts(now), id, org_id]))
        .map_err(db_error)?;
    get_command(ctx.conn, org_id, id)
}

pub(super) fn delete(ctx: &mut WriteCtx<'_>, org_id: &str, session_id: &str) -> StoreResult<bool> {
    if chat::get(ctx.conn, org_id, session_id)?.is_none() {
        return Ok(false);
    }
    // Rows that refer to the chat session go first (foreign keys).
    for sql in [
        "DELETE FROM device_commands WHERE session_id = ?1",
        "DELETE FROM device_sessions WHERE session_id = ?1",
        "DELETE FROM chat_pauses WHERE session_id = ?1",
        "DELETE FROM chat_messages WHERE session_id = ?1",
        "DELETE FROM chat_sessions WHERE id = ?1",
    ] {
        ctx.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([session_id]))
            .map_err(db_error)?;
    }
    Ok(true)
}
