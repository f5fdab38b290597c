//! `ChatStore` on PostgreSQL, with the answers of `sqlite/chat.rs`. Taking
//! a pause is one `DELETE … RETURNING`: of two nodes resuming the same
//! turn, one gets the row and the other nothing.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, db_error};
use crate::ids::OrgId;
use crate::store::*;

const SESSION_COLUMNS: &str = "id, org_id, user_id, agent_id, model_id, title, message_count, \
    created_at, last_message_at, closed_at";
const MESSAGE_COLUMNS: &str =
    "id, session_id, role, content, tool_calls, tool_call_id, tool_name, created_at";
const PAUSE_COLUMNS: &str = "session_id, kind, request_id, approval_id, state, created_at";

#[derive(sqlx::FromRow)]
struct SessionRow {
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
}

impl From<SessionRow> for ChatSession {
    fn from(r: SessionRow) -> ChatSession {
        ChatSession {
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
        }
    }
}

/// A `chat_messages` row (the devices store reads them too).
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: String,
    session_id: String,
    role: String,
    content: String,
    tool_calls: Option<String>,
    tool_call_id: Option<String>,
    tool_name: Option<String>,
    created_at: OffsetDateTime,
}

impl MessageRow {
    pub(super) fn into_message(self) -> StoreResult<ChatMessage> {
        let tool_calls = match self.tool_calls {
            Some(raw) => Some(
                serde_json::from_str::<Value>(&raw)
                    .map_err(|_| corrupt(format!("chat message {} tool_calls", self.id)))?,
            ),
            None => None,
        };
        Ok(ChatMessage {
            id: self.id,
            session_id: self.session_id,
            role: self.role,
            content: self.content,
            tool_calls,
            tool_call_id: self.tool_call_id,
            tool_name: self.tool_name,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PauseRow {
    session_id: String,
    kind: String,
    request_id: Option<String>,
    approval_id: Option<String>,
    state: String,
    created_at: OffsetDateTime,
}

impl PauseRow {
    fn into_pause(self) -> StoreResult<ChatPause> {
        Ok(ChatPause {
            state: serde_json::from_str(&self.state)
                .map_err(|_| corrupt(format!("chat pause of {}", self.session_id)))?,
            session_id: self.session_id,
            kind: self.kind,
            request_id: self.request_id,
            approval_id: self.approval_id,
            created_at: self.created_at,
        })
    }
}

async fn get(conn: &mut PgConnection, org_id: &str, id: &str) -> StoreResult<Option<ChatSession>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM chat_sessions WHERE id = $1 AND org_id = $2");
    Ok(sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(ChatSession::from))
}

/// Locks the chat session's row; `NotFound` without it.
pub(super) async fn lock_session(
    conn: &mut PgConnection,
    org_id: &str,
    session_id: &str,
) -> StoreResult<()> {
    sqlx::query_scalar::<_, String>(
        "SELECT id FROM chat_sessions WHERE id = $1 AND org_id = $2 FOR NO KEY UPDATE",
    )
    .bind(session_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

#[async_trait]
impl ChatStore for PgStore {
    async fn open_chat_session(&self, n: NewChatSession) -> StoreResult<ChatSession> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM chat_sessions \
             WHERE org_id = $1 AND user_id = $2 AND agent_id = $3 \
             AND model_id IS NOT DISTINCT FROM $4 \
             AND closed_at IS NULL AND message_count = 0 AND room_id IS NULL \
             ORDER BY created_at DESC LIMIT 1"
        );
        let reusable = match n.room_id {
            Some(_) => None,
            None => sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
                .bind(n.org_id.as_str())
                .bind(&n.user_id)
                .bind(&n.agent_id)
                .bind(&n.model_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?,
        };
        if let Some(found) = reusable {
            tx.commit().await.map_err(db_error)?;
            return Ok(found.into());
        }
        sqlx::query(
            "INSERT INTO chat_sessions (id, org_id, user_id, agent_id, model_id, title, \
             message_count, created_at, room_id) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)",
        )
        .bind(&n.id)
        .bind(n.org_id.as_str())
        .bind(&n.user_id)
        .bind(&n.agent_id)
        .bind(&n.model_id)
        .bind(&n.title)
        .bind(n.now)
        .bind(&n.room_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let created = get(&mut tx, n.org_id.as_str(), &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn chat_session(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ChatSession>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), id).await
    }

    async fn chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        f: ChatSessionFilter,
    ) -> StoreResult<Vec<ChatSession>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM chat_sessions \
             WHERE org_id = $1 AND user_id = $2 AND ($3::text IS NULL OR agent_id = $3) \
             AND ($4::text[] IS NULL OR agent_id = ANY($4)) \
             AND ($5 OR closed_at IS NULL) AND ($6 OR message_count > 0) AND room_id IS NULL \
             ORDER BY COALESCE(last_message_at, created_at) DESC, id DESC LIMIT $7"
        );
        let rows = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(user_id)
            .bind(&f.agent_id)
            .bind(&f.agent_ids)
            .bind(f.include_closed)
            .bind(f.include_empty)
            .bind(i64::from(f.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(ChatSession::from).collect())
    }

    async fn close_chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        id: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE chat_sessions SET closed_at = $1 WHERE org_id = $2 AND user_id = $3 \
             AND closed_at IS NULL AND room_id IS NULL AND ($4::text IS NULL OR id = $4)",
        )
        .bind(now)
        .bind(org_id.as_str())
        .bind(user_id)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn chat_messages(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Vec<ChatMessage>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM chat_messages m WHERE m.session_id = $1 \
             AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = m.session_id AND s.org_id = $2) \
             ORDER BY m.seq"
        );
        sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(MessageRow::into_message)
            .collect()
    }

    async fn append_chat(&self, a: AppendChat) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Two turns of one session append in turn.
        lock_session(&mut tx, a.org_id.as_str(), &a.session_id).await?;
        for m in &a.messages {
            sqlx::query(
                "INSERT INTO chat_messages (id, session_id, role, content, tool_calls, \
                 tool_call_id, tool_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&m.id)
            .bind(&a.session_id)
            .bind(&m.role)
            .bind(&m.content)
            .bind(m.tool_calls.as_ref().map(Value::to_string))
            .bind(&m.tool_call_id)
            .bind(&m.tool_name)
            .bind(m.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        if !a.messages.is_empty() {
            sqlx::query(
                "UPDATE chat_sessions SET message_count = message_count + $1, \
                 last_message_at = $2 WHERE id = $3",
            )
            .bind(a.messages.len() as i64)
            .bind(a.now)
            .bind(&a.session_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        match &a.pause {
            PauseChange::Keep => {}
            PauseChange::Clear => {
                sqlx::query("DELETE FROM chat_pauses WHERE session_id = $1")
                    .bind(&a.session_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            PauseChange::Set(p) => {
                sqlx::query(
                    "INSERT INTO chat_pauses (session_id, org_id, kind, request_id, approval_id, \
                     state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (session_id) DO UPDATE SET kind = excluded.kind, \
                     request_id = excluded.request_id, approval_id = excluded.approval_id, \
                     state = excluded.state, created_at = excluded.created_at",
                )
                .bind(&a.session_id)
                .bind(a.org_id.as_str())
                .bind(&p.kind)
                .bind(&p.request_id)
                .bind(&p.approval_id)
                .bind(p.state.to_string())
                .bind(p.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
        }
        tx.commit().await.map_err(db_error)
    }

    async fn take_chat_pause(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<ChatPause>> {
        let sql = format!(
            "DELETE FROM chat_pauses WHERE session_id = $1 AND org_id = $2 RETURNING {PAUSE_COLUMNS}"
        );
        sqlx::query_as::<_, PauseRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .bind(org_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(PauseRow::into_pause)
            .transpose()
    }

    async fn chat_pause(&self, org_id: &OrgId, session_id: &str) -> StoreResult<Option<ChatPause>> {
        let sql = format!(
            "SELECT {PAUSE_COLUMNS} FROM chat_pauses WHERE session_id = $1 AND org_id = $2"
        );
        sqlx::query_as::<_, PauseRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .bind(org_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(PauseRow::into_pause)
            .transpose()
    }
}
