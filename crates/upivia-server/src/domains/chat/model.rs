//! What the agent loop asks of a language model: a conversation and the
//! tools it may call in, a reply streamed back as text deltas, ending in
//! either final text or tool calls. The sandbox model (`sandbox.rs`) and
//! an OpenAI-compatible endpoint stand behind the same trait.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::money::Cents;

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
    /// The counts are the model's own estimate, not what an endpoint
    /// reported.
    pub estimated: bool,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.estimated |= other.estimated;
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelReply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    /// What the call cost: never above its quote's estimate (the estimate
    /// itself when the endpoint reported no usage); zero for a free model.
    pub cost: Cents,
}

/// What a call of a priced model may cost, known before it is made: the
/// turn reserves `estimate` and records the call as a service request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelQuote {
    /// The provider name the request reports.
    pub provider: &'static str,
    pub estimate: Cents,
    pub prompt_token_bound: u64,
    pub max_tokens: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The endpoint failed, timed out or refused the call; the message is
    /// shown to the user (no secrets in it).
    #[error("the model failed: {0}")]
    Upstream(String),
    /// The endpoint answered something the turn cannot use (malformed
    /// chunks, tool-call arguments that are not a JSON object).
    #[error("the model answered something unusable: {0}")]
    Malformed(String),
}

#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The id `model` events report.
    fn id(&self) -> &str;

    /// Whether a turn's `modelId` names this model: its id, or its id
    /// behind an OpenRouter-style vendor prefix (`openai/gpt-4.1-mini` for
    /// `gpt-4.1-mini`). What goes upstream is always this model, so its
    /// prices hold.
    fn serves(&self, model_id: &str) -> bool {
        let id = self.id();
        model_id == id
            || model_id
                .rsplit_once('/')
                .is_some_and(|(_, name)| name == id)
    }

    /// What answering `request` may cost; `None` for a free model whose
    /// calls are not recorded (the sandbox).
    fn quote(&self, _request: &ModelRequest) -> Option<ModelQuote> {
        None
    }

    /// Answers `request`, sending text to `deltas` as it is produced (a
    /// closed receiver is not an error: the turn goes on without its
    /// client).
    async fn respond(
        &self,
        request: &ModelRequest,
        deltas: &mpsc::Sender<String>,
    ) -> Result<ModelReply, ModelError>;
}
