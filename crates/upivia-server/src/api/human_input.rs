//! Human-input requests (API.md §2.22): `GET /human-input?status=` lists
//! what the caller may answer (pending by default; `answered`,
//! `cancelled`, `all`), `POST /human-input/{request_id}` `{text}` answers
//! one, once, and resumes the work it paused.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::string;
use crate::clock::rfc3339;
use crate::domains::human_input::service::{self, ANSWER_MAX_BYTES};
use crate::store::{HumanInput, HumanInputStatus};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/human-input", get(list))
        .route("/human-input/{request_id}", post(answer))
}

fn request_json(r: &HumanInput) -> Value {
    json!({
        "id": r.id,
        "title": r.title,
        "source": r.source.as_str(),
        "workflow_id": r.workflow_id,
        "workflow_name": r.workflow_name,
        "workflow_run_id": r.workflow_run_id,
        "step_id": r.step_id,
        "room_id": r.room_id,
        "agent_id": r.agent_id,
        "assignee_email": r.assignee_email,
        "prompt_text": r.prompt_text,
        "status": r.status.as_str(),
        "answer_text": r.answer_text,
        "answered_by": r.answered_by_email,
        "answered_by_user_id": r.answered_by_user_id,
        "created_at": rfc3339(r.created_at),
        "answered_at": r.answered_at.map(rfc3339),
        "cancelled_at": r.cancelled_at.map(rfc3339),
    })
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => Some(HumanInputStatus::Pending),
        Some("all") => None,
        Some(raw) => Some(HumanInputStatus::parse(raw).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "invalid query parameter status: must be pending, answered, cancelled or all, got {raw:?}"
            ))
        })?),
    };
    let rows = service::list(&state.platform, &user.0, status).await?;
    Ok(AxumJson(
        json!({"requests": rows.iter().map(request_json).collect::<Vec<_>>()}),
    ))
}

async fn answer(
    State(state): State<AppState>,
    user: UserAuth,
    Path(request_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Which request and whether the caller may answer it come first: an
    // unknown id is 404 and someone else's 403 whatever the body says.
    service::answerable(&state.platform, &user.0, &request_id).await?;
    let text = string(&body, "text", ANSWER_MAX_BYTES)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field text: required".into()))?;
    let row = service::answer(&state.platform, &user.0, &request_id, text).await?;
    Ok(AxumJson(json!({"request": request_json(&row)})))
}
