//! The approvals inbox: approval gates (approve runs the stored request,
//! reject blocks it) and outcome reviews (approve settles a request whose
//! outcome a crash left unknown, reject releases it), listed together.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json, Query, UserAuth};
use crate::clock::rfc3339;
use crate::domains::workflows::inbox as workflow_inbox;
use crate::governance::{approvals, outcome_review};
use crate::model::{Approval, ApprovalStatus, OutcomeReview, ReviewStatus};
use crate::money::Cents;

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
        "kind": "approval",
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

/// An outcome review in the inbox's shape: what the request holds is its
/// estimate; it never expires (the money waits for a person).
fn review_row(r: &OutcomeReview) -> Value {
    json!({
        "id": r.id,
        "kind": "outcome_unknown",
        "request_id": r.request_id,
        "agent_id": r.agent_id,
        "agent_name": r.agent_name,
        "service": r.service,
        "operation": r.operation,
        "payload": r.payload,
        "provider": r.provider,
        "estimated_cost_cents": r.held.get(),
        "held_cents": r.held.get(),
        "status": outcome_review::inbox_status(r.status).as_str(),
        "decision": (r.status != ReviewStatus::Pending).then(|| r.status.as_str()),
        "charged_cents": r.charged.map(Cents::get),
        "expires_at": null,
        "created_at": rfc3339(r.created_at),
        "decided_at": r.decided_at.map(rfc3339),
        "decided_by": r.decided_by,
    })
}

/// Which reviews an inbox filter shows.
fn review_filter(status: Option<ApprovalStatus>) -> Option<Option<ReviewStatus>> {
    match status {
        None => Some(None),
        Some(ApprovalStatus::Pending) => Some(Some(ReviewStatus::Pending)),
        Some(ApprovalStatus::Approved) => Some(Some(ReviewStatus::Settled)),
        Some(ApprovalStatus::Rejected) => Some(Some(ReviewStatus::Released)),
        Some(ApprovalStatus::Expired) => None,
    }
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
    let reviews = match review_filter(status) {
        Some(filter) => outcome_review::list(&state.platform, &user.0, filter).await?,
        None => Vec::new(),
    };
    // Newest first, both kinds together.
    let mut rows: Vec<(time::OffsetDateTime, Value)> = approvals
        .iter()
        .map(|a| (a.created_at, row(a)))
        .chain(reviews.iter().map(|r| (r.created_at, review_row(r))))
        .chain(workflow_inbox::list(&state.platform, &user.0, status).await?)
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.0));
    Ok(AxumJson(
        json!({"approvals": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}),
    ))
}

/// The optional body of a decision. Reading it also drains the request,
/// so the connection can be kept alive for the client's next call.
#[derive(Deserialize)]
struct Decide {
    #[serde(default)]
    note: Option<String>,
    /// Settling an outcome review: what to charge, at most what is held.
    #[serde(default)]
    amount_cents: Option<i64>,
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

    /// `amount_cents`, which only settling an outcome review takes.
    fn amount(&self, review: bool) -> Result<Option<Cents>, ApiError> {
        match self.amount_cents {
            None => Ok(None),
            Some(_) if !review => Err(ApiError::Unprocessable(
                "invalid field amount_cents: only an outcome review's settlement takes an amount"
                    .into(),
            )),
            Some(cents) if cents < 0 => Err(ApiError::Unprocessable(
                "invalid field amount_cents: must not be negative".into(),
            )),
            Some(cents) => Ok(Some(Cents::new(cents))),
        }
    }
}

async fn approve(
    State(state): State<AppState>,
    AdminAuth(principal): AdminAuth,
    Path(approval_id): Path<String>,
    Json(body): Json<Decide>,
) -> Result<AxumJson<Value>, ApiError> {
    let review = outcome_review::names_review(&approval_id);
    let amount = body.amount(review)?;
    let note = body.note()?;
    let mut outcome = if workflow_inbox::names(&approval_id) {
        workflow_inbox::decide(&state.platform, &principal, &approval_id, true, note).await?
    } else if review {
        outcome_review::settle(&state.platform, &principal, &approval_id, amount, note).await?
    } else {
        approvals::approve(&state.platform, &principal, &approval_id, note).await?
    };
    outcome["approval_id"] = json!(approval_id);
    Ok(AxumJson(outcome))
}

async fn reject(
    State(state): State<AppState>,
    AdminAuth(principal): AdminAuth,
    Path(approval_id): Path<String>,
    Json(body): Json<Decide>,
) -> Result<AxumJson<Value>, ApiError> {
    let review = outcome_review::names_review(&approval_id);
    body.amount(false)?;
    let note = body.note()?;
    let mut outcome = if workflow_inbox::names(&approval_id) {
        workflow_inbox::decide(&state.platform, &principal, &approval_id, false, note).await?
    } else if review {
        outcome_review::release(&state.platform, &principal, &approval_id, note).await?
    } else {
        approvals::reject(&state.platform, &principal, &approval_id, note).await?
    };
    outcome["approval_id"] = json!(approval_id);
    Ok(AxumJson(outcome))
}
