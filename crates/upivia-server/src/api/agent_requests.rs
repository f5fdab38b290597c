//! The agent-requests inbox (API.md §2.11): list, raise, read one, and
//! resolve or reject (`PATCH /agent-requests` with the id in the body,
//! `request_id` first, then `id`). Agents use their key to raise and to
//! read their own requests and the responses; humans decide them. A
//! person's list also holds the pending approval gates of chat turns
//! (`domains::inbox::chat_gates`), decided through the same PATCH.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, Json, Query, UserAuth};
use super::fields::string;
use super::text;
use crate::clock::rfc3339;
use crate::domains::inbox::chat_gates::{self, GateError};
use crate::domains::inbox::service::{self, InboxCaller, RaiseRequest};
use crate::store::{AgentRequest, InboxStatus, REQUEST_TYPES, StatusFilter};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agent-requests", get(list).post(create).patch(resolve))
        .route("/agent-requests/{request_id}", get(fetch))
}

/// The longest request body and response, in bytes.
const TEXT_MAX_BYTES: usize = 16 * 1024;
const LINK_MAX_BYTES: usize = 2048;
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

fn request_json(r: &AgentRequest) -> Value {
    json!({
        "id": r.id,
        "request_id": r.id,
        "agent_id": r.agent_id,
        "agent_name": r.agent_name,
        "request_type": r.request_type,
        "title": r.title,
        "body": r.body,
        "link": r.link,
        "status": r.status.as_str(),
        "response": r.response,
        "created_by": r.created_by,
        "resolved_by": r.resolved_by_user_id,
        "resolved_at": r.resolved_at.map(rfc3339),
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

fn caller(c: &Caller) -> InboxCaller<'_> {
    match c {
        Caller::Agent(a) => InboxCaller::Agent(a),
        Caller::User(u) => InboxCaller::User(u),
    }
}

fn request_type(raw: &str, field: &str) -> Result<String, ApiError> {
    if REQUEST_TYPES.contains(&raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::Unprocessable(format!(
            "invalid field {field}: must be one of {}, got {raw:?}",
            REQUEST_TYPES.join(", ")
        )))
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    who: Caller,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None | Some("pending") => StatusFilter::Pending,
        Some("resolved") => StatusFilter::Decided,
        Some("rejected") => StatusFilter::Rejected,
        Some("all") => StatusFilter::All,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "invalid query parameter status: must be pending, resolved, rejected or all, got {other:?}"
            )));
        }
    };
    let kind = match q.kind.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(request_type(raw, "type").map_err(|e| {
            ApiError::InvalidRequest(
                e.to_string()
                    .replace("invalid field type", "invalid query parameter type"),
            )
        })?),
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "invalid query parameter limit: must be an integer from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let gates_too = matches!(status, StatusFilter::Pending | StatusFilter::All)
        && kind.as_deref().is_none_or(|k| k == "approval");
    let rows = service::list(&state.platform, caller(&who), status, kind, limit).await?;
    let mut listed: Vec<(time::OffsetDateTime, Value)> = rows
        .iter()
        .map(|r| (r.created_at, request_json(r)))
        .collect();
    if let (true, Caller::User(user)) = (gates_too, &who) {
        let gates = chat_gates::pending(&state.platform, user)
            .await
            .map_err(gate_error)?;
        listed.extend(gates.iter().map(|g| (g.created_at(), g.json())));
        listed.sort_by_key(|row| std::cmp::Reverse(row.0));
        listed.truncate(limit as usize);
    }
    Ok(AxumJson(
        json!({"requests": listed.into_iter().map(|(_, row)| row).collect::<Vec<_>>()}),
    ))
}

fn gate_error(e: GateError) -> ApiError {
    match e {
        GateError::Domain(d) => d.into(),
        GateError::Governance(g) => g.into(),
    }
}

async fn create(
    State(state): State<AppState>,
    who: Caller,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let kind = string(&body, "request_type", 64)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field request_type: required".into()))?;
    let kind = request_type(&kind, "request_type")?;
    let text_body = string(&body, "body", TEXT_MAX_BYTES)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field body: required".into()))?;
    if text_body.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "invalid field body: must not be empty".into(),
        ));
    }
    let title = string(&body, "title", 4 * text::NAME_MAX_CHARS)?;
    if let Some(title) = &title {
        text::name("title", title)?;
    }
    let link = string(&body, "link", LINK_MAX_BYTES)?;
    if let Some(link) = &link {
        let scheme_ok = link.starts_with("https://")
            || link.starts_with("http://")
            || (link.starts_with('/') && !link.starts_with("//"));
        if !scheme_ok || link.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(
                "invalid field link: must be an http(s) URL or a path starting with /".into(),
            ));
        }
    }
    let raise = RaiseRequest {
        request_type: kind,
        body: text_body,
        agent_id: string(&body, "agent_id", 100)?,
        title,
        link,
    };
    let request = service::create(&state.platform, caller(&who), raise).await?;
    Ok(AxumJson(json!({"request": request_json(&request)})))
}

async fn fetch(
    State(state): State<AppState>,
    who: Caller,
    Path(request_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let request = service::get(&state.platform, caller(&who), &request_id).await?;
    Ok(AxumJson(json!({"request": request_json(&request)})))
}

async fn resolve(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let id = match string(&body, "request_id", 100)? {
        Some(id) => id,
        None => string(&body, "id", 100)?.ok_or_else(|| {
            ApiError::Unprocessable("invalid field request_id: required (or id)".into())
        })?,
    };
    let status = match string(&body, "action", 20)?.as_deref() {
        None | Some("resolve") => InboxStatus::Resolved,
        Some("reject") => InboxStatus::Rejected,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field action: must be resolve or reject, got {other:?}"
            )));
        }
    };
    let response = string(&body, "response", TEXT_MAX_BYTES)?;
    if chat_gates::names(&id) {
        let row = chat_gates::decide(&state.platform, &user.0, &id, status, response.as_deref())
            .await
            .map_err(gate_error)?;
        return Ok(AxumJson(json!({"ok": true, "request": row})));
    }
    let request = service::decide(&state.platform, &user.0, &id, status, response).await?;
    Ok(AxumJson(
        json!({"ok": true, "request": request_json(&request)}),
    ))
}
