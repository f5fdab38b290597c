//! Chat sessions, their messages, and the state of a turn that paused (for
//! an approval, or for tools the client runs itself). A turn's messages
//! and its pause are written in one transaction, so a resumed turn always
//! finds the history it stopped with; taking a pause deletes it, so of two
//! resumes of one pause exactly one goes on.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;

#[derive(Clone, Debug, PartialEq)]
pub struct ChatSession {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    pub agent_id: String,
    pub model_id: Option<String>,
    pub title: Option<String>,
    pub message_count: i64,
    pub created_at: OffsetDateTime,
    pub last_message_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct NewChatSession {
    pub id: String,
    pub org_id: OrgId,
    pub user_id: String,
    pub agent_id: String,
    pub model_id: Option<String>,
    pub title: Option<String>,
    /// The room whose agent this session is (`domains::rooms`): never
    /// reused, listed or closed as a person's own chat.
    pub room_id: Option<String>,
    pub now: OffsetDateTime,
}

/// One message of a session.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub id: String,
    pub session_id: String,
    /// `user`, `assistant` or `tool`.
    pub role: String,
    pub content: String,
    /// On an assistant message that called tools: `[{id, name, arguments}]`.
    pub tool_calls: Option<Value>,
    /// On a tool message: the call it answers, and the tool's name.
    pub tool_call_id: Option<String>,
    pub tool_name: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Which sessions a list shows.
#[derive(Clone, Debug, Default)]
pub struct ChatSessionFilter {
    pub agent_id: Option<String>,
    /// Only sessions with one of these agents (a team's), when given.
    pub agent_ids: Option<Vec<String>>,
    pub include_closed: bool,
    pub include_empty: bool,
    pub limit: u32,
}

/// A turn that stopped, and what it needs to go on.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatPause {
    pub session_id: String,
    /// `approval` or `local_tools`.
    pub kind: String,
    pub request_id: Option<String>,
    pub approval_id: Option<String>,
    /// The turn's settings and its unanswered tool calls (the chat
    /// domain's `PausedTurn`, as JSON).
    pub state: Value,
    pub created_at: OffsetDateTime,
}

/// What a write does to the session's pause.
#[derive(Clone, Debug)]
pub enum PauseChange {
    Keep,
    Clear,
    Set(ChatPause),
}

/// Messages a turn adds, and its pause.
#[derive(Clone, Debug)]
pub struct AppendChat {
    pub org_id: OrgId,
    pub session_id: String,
    pub messages: Vec<ChatMessage>,
    pub pause: PauseChange,
    pub now: OffsetDateTime,
}

#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// The caller's open session with the same agent and model that has no
    /// message yet, if there is one (clients create a session per start);
    /// otherwise a new one.
    async fn open_chat_session(&self, new: NewChatSession) -> StoreResult<ChatSession>;
    async fn chat_session(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ChatSession>>;
    /// The user's sessions, newest first.
    async fn chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        filter: ChatSessionFilter,
    ) -> StoreResult<Vec<ChatSession>>;
    /// Closes the user's open session `id`, or all of them with `None`;
    /// how many were closed.
    async fn close_chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        id: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Every message of a session, oldest first.
    async fn chat_messages(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Vec<ChatMessage>>;
    async fn append_chat(&self, append: AppendChat) -> StoreResult<()>;
    /// The session's pause, removed: `None` when there is none (never
    /// paused, or already resumed).
    async fn take_chat_pause(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<ChatPause>>;
    /// The session's pause, left in place.
    async fn chat_pause(&self, org_id: &OrgId, session_id: &str) -> StoreResult<Option<ChatPause>>;
}
