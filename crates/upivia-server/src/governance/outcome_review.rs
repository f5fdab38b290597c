//! The operator's decision on a request whose outcome a crash left unknown
//! (see `recovery.rs`): the request ended `failed` / `outcome_unknown`
//! with its estimate held. Settling says it happened: up to the held
//! amount is charged and the request reads `executed`. Releasing says it
//! did not: the hold is freed and the request stays `failed`. Either is
//! made once, in the transaction that moves the money, and audited. The
//! reviews sit in the approvals inbox, decided by its approve and reject.

use serde_json::{Value, json};

use super::{GovernanceError, execute, outcome, trail};
use crate::ids::{OrgId, OutcomeReviewId, RequestId};
use crate::model::{
    ApprovalStatus, AuditEvent, OutcomeReview, ReasonCode, ReviewStatus, UserPrincipal,
};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{Finish, ReviewDecision, StoreError};

/// Whether `id` names an outcome review rather than an approval gate.
pub fn names_review(id: &str) -> bool {
    id.parse::<OutcomeReviewId>().is_ok()
}

pub async fn list(
    platform: &Platform,
    principal: &UserPrincipal,
    status: Option<ReviewStatus>,
) -> Result<Vec<OutcomeReview>, GovernanceError> {
    Ok(platform
        .stores
        .governance
        .outcome_reviews(&OrgId::from(&principal.org_id), status)
        .await?)
}

/// How the approvals inbox names a review's state.
pub fn inbox_status(status: ReviewStatus) -> ApprovalStatus {
    match status {
        ReviewStatus::Pending => ApprovalStatus::Pending,
        ReviewStatus::Settled => ApprovalStatus::Approved,
        ReviewStatus::Released => ApprovalStatus::Rejected,
    }
}

async fn pending(
    platform: &Platform,
    principal: &UserPrincipal,
    review_id: &str,
) -> Result<OutcomeReview, GovernanceError> {
    let review = platform
        .stores
        .governance
        .outcome_review(&OutcomeReviewId::from(review_id))
        .await?
        .filter(|r| r.org_id == principal.org_id)
        .ok_or(GovernanceError::NotFound("approval"))?;
    if review.status != ReviewStatus::Pending {
        return Err(GovernanceError::ApprovalDecided(inbox_status(
            review.status,
        )));
    }
    Ok(review)
}

fn review_event(
    review: &OutcomeReview,
    decision: ReviewStatus,
    actor: &str,
    charge: Cents,
    note: Option<&str>,
) -> AuditEvent {
    AuditEvent::new(
        &review.org_id,
        &format!("outcome_review.{}", decision.as_str()),
        actor,
    )
    .with_agent(&review.agent_id)
    .with_operation(&review.service, &review.operation)
    .with_request(&review.request_id)
    .with_status(decision.as_str())
    .with_cost(charge)
    .with_details(json!({
        "review_id": review.id,
        "provider": review.provider,
        "held_cents": review.held.get(),
        "charged_cents": charge.get(),
        "note": note,
    }))
}

/// The operator confirms it happened: charges `amount` (at most what is
/// held; all of it when not given).
pub async fn settle(
    platform: &Platform,
    principal: &UserPrincipal,
    review_id: &str,
    amount: Option<Cents>,
    note: Option<&str>,
) -> Result<Value, GovernanceError> {
    let review = pending(platform, principal, review_id).await?;
    let charge = amount.unwrap_or(review.held);
    if charge.is_negative() || charge > review.held {
        return Err(GovernanceError::InvalidRequest(format!(
            "amount_cents must be between 0 and the {} cents held",
            review.held.get()
        )));
    }
    let actor = trail::user_actor(&principal.user_id);
    let finish = Finish::Executed {
        result: json!({
            "outcome": "confirmed_by_operator",
            "review_id": review.id,
            "note": note,
        }),
        charge,
        provider: review.provider.clone(),
    };
    decide(
        platform,
        &review,
        finish,
        ReviewStatus::Settled,
        review_event(&review, ReviewStatus::Settled, &actor, charge, note),
        actor,
    )
    .await
}

/// The operator confirms it did not happen: releases the hold.
pub async fn release(
    platform: &Platform,
    principal: &UserPrincipal,
    review_id: &str,
    note: Option<&str>,
) -> Result<Value, GovernanceError> {
    let review = pending(platform, principal, review_id).await?;
    let actor = trail::user_actor(&principal.user_id);
    let finish = Finish::Failed {
        reason: ReasonCode::OutcomeUnknown,
        message: format!(
            "released by {}: the operator found it did not happen; nothing was charged",
            principal.email
        ),
    };
    decide(
        platform,
        &review,
        finish,
        ReviewStatus::Released,
        review_event(&review, ReviewStatus::Released, &actor, Cents::ZERO, note),
        actor,
    )
    .await
}

async fn decide(
    platform: &Platform,
    review: &OutcomeReview,
    finish: Finish,
    status: ReviewStatus,
    audit: AuditEvent,
    actor: String,
) -> Result<Value, GovernanceError> {
    let request = platform
        .stores
        .governance
        .request(&RequestId::from(&review.request_id))
        .await?
        .ok_or(GovernanceError::NotFound("service request"))?;
    let decision = ReviewDecision {
        review_id: review.id.clone(),
        status,
        decided_by: actor.clone(),
        audit,
    };
    let event = match status {
        ReviewStatus::Settled => "outcome_settled",
        _ => "outcome_released",
    };
    match execute::settle_reviewed(
        platform,
        request,
        finish,
        &actor,
        Some(event),
        Some(decision),
    )
    .await
    {
        Ok(finished) => Ok(outcome::render(&finished)),
        // Another operator decided it first.
        Err(GovernanceError::Store(StoreError::Conflict(_))) => {
            let now = platform
                .stores
                .governance
                .outcome_review(&OutcomeReviewId::from(review.id.as_str()))
                .await?
                .map_or(ReviewStatus::Settled, |r| r.status);
            Err(GovernanceError::ApprovalDecided(inbox_status(now)))
        }
        Err(e) => Err(e),
    }
}
