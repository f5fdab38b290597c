//! What the agent loop asks of a language model: a conversation and the
//! tools it may call in, a reply streamed back as text deltas, ending in
//! either final text or tool calls. The sandbox model (`sandbox.rs`) and
//! an OpenAI-compatible endpoint stand behind the same trait.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

/// A tool the model may call: a governed operation (`email_send`) or one
/// the client runs itself (`local_read_file`).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelTool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// One call the model asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ModelMessage {
    System(String),
    User(String),
    Assistant {
        content: String,
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        tool_call_id: String,
        name: String,
        content: String,
    },
}

#[derive(Clone, Debug)]
pub struct ModelRequest {
    pub messages: Vec<ModelMessage>,
    pub tools: Vec<ModelTool>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelReply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The endpoint failed or answered something unusable; the message is
    /// shown to the user (no secrets in it).
    #[error("the model failed: {0}")]
    Upstream(String),
}

#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The id `model` events report.
    fn id(&self) -> &str;

    /// Answers `request`, sending text to `deltas` as it is produced (a
    /// closed receiver is not an error: the turn goes on without its
    /// client).
    async fn respond(
        &self,
        request: &ModelRequest,
        deltas: &mpsc::Sender<String>,
    ) -> Result<ModelReply, ModelError>;
}
