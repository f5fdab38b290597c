//! A tool call, carried out: a catalog operation becomes a governed
//! service request through the same `pipeline::submit` as `POST
//! /service-requests`; `request_status` reads a request as `GET
//! /service-requests/{id}` does; the memory tools call the memory domain's
//! service, as the memory routes do.
//!
//! Every answer is text beginning `STATUS: <status>` and then the outcome
//! as JSON (also the result's structured content). A governance refusal is
//! an answer (`isError: false`); arguments the operation cannot take, and
//! requests the API would answer with a 4xx, are tool errors (`isError:
//! true`) beginning `ERROR: <code>` with the message naming the field.

use serde_json::{Map, Value, json};

use super::session::Session;
use super::tools::{self, AgentTool, ToolKind};
use crate::api::error::ApiError;
use crate::api::memories;
use crate::domains::memory::service as memory;
use crate::domains::memory::service::MemoryCaller;
use crate::governance::pipeline::{self, Submission};
use crate::governance::{idempotency, outcome, refusals};
use crate::ids::RequestId;
use crate::model::Agent;
use crate::platform::Platform;

/// What a call came to.
pub enum Reply {
    /// An outcome (`executed`, `blocked`, …) or a read: `isError: false`.
    Answer(Value),
    /// A request the API would refuse with a 4xx: `isError: true`.
    Refused { code: &'static str, message: String },
}

impl Reply {
    /// The metric's `outcome` label.
    pub fn outcome(&self) -> &str {
        match self {
            Reply::Answer(body) => body["status"].as_str().unwrap_or("ok"),
            Reply::Refused { code, .. } => code,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Reply::Answer(body) => format!(
                "STATUS: {}\n{}",
                body["status"].as_str().unwrap_or("ok"),
                serde_json::to_string_pretty(body).expect("a JSON value prints")
            ),
            Reply::Refused { code, message } => format!(
                "ERROR: {code}\n{}",
                json!({"error": {"code": code, "message": message}})
            ),
        }
    }
}

/// Who calls, through which session, with which JSON-RPC request id.
pub struct CallContext<'a> {
    pub agent: &'a Agent,
    pub client: &'a str,
    pub session: Option<&'a Session>,
    pub request_id: &'a str,
    /// The call's own key, `_meta["upivia/idempotencyKey"]`, if it has one.
    pub explicit_key: Option<&'a str>,
}

/// Where a call's own idempotency key goes in its `_meta`.
pub const META_IDEMPOTENCY_KEY: &str = "upivia/idempotencyKey";

/// The longest key a call may bring itself (the prefix needs the rest).
pub const MAX_EXPLICIT_KEY: usize = 160;

impl CallContext<'_> {
    pub fn idempotency_key(&self) -> Option<String> {
        idempotency_key(
            self.client,
            self.session,
            self.request_id,
            self.explicit_key,
        )
    }
}

/// The key a call is submitted with, scoped to the agent like every
/// idempotency key:
/// - `mcp:<client>:key:<key>` for a call that brings its own key in
///   `_meta` (checked by the caller: at most 160 bytes);
/// - else `mcp:<client>:<session nonce>:<request id>`: a client that sends
///   a call again with the same id in the same session gets the first
///   answer;
/// - else none: without a session (the 2026-07-28 protocol has none)
///   request ids are counters that start again with every connection.
pub fn idempotency_key(
    client: &str,
    session: Option<&Session>,
    request_id: &str,
    explicit: Option<&str>,
) -> Option<String> {
    let mut key = match (explicit, session) {
        (Some(own), _) => format!("mcp:{client}:key:{own}"),
        (None, Some(session)) => format!("mcp:{client}:{}:{request_id}", session.nonce),
        (None, None) => return None,
    };
    if key.len() > idempotency::MAX_KEY_LEN {
        let mut cut = idempotency::MAX_KEY_LEN;
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        key.truncate(cut);
    }
    Some(key)
}

/// Turns an API error into a tool error, or passes an internal one on.
fn refused(e: ApiError) -> Result<Reply, ApiError> {
    if e.status().is_server_error() {
        return Err(e);
    }
    Ok(Reply::Refused {
        code: e.code(),
        message: e.to_string(),
    })
}

pub async fn call(
    platform: &Platform,
    ctx: &CallContext<'_>,
    tool: &AgentTool,
    arguments: Map<String, Value>,
) -> Result<Reply, ApiError> {
    match &tool.kind {
        ToolKind::Operation(op) => {
            let mut arguments = arguments;
            if tools::is_budget_check(op) {
                if let Some(k) = arguments.keys().next() {
                    return Ok(invalid(format!(
                        "unknown field {k}: this tool takes no arguments"
                    )));
                }
                arguments.insert("agent_id".into(), json!(ctx.agent.id));
            }
            let submission = Submission {
                service: op.service.to_string(),
                operation: op.name.to_string(),
                payload: Value::Object(arguments),
                metadata: Some(json!({"mcp_client": ctx.client})),
                idempotency_key: ctx.idempotency_key(),
                require_approval: false,
            };
            match pipeline::submit(platform, ctx.agent, submission).await {
                Ok(answer) => Ok(Reply::Answer(answer.body)),
                Err(e) => refused(e.into()),
            }
        }
        ToolKind::RequestStatus => request_status(platform, ctx.agent, &arguments).await,
        ToolKind::MemoryCreate => {
            let new = match memories::create_memory(&arguments) {
                Ok(new) => new,
                Err(e) => return refused(e),
            };
            match memory::create(platform, ctx.agent, &ctx.agent.id, new).await {
                Ok(m) => Ok(Reply::Answer(json!({
                    "status": "created",
                    "memory": memories::memory_json(&m),
                }))),
                Err(e) => refused(e.into()),
            }
        }
        ToolKind::MemorySearch => {
            let only_known = arguments
                .keys()
                .find(|k| !matches!(k.as_str(), "query" | "limit"));
            if let Some(k) = only_known {
                return Ok(invalid(format!("unknown field {k}")));
            }
            let Some(query) = arguments.get("query").and_then(Value::as_str) else {
                return Ok(invalid("invalid field query: required, a string".into()));
            };
            let limit = match arguments.get("limit") {
                None => 10,
                Some(v) => match v.as_u64().filter(|n| (1..=100).contains(n)) {
                    Some(n) => u32::try_from(n).expect("at most 100"),
                    None => {
                        return Ok(invalid(
                            "invalid field limit: must be a whole number from 1 to 100".into(),
                        ));
                    }
                },
            };
            let caller = MemoryCaller::Agent(ctx.agent);
            match memory::search(platform, caller, &ctx.agent.id, query, limit).await {
                Ok(found) => Ok(Reply::Answer(json!({
                    "status": "ok",
                    "memories": found.iter().map(memories::memory_json).collect::<Vec<_>>(),
                }))),
                Err(e) => refused(e.into()),
            }
        }
    }
}

fn invalid(message: String) -> Reply {
    Reply::Refused {
        code: "invalid_payload",
        message,
    }
}

/// One of the agent's own requests (or refusals), as `GET
/// /service-requests/{id}` shows it; another agent's is not found.
async fn request_status(
    platform: &Platform,
    agent: &Agent,
    arguments: &Map<String, Value>,
) -> Result<Reply, ApiError> {
    if let Some(k) = arguments.keys().find(|k| *k != "request_id") {
        return Ok(invalid(format!("unknown field {k}")));
    }
    let Some(request_id) = arguments.get("request_id").and_then(Value::as_str) else {
        return Ok(invalid(
            "invalid field request_id: required, a string".into(),
        ));
    };
    let not_found = || Reply::Refused {
        code: "not_found",
        message: format!("no request {request_id} of this agent"),
    };
    if request_id.starts_with(refusals::ID_PREFIX) {
        return Ok(refusals::decode_id(request_id, &agent.id)
            .map(|r| Reply::Answer(refusals::render(&r, &agent.id)))
            .unwrap_or_else(not_found));
    }
    let request = platform
        .stores
        .governance
        .request(&RequestId::from(request_id))
        .await?
        .filter(|r| r.agent_id == agent.id);
    Ok(request
        .map(|r| Reply::Answer(outcome::render(&r)))
        .unwrap_or_else(not_found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_session_and_request_and_fit() {
        let s = Session::begin("agt_1", Some("claude"));
        let key = idempotency_key("claude", Some(&s), "7", None).unwrap();
        assert_eq!(key, format!("mcp:claude:{}:7", s.nonce));
        assert_eq!(idempotency_key("claude", None, "7", None), None);
        assert_eq!(
            idempotency_key("claude", None, "7", Some("k1")).as_deref(),
            Some("mcp:claude:key:k1")
        );
        let long = "é".repeat(300);
        let key = idempotency_key("claude", Some(&s), &long, None).unwrap();
        assert!(key.len() <= idempotency::MAX_KEY_LEN);
        idempotency::validate_key(&key).unwrap();
    }
}
