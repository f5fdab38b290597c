//! The chat model on an OpenAI-compatible endpoint (the one
//! `UPIVIA_OPENAI_BASE_URL` configures for `text_generation.generate`):
//! the conversation and the agent's tools go up as a streamed chat
//! completion; text deltas come back as they arrive, tool calls are
//! assembled from their pieces (an `index` per call, its `id`, name and
//! JSON arguments split over many chunks), and the final chunk's `usage`
//! prices the call.
//!
//! Money, as for `text_generation.generate` (`providers/openai.rs`): the
//! quote is an upper bound, every byte of the messages and tools as JSON
//! counted as a token plus framing, and `max_tokens` of completion, which
//! is always sent. The cost is the reported usage at the configured
//! integer prices, rounded up to a cent and never above the quote; an
//! endpoint that reports no usage is charged the quote, never nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::model::{
    ChatModel, ModelError, ModelMessage, ModelQuote, ModelReply, ModelRequest, ToolCall, Usage,
};
use crate::catalog::builtin::DEFAULT_MAX_TOKENS;
use crate::config::OpenAiSettings;
use crate::providers::http::HttpClient;
use crate::providers::openai::{
    self, OpenAiClient, Prices, TOKENS_PER_MESSAGE, TOKENS_PER_REQUEST,
};

/// Longest one streamed answer may take; between two chunks, at most the
/// provider timeout passes.
const MAX_CALL: Duration = Duration::from_secs(600);
/// Most bytes one streamed answer may be.
const MAX_STREAM_BYTES: usize = 8 * 1024 * 1024;
/// Longest SSE line kept while it is incomplete.
const MAX_LINE_BYTES: usize = 1024 * 1024;

pub struct OpenAiModel {
    client: OpenAiClient,
    prices: Prices,
    max_tokens: u64,
}

impl std::fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("client", &self.client)
            .field("prices", &self.prices)
            .finish()
    }
}

impl OpenAiModel {
    pub fn new(settings: &OpenAiSettings, http: HttpClient) -> Result<OpenAiModel, String> {
        Ok(OpenAiModel {
            client: OpenAiClient::new(settings, http)?,
            prices: Prices::of(settings),
            max_tokens: DEFAULT_MAX_TOKENS,
        })
    }

    /// The upstream request body.
    pub fn body(&self, request: &ModelRequest) -> Value {
        let mut body = json!({
            "model": self.client.model(),
            "messages": messages(&request.messages),
            "max_tokens": self.max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !request.tools.is_empty() {
            body["tools"] = tools(request);
            body["tool_choice"] = json!("auto");
        }
        body
    }

    fn bound(&self, request: &ModelRequest) -> ModelQuote {
        let json_bytes = |v: &Value| v.to_string().len() as u64;
        let framing = TOKENS_PER_MESSAGE.saturating_mul(request.messages.len() as u64);
        let prompt_token_bound = json_bytes(&messages(&request.messages))
            .saturating_add(json_bytes(&tools(request)))
            .saturating_add(framing)
            .saturating_add(TOKENS_PER_REQUEST);
        ModelQuote {
            provider: openai::NAME,
            estimate: self.prices.cost(prompt_token_bound, self.max_tokens),
            prompt_token_bound,
            max_tokens: self.max_tokens,
        }
    }

    async fn stream(
        &self,
        request: &ModelRequest,
        deltas: &mpsc::Sender<String>,
    ) -> Result<Assembly, ModelError> {
        let idle = self.client.timeout();
        let body = self.body(request);
        let sent = tokio::time::timeout(idle, self.client.request(&body).timeout(MAX_CALL).send());
        let mut response = match sent.await {
            Err(_) => return Err(timed_out(idle)),
            Ok(Err(e)) if e.is_timeout() => return Err(timed_out(idle)),
            // Without the URL: the message reaches the user.
            Ok(Err(_)) => {
                return Err(ModelError::Upstream(
                    "could not reach the model endpoint".into(),
                ));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            return Err(refused(status.as_u16()));
        }
        let mut lines = Lines::default();
        let mut assembly = Assembly::default();
        let mut read = 0usize;
        loop {
            let chunk = match tokio::time::timeout(idle, response.chunk()).await {
                Err(_) => return Err(timed_out(idle)),
                Ok(Err(e)) if e.is_timeout() => return Err(timed_out(idle)),
                Ok(Err(_)) => {
                    return Err(ModelError::Upstream(
                        "the model endpoint broke off its answer".into(),
                    ));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            read += chunk.len();
            if read > MAX_STREAM_BYTES {
                return Err(ModelError::Malformed(format!(
                    "the answer passed {MAX_STREAM_BYTES} bytes"
                )));
            }
            for data in lines.push(&chunk)? {
                if let Some(text) = assembly.apply(&data)? {
                    // The receiver may be gone; the turn goes on regardless.
                    let _ = deltas.send(text).await;
                }
            }
        }
        for data in lines.finish() {
            if let Some(text) = assembly.apply(&data)? {
                let _ = deltas.send(text).await;
            }
        }
        Ok(assembly)
    }
}

#[async_trait]
impl ChatModel for OpenAiModel {
    fn id(&self) -> &str {
        self.client.model()
    }

    fn quote(&self, request: &ModelRequest) -> Option<ModelQuote> {
        Some(self.bound(request))
    }

    async fn respond(
        &self,
        request: &ModelRequest,
        deltas: &mpsc::Sender<String>,
    ) -> Result<ModelReply, ModelError> {
        let estimate = self.bound(request).estimate;
        let assembly = self.stream(request, deltas).await?;
        let tool_calls = assembly.tool_calls()?;
        let (usage, cost) = match assembly.usage {
            Some(usage) => {
                let cost = self
                    .prices
                    .cost(usage.prompt_tokens, usage.completion_tokens);
                if cost > estimate {
                    tracing::warn!(
                        prompt_tokens = usage.prompt_tokens,
                        completion_tokens = usage.completion_tokens,
                        "the model endpoint billed more tokens than the estimate allowed; charging the estimate"
                    );
                }
                (usage, cost.min(estimate))
            }
            // Unknown usage is charged as the bound, never as free.
            None => (
                Usage {
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    estimated: true,
                },
                estimate,
            ),
        };
        Ok(ModelReply {
            text: assembly.text,
            tool_calls,
            usage,
            cost,
        })
    }
}

fn timed_out(idle: Duration) -> ModelError {
    ModelError::Upstream(format!(
        "the model endpoint did not answer within {} ms",
        idle.as_millis()
    ))
}

/// The status only: an error body may echo what was sent, credentials
/// included.
fn refused(status: u16) -> ModelError {
    let why = match status {
        401 | 403 => "refused the credentials",
        404 => "does not know the model or the path",
        429 => "is rate limiting",
        400..=499 => "refused the request",
        _ => "failed",
    };
    ModelError::Upstream(format!("the model endpoint {why} (HTTP {status})"))
}

fn messages(messages: &[ModelMessage]) -> Value {
    messages
        .iter()
        .map(|m| match m {
            ModelMessage::System(text) => json!({"role": "system", "content": text}),
            ModelMessage::User(text) => json!({"role": "user", "content": text}),
            ModelMessage::Assistant {
                content,
                tool_calls,
            } if tool_calls.is_empty() => json!({"role": "assistant", "content": content}),
            ModelMessage::Assistant {
                content,
                tool_calls,
            } => json!({
                "role": "assistant",
                "content": if content.is_empty() { Value::Null } else { json!(content) },
                "tool_calls": tool_calls
                    .iter()
                    .map(|c| json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments.to_string()},
                    }))
                    .collect::<Vec<_>>(),
            }),
            ModelMessage::Tool {
                tool_call_id,
                content,
                ..
            } => json!({"role": "tool", "tool_call_id": tool_call_id, "content": content}),
        })
        .collect()
}

fn tools(request: &ModelRequest) -> Value {
    request
        .tools
        .iter()
        .map(|t| {
            json!({
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            })
        })
        .collect()
}

/// Splits a byte stream into the `data` of its SSE events (several `data:`
/// lines joined by `\n`, comments and other fields skipped).
#[derive(Default)]
struct Lines {
    pending: BytesMut,
    data: Vec<String>,
}

impl Lines {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, ModelError> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line = self.pending.split_to(end + 1);
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, &mut events);
        }
        if self.pending.len() > MAX_LINE_BYTES {
            return Err(ModelError::Malformed(format!(
                "a line of the answer passed {MAX_LINE_BYTES} bytes"
            )));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(self.data.join("\n"));
                self.data.clear();
            }
        } else if let Some(value) = line.strip_prefix("data:") {
            self.data
                .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
    }

    /// What is left when the stream ends without a final blank line.
    fn finish(mut self) -> Vec<String> {
        let mut events = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        let rest = String::from_utf8_lossy(&rest).into_owned();
        self.line(rest.trim_end_matches('\r'), &mut events);
        self.line("", &mut events);
        events
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<RawUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<CallPiece>,
}

#[derive(Deserialize)]
struct CallPiece {
    #[serde(default)]
    index: u64,
    id: Option<String>,
    function: Option<FunctionPiece>,
}

#[derive(Deserialize)]
struct FunctionPiece {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct RawUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// A tool call as far as its pieces have come.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// The answer as far as its chunks have come.
#[derive(Default)]
struct Assembly {
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    usage: Option<Usage>,
    done: bool,
}

/// Appends a piece of an id or a name; some endpoints repeat the whole
/// value in every chunk instead of sending it once.
fn append_piece(into: &mut String, piece: &str) {
    if into != piece {
        into.push_str(piece);
    }
}

impl Assembly {
    /// Takes one event's data; answers its text delta, if any.
    fn apply(&mut self, data: &str) -> Result<Option<String>, ModelError> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        if self.done {
            return Ok(None);
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ModelError::Malformed(format!("a chunk is not the expected JSON: {e}")))?;
        if chunk.error.is_some() {
            return Err(ModelError::Upstream(
                "the model endpoint reported an error in the middle of its answer".into(),
            ));
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                estimated: false,
            });
        }
        let mut text = String::new();
        // One choice is asked for; only the first is read.
        if let Some(delta) = chunk.choices.into_iter().next().and_then(|c| c.delta) {
            if let Some(content) = delta.content {
                text.push_str(&content);
            }
            for piece in delta.tool_calls {
                let call = self.calls.entry(piece.index).or_default();
                if let Some(id) = piece.id {
                    append_piece(&mut call.id, &id);
                }
                if let Some(function) = piece.function {
                    if let Some(name) = function.name {
                        append_piece(&mut call.name, &name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
        }
        self.text.push_str(&text);
        Ok(Some(text).filter(|t| !t.is_empty()))
    }

    /// The assembled calls, in index order, each with a JSON object of
    /// arguments.
    fn tool_calls(&self) -> Result<Vec<ToolCall>, ModelError> {
        self.calls
            .iter()
            .map(|(index, call)| {
                if call.name.is_empty() {
                    return Err(ModelError::Malformed(format!(
                        "tool call {index} has no function name"
                    )));
                }
                let arguments = if call.arguments.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str::<Value>(&call.arguments).map_err(|e| {
                        ModelError::Malformed(format!(
                            "the arguments of its call of {} are not valid JSON ({e})",
                            call.name
                        ))
                    })?
                };
                if !arguments.is_object() {
                    return Err(ModelError::Malformed(format!(
                        "the arguments of its call of {} are not a JSON object",
                        call.name
                    )));
                }
                Ok(ToolCall {
                    id: if call.id.is_empty() {
                        format!("call_{index}")
                    } else {
                        call.id.clone()
                    },
                    name: call.name.clone(),
                    arguments,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
