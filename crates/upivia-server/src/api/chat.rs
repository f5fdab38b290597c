//! Chat (API.md §1.11, §2.12): a person's sessions with an agent they may
//! manage, turns streamed as server-sent events, and inline approvals.
//! The turn runs on a task of its own: a client that disconnects (the
//! terminal client does, after `local_tools_pending`) does not stop it,
//! and what it needs to continue is in the store.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use futures::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json, Query, UserAuth};
use crate::clock::rfc3339;
use crate::domains::chat::service::{self, DEFAULT_LIMIT, MAX_LIMIT};
use crate::domains::chat::tools::LocalTool;
use crate::domains::chat::turn::{
    self, ContinueFrom, Decision, LocalResult, TurnError, TurnRequest,
};
use crate::governance::approvals;
use crate::ids::OrgId;
use crate::store::{ChatMessage, ChatSession, ChatSessionFilter};

/// Comment lines keep proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events a slow client may fall behind by before the turn waits for it.
const EVENT_BUFFER: usize = 256;
/// Most local tools one turn may declare.
pub(super) const LOCAL_TOOLS_MAX: usize = 64;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/chat/sessions", get(list).post(create).delete(close))
        .route("/chat/sessions/{session_id}", get(show))
        .route("/chat/turn", post(turn))
        .route("/chat/approvals/{approval_id}", post(decide))
}

fn session_json(s: &ChatSession, agent_name: Option<&str>) -> Value {
    json!({
        "id": s.id,
        "agent_id": s.agent_id,
        "agent_name": agent_name,
        "model_id": s.model_id,
        "title": s.title,
        "message_count": s.message_count,
        "created_at": rfc3339(s.created_at),
        "last_message_at": s.last_message_at.map(rfc3339),
        "closed_at": s.closed_at.map(rfc3339),
    })
}

fn message_json(m: &ChatMessage) -> Value {
    let mut v = json!({
        "id": m.id,
        "role": m.role,
        "content": m.content,
        "created_at": rfc3339(m.created_at),
    });
    if let Some(calls) = &m.tool_calls {
        v["tool_calls"] = calls.clone();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
        v["tool_name"] = json!(m.tool_name);
    }
    v
}

async fn agent_name(state: &AppState, org: &OrgId, agent_id: &str) -> Option<String> {
    state
        .platform
        .stores
        .agents
        .agent(org, &crate::ids::AgentId::from(agent_id))
        .await
        .ok()
        .flatten()
        .map(|a| a.name)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    agent_id: Option<String>,
    team_id: Option<String>,
    limit: Option<u32>,
    include_closed: Option<bool>,
    include_empty: Option<bool>,
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Unprocessable(format!(
            "invalid field limit: 1 to {MAX_LIMIT}"
        )));
    }
    let filter = ChatSessionFilter {
        agent_id: q.agent_id,
        agent_ids: None,
        include_closed: q.include_closed.unwrap_or(false),
        include_empty: q.include_empty.unwrap_or(false),
        limit,
    };
    let sessions = service::list(&state.platform, &user, filter, q.team_id.as_deref()).await?;
    let org = OrgId::from(&user.org_id);
    let agents = state.platform.stores.agents.agents(&org, None).await?;
    let rows: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let name = agents
                .iter()
                .find(|a| a.id == s.agent_id)
                .map(|a| a.name.as_str());
            session_json(s, name)
        })
        .collect();
    Ok(AxumJson(json!({ "sessions": rows })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    agent_id: Option<String>,
    model_id: Option<String>,
    title: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<CreateBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let agent_id = body
        .agent_id
        .ok_or_else(|| ApiError::Unprocessable("invalid field agent_id: required".into()))?;
    let session =
        service::open(&state.platform, &user, &agent_id, body.model_id, body.title).await?;
    let name = agent_name(&state, &OrgId::from(&user.org_id), &session.agent_id).await;
    // The row at the top level (the SDK's README reads `session["id"]`).
    Ok(AxumJson(session_json(&session, name.as_deref())))
}

async fn show(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(session_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (session, messages) = service::history(&state.platform, &user, &session_id).await?;
    let name = agent_name(&state, &OrgId::from(&user.org_id), &session.agent_id).await;
    Ok(AxumJson(json!({
        "session": session_json(&session, name.as_deref()),
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseQuery {
    session_id: Option<String>,
    all: Option<bool>,
}

async fn close(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<CloseQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    match (q.session_id, q.all.unwrap_or(false)) {
        (Some(id), false) => {
            service::close(&state.platform, &user, Some(&id)).await?;
            Ok(AxumJson(json!({"closed": true, "session_id": id})))
        }
        (None, true) => {
            let count = service::close(&state.platform, &user, None).await?;
            Ok(AxumJson(json!({"closed": true, "count": count})))
        }
        _ => Err(ApiError::Unprocessable(
            "give either session_id (close one session) or all=true (close them all)".into(),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnBody {
    #[serde(rename = "sessionId")]
    session_id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    content: Option<Vec<Value>>,
    #[serde(default, rename = "modelId")]
    model_id: Option<String>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    require_approval_all: Option<bool>,
    #[serde(default)]
    continue_from: Option<ContinueBody>,
    #[serde(default)]
    local_tools: Option<Vec<LocalTool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContinueBody {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    results: Option<Vec<LocalResult>>,
}

pub(super) fn continue_from(c: ContinueBody) -> Result<ContinueFrom, ApiError> {
    match (c.action.as_deref(), c.request_id, c.results) {
        (Some("local_results"), None, Some(results)) => Ok(ContinueFrom::LocalResults(results)),
        (action, Some(request_id), None) => {
            let action = match action {
                None => None,
                Some("approve") => Some(Decision::Approve),
                Some("reject") => Some(Decision::Reject),
                Some(other) => {
                    return Err(ApiError::Unprocessable(format!(
                        "invalid field continue_from.action: approve, reject or local_results, \
                         not {other:?}"
                    )));
                }
            };
            Ok(ContinueFrom::Approval { request_id, action })
        }
        _ => Err(ApiError::Unprocessable(
            "invalid field continue_from: {request_id, action: approve|reject} after an \
             approval, or {action: \"local_results\", results} after local tools"
                .into(),
        )),
    }
}

/// The text of the message and of any `{type: "text", text}` parts.
pub(super) fn message_text(
    message: Option<String>,
    content: Option<Vec<Value>>,
) -> Result<String, ApiError> {
    let mut text = message.unwrap_or_default();
    for (i, part) in content.unwrap_or_default().iter().enumerate() {
        match (part.get("type").and_then(Value::as_str), part.get("text")) {
            (Some("text"), Some(Value::String(t))) => {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(t);
            }
            (Some("text"), _) => {
                return Err(ApiError::Unprocessable(format!(
                    "invalid field content[{i}].text: must be a string"
                )));
            }
            // Other parts (images, files) are not read by the models here.
            _ => {}
        }
    }
    Ok(text)
}

async fn turn(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<TurnBody>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let local_tools = body.local_tools.unwrap_or_default();
    if local_tools.len() > LOCAL_TOOLS_MAX {
        return Err(ApiError::Unprocessable(format!(
            "invalid field local_tools: at most {LOCAL_TOOLS_MAX}"
        )));
    }
    let request = TurnRequest {
        session_id: body.session_id,
        message: message_text(body.message, body.content)?,
        model_id: body.model_id,
        instructions: body.instructions,
        require_approval_all: body.require_approval_all.unwrap_or(false),
        continue_from: body.continue_from.map(continue_from).transpose()?,
        local_tools,
    };
    let prepared = turn::prepare(&state.platform, &user, request)
        .await
        .map_err(turn_error)?
        // Shutdown stops the turn at its next step and waits for it.
        .cancel_on(state.ws.closing().child_token());
    let (tx, rx) = mpsc::channel(EVENT_BUFFER);
    let platform = state.platform.clone();
    state.ws.spawn_turn(turn::run(platform, prepared, tx));
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let frame = SseEvent::default()
            .event(event.name)
            .data(event.data.to_string());
        Some((Ok(frame), rx))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

pub(super) fn turn_error(e: TurnError) -> ApiError {
    match e {
        TurnError::Domain(d) => ApiError::from(d),
        TurnError::Governance(g) => ApiError::from(g),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    action: Option<String>,
}

async fn decide(
    State(state): State<AppState>,
    AdminAuth(user): AdminAuth,
    Path(approval_id): Path<String>,
    Json(body): Json<DecideBody>,
) -> Result<AxumJson<Value>, ApiError> {
    // Another organisation's approval does not exist for this caller,
    // whatever the body says.
    state
        .platform
        .stores
        .governance
        .approval(&crate::ids::ApprovalId::from(approval_id.as_str()))
        .await?
        .filter(|a| a.org_id == user.org_id)
        .ok_or(ApiError::NotFound("approval"))?;
    let mut outcome = match body.action.as_deref() {
        Some("approve") => approvals::approve(&state.platform, &user, &approval_id, None).await?,
        Some("reject") => approvals::reject(&state.platform, &user, &approval_id, None).await?,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field action: approve or reject, not {other:?}"
            )));
        }
    };
    outcome["approval_id"] = json!(approval_id);
    Ok(AxumJson(outcome))
}
