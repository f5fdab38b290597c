//! The approvals queue: list, approve (runs the stored request) and reject.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json, Query, UserAuth};
use crate::clock::rfc3339;
use crate::governance::approvals;
use crate::model::{Approval, ApprovalStatus};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(list))
        .route("/approvals/{approval_id}/approve", post(approve))
        .route("/approvals/{approval_id}/reject", post(reject))
}

#[derive(Deserialize)]
struct ListApprovals {
    status: Option<String>,
}

fn row(a: &Approval) -> Value {
    json!({
        "id": a.id,
        "request_id": a.request_id,
        "agent_id": a.agent_id,
        "agent_name": a.agent_name,
        "service": a.service,
        "operation": a.operation,
        "payload": a.payload,
        "estimated_cost_cents": a.estimated_cost.get(),
        "status": a.status.as_str(),
        "expires_at": rfc3339(a.expires_at),
        "created_at": rfc3339(a.created_at),
        "decided_at": a.decided_at.map(rfc3339),
        "decided_by": a.decided_by,
    })
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListApprovals>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(raw) => Some(ApprovalStatus::parse(raw).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "status must be pending, approved, rejected, expired or all; got {raw:?}"
            ))
        })?),
    };
    let approvals = approvals::list(&state.platform, &user.0, status).await?;
    Ok(AxumJson(
        json!({"approvals": approvals.iter().map(row).collect::<Vec<_>>()}),
    ))
}

/// The optional body of a decision. Reading it also drains the request,
/// so the connection can be kept alive for the client's next call.
#[derive(Deserialize)]
struct Decide {
    #[serde(default)]
    note: Option<String>,
}

impl Decide {
    fn note(&self) -> Result<Option<&str>, ApiError> {
        match self.note.as_deref() {
            Some(note) if note.len() > 1000 => Err(ApiError::Unprocessable(
                "invalid field note: at most 1000 bytes".into(),
            )),
            note => Ok(note),
        }
    }
}

async fn approve(
    State(state): State<AppState>,
    AdminAuth(principal): AdminAuth,
    Path(approval_id): Path<String>,
    Json(body): Json<Decide>,
) -> Result<AxumJson<Value>, ApiError> {
    let mut outcome =
        approvals::approve(&state.platform, &principal, &approval_id, body.note()?).await?;
    outcome["approval_id"] = json!(approval_id);
    Ok(AxumJson(outcome))
}

async fn reject(
    State(state): State<AppState>,
    AdminAuth(principal): AdminAuth,
    Path(approval_id): Path<String>,
    Json(body): Json<Decide>,
) -> Result<AxumJson<Value>, ApiError> {
    let mut outcome =
        approvals::reject(&state.platform, &principal, &approval_id, body.note()?).await?;
    outcome["approval_id"] = json!(approval_id);
    Ok(AxumJson(outcome))
}
