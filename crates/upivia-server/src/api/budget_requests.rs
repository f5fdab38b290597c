//! Budget requests (API.md §2.19): a member asks for money for a team's
//! pool (`POST`), lists what they may see (`GET`), and the owner or a
//! manager of the team approves or rejects (`PATCH`), approving moving the
//! amount from the organisation balance into the pool.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::{self, string};
use crate::clock::rfc3339;
use crate::domains::teams::budget_requests as service;
use crate::store::{BudgetRequest, BudgetRequestStatus};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/budget-requests", get(list).post(create))
        .route("/budget-requests/{request_id}", patch(resolve))
}

const REASON_MAX_BYTES: usize = 4096;
const NOTE_MAX_BYTES: usize = 4096;
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

fn request_json(r: &BudgetRequest) -> Value {
    json!({
        "id": r.id,
        "team_id": r.team_id,
        "team_name": r.team_name,
        "requested_by": r.requested_by_user_id,
        "requested_by_email": r.requested_by_email,
        "amount_cents": r.amount.get(),
        "reason": r.reason,
        "status": r.status.as_str(),
        "note": r.note,
        "resolved_by": r.resolved_by_user_id,
        "resolved_at": r.resolved_at.map(rfc3339),
        "transfer_id": r.transfer_id,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let team_id = string(&body, "team_id", 100)?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unprocessable("invalid field team_id: required".into()))?;
    let amount = fields::amount(&body, "amount_cents")?;
    let reason = string(&body, "reason", REASON_MAX_BYTES)?.unwrap_or_default();
    let request = service::create(&state.platform, &user.0, &team_id, amount, reason).await?;
    Ok(AxumJson(json!({"request": request_json(&request)})))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    // Pending by default (what a person has to act on); `all` for every one.
    let status = match q.status.as_deref().unwrap_or("pending") {
        "all" => None,
        raw => Some(BudgetRequestStatus::parse(raw).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid query status: must be pending, approved, rejected or all, got {raw:?}"
            ))
        })?),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let requests = service::list(&state.platform, &user.0, status, limit).await?;
    Ok(AxumJson(json!({
        "requests": requests.iter().map(request_json).collect::<Vec<_>>(),
    })))
}

async fn resolve(
    State(state): State<AppState>,
    user: UserAuth,
    Path(request_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let request = service::decidable(&state.platform, &user.0, &request_id).await?;
    // `action` as suggested; `status` ("approved"/"rejected") as a client
    // that sets the state directly would send it.
    let raw = string(&body, "action", 50)?
        .or(string(&body, "status", 50)?)
        .ok_or_else(|| {
            ApiError::Unprocessable("invalid field action: required (approve or reject)".into())
        })?;
    let approve = match raw.as_str() {
        "approve" | "approved" => true,
        "reject" | "rejected" => false,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field action: must be approve or reject, got {other:?}"
            )));
        }
    };
    let note = string(&body, "note", NOTE_MAX_BYTES)?;
    let request = service::resolve(&state.platform, &user.0, request, approve, note).await?;
    Ok(AxumJson(
        json!({"ok": true, "request": request_json(&request)}),
    ))
}
