//! The frames of `/ws` (API.md §3): one JSON object per text message,
//! told apart by `type`.

use axum::extract::ws::Utf8Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::chat::ContinueBody;
use crate::domains::chat::tools::LocalTool;
use crate::domains::chat::turn::{Event, LocalResult};

/// The first message of every socket.
#[derive(Deserialize)]
pub struct Connect {
    pub session_id: String,
    pub pat: String,
    #[serde(default)]
    pub is_device: bool,
}

/// `chat_turn`: a turn on the socket's session, as `POST /chat/turn`.
#[derive(Deserialize)]
pub struct ChatTurn {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub content: Option<Vec<Value>>,
    #[serde(default, rename = "modelId")]
    pub model_id: Option<String>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub require_approval_all: Option<bool>,
    #[serde(default)]
    pub continue_from: Option<ContinueBody>,
    #[serde(default)]
    pub local_tools: Option<Vec<LocalTool>>,
}

/// `tool_result`: the answers to a `local_tools_pending`.
#[derive(Deserialize)]
pub struct ToolResult {
    pub results: Vec<LocalResult>,
}

/// `command_done`: a device ran a queued command.
#[derive(Deserialize)]
pub struct CommandDone {
    pub id: String,
    pub status: String,
}

/// What a client may send after `connect`.
pub enum Inbound {
    Heartbeat,
    ChatTurn(Box<ChatTurn>),
    ToolResult(ToolResult),
    CommandDone(CommandDone),
    /// A prompt or its answer, relayed to every socket of the session as
    /// the named `chat_event`, with the fields as sent.
    Relay {
        event: &'static str,
        data: Map<String, Value>,
    },
    Cancel,
    Connect,
}

/// A frame the server cannot take: its message goes back as `error`.
#[derive(Debug)]
pub struct Malformed(pub String);

const PERMISSION_KINDS: [&str; 2] = ["command_policy", "ask_user"];
const PERMISSION_DECISIONS: [&str; 4] = ["allow_once", "allow_always", "deny", "answered"];

/// Reads one text frame.
pub fn parse(text: &str) -> Result<Inbound, Malformed> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Malformed(format!("messages are JSON objects: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(Malformed("messages are JSON objects".into()));
    };
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => return Err(Malformed("invalid field type: required, a string".into())),
    };
    let typed = |fields: Map<String, Value>| Value::Object(fields);
    match kind.as_str() {
        "heartbeat" => Ok(Inbound::Heartbeat),
        "cancel" => Ok(Inbound::Cancel),
        "connect" => Ok(Inbound::Connect),
        "chat_turn" => serde_json::from_value(typed(fields))
            .map(|t| Inbound::ChatTurn(Box::new(t)))
            .map_err(|e| Malformed(format!("invalid chat_turn: {e}"))),
        "tool_result" => serde_json::from_value(typed(fields))
            .map(Inbound::ToolResult)
            .map_err(|e| Malformed(format!("invalid tool_result: {e}"))),
        "command_done" => serde_json::from_value(typed(fields))
            .map(Inbound::CommandDone)
            .map_err(|e| Malformed(format!("invalid command_done: {e}"))),
        "permission_request" => {
            required_string(&fields, "permission_request", "id")?;
            required_string(&fields, "permission_request", "tool")?;
            one_of(&fields, "permission_request", "kind", &PERMISSION_KINDS)?;
            Ok(Inbound::Relay {
                event: "permission_request",
                data: fields,
            })
        }
        "permission_response" => {
            required_string(&fields, "permission_response", "id")?;
            one_of(
                &fields,
                "permission_response",
                "decision",
                &PERMISSION_DECISIONS,
            )?;
            Ok(Inbound::Relay {
                event: "permission_resolved",
                data: fields,
            })
        }
        other => Err(Malformed(format!(
            "unknown message type {other:?}: heartbeat, chat_turn, tool_result, command_done, \
             permission_request, permission_response or cancel"
        ))),
    }
}

fn required_string(fields: &Map<String, Value>, what: &str, name: &str) -> Result<(), Malformed> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        _ => Err(Malformed(format!(
            "invalid {what}: field {name} is required, a non-empty string"
        ))),
    }
}

fn one_of(
    fields: &Map<String, Value>,
    what: &str,
    name: &str,
    allowed: &[&str],
) -> Result<(), Malformed> {
    match fields.get(name).and_then(Value::as_str) {
        Some(v) if allowed.contains(&v) => Ok(()),
        _ => Err(Malformed(format!(
            "invalid {what}: field {name} is one of {}",
            allowed.join(", ")
        ))),
    }
}

fn text(value: Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

pub fn chat_event(event: &Event) -> Utf8Bytes {
    text(json!({"type": "chat_event", "event": event.name, "data": event.data}))
}

pub fn named_event(name: &str, data: Value) -> Utf8Bytes {
    text(json!({"type": "chat_event", "event": name, "data": data}))
}

pub fn turn_done() -> Utf8Bytes {
    text(json!({"type": "chat_turn_done"}))
}

pub fn turn_cancelled() -> Utf8Bytes {
    text(json!({"type": "chat_turn_cancelled"}))
}

pub fn command(id: &str, content: &str) -> Utf8Bytes {
    text(json!({"type": "command", "id": id, "content": content}))
}

/// `error`, with the API's error code beside the message.
pub fn error(code: &str, message: &str) -> Utf8Bytes {
    text(json!({"type": "error", "error": message, "code": code}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_by_type_and_refused_in_words() {
        assert!(matches!(
            parse(r#"{"type":"heartbeat"}"#),
            Ok(Inbound::Heartbeat)
        ));
        assert!(matches!(parse(r#"{"type":"cancel"}"#), Ok(Inbound::Cancel)));
        let Ok(Inbound::ChatTurn(turn)) =
            parse(r#"{"type":"chat_turn","message":"hi","modelId":"m"}"#)
        else {
            panic!("a chat_turn");
        };
        assert_eq!(turn.message.as_deref(), Some("hi"));
        assert_eq!(turn.model_id.as_deref(), Some("m"));
        let Ok(Inbound::Relay { event, data }) = parse(
            r#"{"type":"permission_response","id":"p1","decision":"allow_once","answer":"y"}"#,
        ) else {
            panic!("a relay");
        };
        assert_eq!(event, "permission_resolved");
        assert_eq!(data.get("answer"), Some(&json!("y")));
        assert!(!data.contains_key("type"));

        for (frame, words) in [
            ("nope", "JSON objects"),
            ("[1]", "JSON objects"),
            (r#"{"kind":"x"}"#, "field type"),
            (r#"{"type":"dance"}"#, "unknown message type"),
            (r#"{"type":"tool_result"}"#, "results"),
            (
                r#"{"type":"permission_request","id":"p","tool":"t","kind":"other"}"#,
                "command_policy",
            ),
            (
                r#"{"type":"permission_response","id":"p","decision":"maybe"}"#,
                "allow_once",
            ),
            (r#"{"type":"command_done","status":"done"}"#, "id"),
        ] {
            let Err(Malformed(message)) = parse(frame) else {
                panic!("{frame} is refused");
            };
            assert!(message.contains(words), "{frame}: {message}");
        }
    }
}
