//! Chat: sessions, the turn body and stream events (API.md §1.11, §2.12).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flags;

/// One parsed Server-Sent Events frame of a chat turn.
///
/// `event` is the frame's `event:` name (`message` when it had none);
/// `data` is the frame's data parsed as JSON, or the raw text as a JSON
/// string when it is not JSON. Known names: `model`, `status`, `thinking`,
/// `message_delta`, `tool_planned`, `tool_executing`, `tool_done`,
/// `tool_pending`, `usage`, `message`, `done`, `error`, plus `agent_event`,
/// `ping`, `delegation_started` and `local_tools_pending`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatStreamEvent {
    /// The event name.
    pub event: String,
    /// The event data.
    pub data: Value,
}

impl ChatStreamEvent {
    /// `true` for the terminal `done` event.
    pub fn is_done(&self) -> bool {
        self.event == "done"
    }
}

/// Body of `POST /api/v1/chat/turn`. Unset keys are left out; `sessionId`
/// and `modelId` are camelCase on the wire, the rest snake_case.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatTurn {
    /// The chat session.
    #[serde(rename = "sessionId")]
    pub session_id: String,
    /// The user message (may be empty when resuming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Structured content parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<Value>>,
    /// Model override for this turn.
    #[serde(rename = "modelId", default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Extra system instructions for this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Every tool call needs approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_approval_all: Option<bool>,
    /// Resumes a paused turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_from: Option<Value>,
    /// Tools the client runs locally (`{name, description, parameters}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_tools: Option<Vec<Value>>,
}

impl ChatTurn {
    /// A turn on `session_id`.
    pub fn new(session_id: impl Into<String>) -> Self {
        ChatTurn {
            session_id: session_id.into(),
            ..ChatTurn::default()
        }
    }
    /// Sets `message`.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
    /// Sets `content`.
    pub fn with_content(mut self, content: Vec<Value>) -> Self {
        self.content = Some(content);
        self
    }
    /// Sets `modelId`.
    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }
    /// Sets `instructions`.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
    /// Sets `require_approval_all`.
    pub fn with_require_approval_all(mut self, require: bool) -> Self {
        self.require_approval_all = Some(require);
        self
    }
    /// Sets `continue_from`, e.g. `{"request_id": .., "action": "approve"}`.
    pub fn with_continue_from(mut self, continue_from: Value) -> Self {
        self.continue_from = Some(continue_from);
        self
    }
    /// Sets `local_tools`.
    pub fn with_local_tools(mut self, tools: Vec<Value>) -> Self {
        self.local_tools = Some(tools);
        self
    }
}

/// Body of `POST /api/v1/chat/sessions`. Unset fields go out as `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateChatSession {
    /// Agent to chat with, or `null`.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Model, or `null`.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Title, or `null`.
    #[serde(default)]
    pub title: Option<String>,
}

impl CreateChatSession {
    /// Sets `agent_id`.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }
    /// Sets `model_id`.
    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }
    /// Sets `title`.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

/// Filters of `GET /api/v1/chat/sessions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChatSessions {
    /// Only this agent's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Only this team's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Include closed sessions (`include_closed=true`).
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "flags::word",
        deserialize_with = "flags::lenient"
    )]
    pub include_closed: bool,
    /// Include sessions with no messages (`include_empty=true`).
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "flags::word",
        deserialize_with = "flags::lenient"
    )]
    pub include_empty: bool,
}

impl ListChatSessions {
    /// Sets `agent_id`.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }
    /// Sets `team_id`.
    pub fn with_team_id(mut self, team_id: impl Into<String>) -> Self {
        self.team_id = Some(team_id.into());
        self
    }
    /// Sets `limit`.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Includes closed sessions.
    pub fn with_include_closed(mut self, include: bool) -> Self {
        self.include_closed = include;
        self
    }
    /// Includes empty sessions.
    pub fn with_include_empty(mut self, include: bool) -> Self {
        self.include_empty = include;
        self
    }
}

/// How to settle an approval raised during a chat turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAction {
    /// `approve`
    Approve,
    /// `reject`
    Reject,
}

impl ApprovalAction {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalAction::Approve => "approve",
            ApprovalAction::Reject => "reject",
        }
    }
}
