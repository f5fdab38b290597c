//! `DeviceStore` on PostgreSQL, with the answers of `sqlite/devices.rs`.
//! A heartbeat's upsert locks the device row until it commits, so two
//! heartbeats of one session take its queued commands in turn, and the
//! commands are claimed with `FOR UPDATE SKIP LOCKED`: each is delivered
//! once.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::chat::{MessageRow, lock_session};
use super::{PgStore, db_error};
use crate::ids::OrgId;
use crate::store::*;

const DEVICE_COLUMNS: &str = "session_id, last_heartbeat_at, paused, cwd";
const COMMAND_COLUMNS: &str =
    "id, session_id, content, status, created_at, delivered_at, updated_at";

#[derive(sqlx::FromRow)]
struct DeviceRow {
    session_id: String,
    last_heartbeat_at: Option<OffsetDateTime>,
    paused: bool,
    cwd: Option<String>,
}

impl From<DeviceRow> for DeviceSession {
    fn from(r: DeviceRow) -> DeviceSession {
        DeviceSession {
            session_id: r.session_id,
            last_heartbeat_at: r.last_heartbeat_at,
            paused: r.paused,
            cwd: r.cwd,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CommandRow {
    id: String,
    session_id: String,
    content: String,
    status: String,
    created_at: OffsetDateTime,
    delivered_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
}

impl From<CommandRow> for DeviceCommand {
    fn from(r: CommandRow) -> DeviceCommand {
        DeviceCommand {
            id: r.id,
            session_id: r.session_id,
            content: r.content,
            status: r.status,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
            updated_at: r.updated_at,
        }
    }
}

/// A live session: the chat session's columns and the device's.
#[derive(sqlx::FromRow)]
struct LiveRow {
    id: String,
    org_id: String,
    user_id: String,
    agent_id: String,
    model_id: Option<String>,
    title: Option<String>,
    message_count: i64,
    created_at: OffsetDateTime,
    last_message_at: Option<OffsetDateTime>,
    closed_at: Option<OffsetDateTime>,
    last_heartbeat_at: Option<OffsetDateTime>,
    paused: bool,
    cwd: Option<String>,
}

async fn get_command(
    conn: &mut PgConnection,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<DeviceCommand>> {
    let sql =
        format!("SELECT {COMMAND_COLUMNS} FROM device_commands WHERE id = $1 AND org_id = $2");
    Ok(sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(DeviceCommand::from))
}

#[async_trait]
impl DeviceStore for PgStore {
    async fn device_heartbeat(&self, b: Heartbeat) -> StoreResult<HeartbeatOutcome> {
        let org = b.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_session(&mut tx, org, &b.session_id).await?;
        let sql = format!(
            "INSERT INTO device_sessions (session_id, org_id, last_heartbeat_at, paused, cwd) \
             VALUES ($1, $2, $3, FALSE, $4) ON CONFLICT (session_id) DO UPDATE SET \
             last_heartbeat_at = excluded.last_heartbeat_at, \
             cwd = COALESCE(excluded.cwd, device_sessions.cwd) RETURNING {DEVICE_COLUMNS}"
        );
        let device: DeviceSession = sqlx::query_as::<_, DeviceRow>(AssertSqlSafe(sql))
            .bind(&b.session_id)
            .bind(org)
            .bind(b.now)
            .bind(&b.cwd)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?
            .into();
        let mut commands = Vec::new();
        if !device.paused {
            let sql = format!(
                "UPDATE device_commands SET status = 'delivered', delivered_at = $1, \
                 updated_at = $1 WHERE status = 'queued' AND id IN (SELECT id FROM device_commands \
                 WHERE session_id = $2 AND status = 'queued' ORDER BY created_at, id LIMIT $3 \
                 FOR UPDATE SKIP LOCKED) RETURNING {COMMAND_COLUMNS}"
            );
            commands = sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
                .bind(b.now)
                .bind(&b.session_id)
                .bind(i64::from(b.limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(DeviceCommand::from)
                .collect::<Vec<_>>();
            commands.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        }
        tx.commit().await.map_err(db_error)?;
        Ok(HeartbeatOutcome { device, commands })
    }

    async fn device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<DeviceSession>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM device_sessions WHERE session_id = $1 AND org_id = $2"
        );
        Ok(sqlx::query_as::<_, DeviceRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .bind(org_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(DeviceSession::from))
    }

    async fn live_device_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        since: OffsetDateTime,
        recent: u32,
    ) -> StoreResult<Vec<LiveDeviceSession>> {
        let rows = sqlx::query_as::<_, LiveRow>(
            "SELECT s.id, s.org_id, s.user_id, s.agent_id, s.model_id, s.title, s.message_count, \
             s.created_at, s.last_message_at, s.closed_at, d.last_heartbeat_at, d.paused, d.cwd \
             FROM device_sessions d JOIN chat_sessions s ON s.id = d.session_id \
             WHERE d.org_id = $1 AND s.user_id = $2 AND d.last_heartbeat_at >= $3 \
             ORDER BY d.last_heartbeat_at DESC, s.id DESC",
        )
        .bind(org_id.as_str())
        .bind(user_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut newest = sqlx::query_as::<_, MessageRow>(
                "SELECT id, session_id, role, content, tool_calls, tool_call_id, tool_name, \
                 created_at FROM chat_messages WHERE session_id = $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(&r.id)
            .bind(i64::from(recent))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<StoreResult<Vec<_>>>()?;
            newest.reverse();
            out.push(LiveDeviceSession {
                device: DeviceSession {
                    session_id: r.id.clone(),
                    last_heartbeat_at: r.last_heartbeat_at,
                    paused: r.paused,
                    cwd: r.cwd,
                },
                session: ChatSession {
                    id: r.id,
                    org_id: r.org_id,
                    user_id: r.user_id,
                    agent_id: r.agent_id,
                    model_id: r.model_id,
                    title: r.title,
                    message_count: r.message_count,
                    created_at: r.created_at,
                    last_message_at: r.last_message_at,
                    closed_at: r.closed_at,
                },
                recent_messages: newest,
            });
        }
        Ok(out)
    }

    async fn set_device_paused(
        &self,
        org_id: &OrgId,
        session_id: &str,
        paused: bool,
    ) -> StoreResult<DeviceSession> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_session(&mut tx, org_id.as_str(), session_id).await?;
        let sql = format!(
            "INSERT INTO device_sessions (session_id, org_id, paused) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id) DO UPDATE SET paused = excluded.paused \
             RETURNING {DEVICE_COLUMNS}"
        );
        let device = sqlx::query_as::<_, DeviceRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .bind(org_id.as_str())
            .bind(paused)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(device.into())
    }

    async fn rename_device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
        title: &str,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE chat_sessions SET title = $1 WHERE id = $2 AND org_id = $3")
            .bind(title)
            .bind(session_id)
            .bind(org_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn queue_device_command(&self, n: NewDeviceCommand) -> StoreResult<DeviceCommand> {
        let org = n.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_session(&mut tx, org, &n.session_id).await?;
        let sql = format!(
            "INSERT INTO device_commands (id, session_id, org_id, content, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'queued', $5, $5) RETURNING {COMMAND_COLUMNS}"
        );
        let created = sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
            .bind(&n.id)
            .bind(&n.session_id)
            .bind(org)
            .bind(&n.content)
            .bind(n.now)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created.into())
    }

    async fn device_command(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<DeviceCommand>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get_command(&mut conn, org_id.as_str(), id).await
    }

    async fn set_device_command_status(
        &self,
        org_id: &OrgId,
        id: &str,
        status: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<DeviceCommand>> {
        let sql = format!(
            "UPDATE device_commands SET status = $1, updated_at = $2 WHERE id = $3 AND org_id = $4 \
             RETURNING {COMMAND_COLUMNS}"
        );
        Ok(sqlx::query_as::<_, CommandRow>(AssertSqlSafe(sql))
            .bind(status)
            .bind(now)
            .bind(id)
            .bind(org_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(DeviceCommand::from))
    }

    async fn delete_device_session(&self, org_id: &OrgId, session_id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        match lock_session(&mut tx, org_id.as_str(), session_id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Ok(false),
            Err(e) => return Err(e),
        }
        // Rows that refer to the chat session go first (foreign keys).
        for sql in [
            "DELETE FROM device_commands WHERE session_id = $1",
            "DELETE FROM device_sessions WHERE session_id = $1",
            "DELETE FROM chat_pauses WHERE session_id = $1",
            "DELETE FROM chat_messages WHERE session_id = $1",
            "DELETE FROM chat_sessions WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(session_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }
}
