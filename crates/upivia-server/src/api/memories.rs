//! Agent memory (API.md §2.8): an agent writes its memories with its key
//! (`POST /agents/{agent_id}/memories`), it or a member of its
//! organisation lists and searches them (`GET …/memories`, `?q=`), whoever
//! may manage the agent edits, archives and deletes one
//! (`PATCH|DELETE …/memories/{memory_id}`), and members read the graph
//! (`GET …/memories/graph`).

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AgentAuth, Caller, Json, Query, UserAuth};
use super::fields::field;
use crate::clock::rfc3339;
use crate::domains::memory::graph::{EdgeKind, Graph};
use crate::domains::memory::service::{self, CreateMemory, MemoryCaller, MemoryChange};
use crate::store::Memory;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents/{agent_id}/memories", get(list).post(create))
        .route("/agents/{agent_id}/memories/graph", get(graph))
        .route(
            "/agents/{agent_id}/memories/{memory_id}",
            patch(update).delete(remove),
        )
}

/// Longest memory, in characters.
pub const CONTENT_MAX_CHARS: usize = 8_000;
/// Most tags of one memory.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters.
pub const TAG_MAX_CHARS: usize = 64;
const LIST_DEFAULT: u32 = 100;
const LIST_MAX: u32 = 1_000;
const SEARCH_DEFAULT: u32 = 20;
const SEARCH_MAX: u32 = 100;

pub(super) fn memory_json(m: &Memory) -> Value {
    json!({
        "id": m.id,
        "agent_id": m.agent_id,
        "content": m.content,
        "tags": m.tags,
        "archived": m.archived,
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.updated_at),
    })
}

fn graph_json(g: &Graph, truncated: bool) -> Value {
    let nodes: Vec<Value> = g
        .nodes
        .iter()
        .map(|n| json!({"id": n.id, "type": n.kind.as_str(), "label": n.label}))
        .collect();
    let edges: Vec<Value> = g
        .edges
        .iter()
        .map(|e| match e.kind {
            EdgeKind::Mentions => {
                json!({"source": e.source, "target": e.target, "type": "mentions"})
            }
            EdgeKind::Shares { weight } => json!({
                "source": e.source, "target": e.target, "type": "shares", "weight": weight,
            }),
        })
        .collect();
    json!({"nodes": nodes, "edges": edges, "truncated": truncated || g.shares_truncated})
}

fn caller(c: &Caller) -> MemoryCaller<'_> {
    match c {
        Caller::Agent(a) => MemoryCaller::Agent(a),
        Caller::User(u) => MemoryCaller::User(u),
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::Unprocessable(message)
}

/// Refuses a key the body may not carry, naming the ones it may.
fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(ApiError::InvalidRequest(format!(
            "unknown field {key}: a memory takes {}",
            allowed.join(", ")
        ))),
    }
}

fn content(value: &Value) -> Result<String, ApiError> {
    let Value::String(s) = value else {
        return Err(invalid("invalid field content: must be a string".into()));
    };
    if s.contains('\0') {
        return Err(invalid(
            "invalid field content: must not contain NUL characters".into(),
        ));
    }
    if s.trim().is_empty() {
        return Err(invalid("invalid field content: must not be empty".into()));
    }
    if s.chars().count() > CONTENT_MAX_CHARS {
        return Err(invalid(format!(
            "invalid field content: at most {CONTENT_MAX_CHARS} characters"
        )));
    }
    Ok(s.clone())
}

/// Tags trimmed, each once, in the order given.
fn tags(value: &Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(invalid(
            "invalid field tags: must be a list of strings".into(),
        ));
    };
    if items.len() > TAGS_MAX {
        return Err(invalid(format!("invalid field tags: at most {TAGS_MAX}")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(raw) = item else {
            return Err(invalid("invalid field tags: each must be a string".into()));
        };
        let tag = raw.trim();
        if tag.is_empty() {
            return Err(invalid(
                "invalid field tags: a tag must not be empty".into(),
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err(invalid(
                "invalid field tags: a tag must not contain control characters".into(),
            ));
        }
        if tag.chars().count() > TAG_MAX_CHARS {
            return Err(invalid(format!(
                "invalid field tags: each at most {TAG_MAX_CHARS} characters"
            )));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

pub(super) fn create_memory(body: &Map<String, Value>) -> Result<CreateMemory, ApiError> {
    only(body, &["content", "tags"])?;
    let content = field(body, "content")
        .map(content)
        .transpose()?
        .ok_or_else(|| invalid("invalid field content: required".into()))?;
    let tags = field(body, "tags")
        .map(tags)
        .transpose()?
        .unwrap_or_default();
    Ok(CreateMemory { content, tags })
}

fn change(body: &Map<String, Value>) -> Result<MemoryChange, ApiError> {
    only(body, &["content", "tags", "archived"])?;
    let archived = match field(body, "archived") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(invalid("invalid field archived: must be a boolean".into())),
    };
    let change = MemoryChange {
        content: field(body, "content").map(content).transpose()?,
        tags: field(body, "tags").map(tags).transpose()?,
        archived,
    };
    if change.content.is_none() && change.tags.is_none() && change.archived.is_none() {
        return Err(invalid(
            "nothing to change: send content, tags or archived".into(),
        ));
    }
    Ok(change)
}

async fn create(
    State(state): State<AppState>,
    AgentAuth(agent): AgentAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Who is asking is answered before what they sent.
    let new = match create_memory(&body) {
        Ok(new) => new,
        Err(e) => {
            service::must_be(&state.platform, &agent, &agent_id).await?;
            return Err(e);
        }
    };
    let memory = service::create(&state.platform, &agent, &agent_id, new).await?;
    Ok(AxumJson(json!({"memory": memory_json(&memory)})))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    q: Option<String>,
    limit: Option<String>,
}

fn limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None | Some("") => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "invalid query parameter limit: must be an integer from 1 to {max}"
                ))
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    who: Caller,
    Path(agent_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let render = |found: &[Memory]| found.iter().map(memory_json).collect::<Vec<_>>();
    match q.q {
        Some(query) => {
            let limit = limit(q.limit.as_deref(), SEARCH_DEFAULT, SEARCH_MAX)?;
            let found =
                service::search(&state.platform, caller(&who), &agent_id, &query, limit).await?;
            Ok(AxumJson(
                json!({"memories": render(&found), "semantic": false}),
            ))
        }
        None => {
            let limit = limit(q.limit.as_deref(), LIST_DEFAULT, LIST_MAX)?;
            let found = service::list(&state.platform, caller(&who), &agent_id, limit).await?;
            Ok(AxumJson(json!({"memories": render(&found)})))
        }
    }
}

async fn graph(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(agent_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (graph, truncated) = service::graph(&state.platform, &user, &agent_id).await?;
    Ok(AxumJson(graph_json(&graph, truncated)))
}

async fn update(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((agent_id, memory_id)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let change = match change(&body) {
        Ok(change) => change,
        Err(e) => {
            service::managed_memory(&state.platform, &user, &agent_id, &memory_id).await?;
            return Err(e);
        }
    };
    let memory = service::update(&state.platform, &user, &agent_id, &memory_id, change).await?;
    Ok(AxumJson(json!({"memory": memory_json(&memory)})))
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((agent_id, memory_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    service::delete(&state.platform, &user, &agent_id, &memory_id).await?;
    Ok(AxumJson(json!({"deleted": true, "id": memory_id})))
}
