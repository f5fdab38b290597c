//! Recovery after an unclean stop. A request caught `executing` (budget
//! reserved) when the process died ends one of three ways:
//!
//! - its provider was never called (or is the sandbox, which acts on
//!   nothing): failed with `interrupted`, its hold released;
//! - its provider was called and recognises a repeated call by the request
//!   id (an idempotency key it honours) within its window: the call is
//!   repeated, and its answer settles the request as if no crash happened;
//! - otherwise the side effect may have happened: failed with
//!   `outcome_unknown`, the estimate still held, and an outcome review in
//!   the approvals inbox for an operator to settle or release, once.
//!
//! A `workflow.run` is carried out again: its run is named after the
//! request, so it starts at most once.
//!
//! `running` requests need nothing: the reconciler picks them up.

use std::sync::Arc;

use super::{GovernanceError, execute, internal_ops, resolve, trail};
use crate::domains::workflows::skill;
use crate::ids::{self, OrgId};
use crate::model::{
    KeyMode, OutcomeReview, ReasonCode, RequestStatus, ReviewStatus, ServiceRequest,
};
use crate::platform::Platform;
use crate::providers::Provider;
use crate::store::Finish;

/// Finishes every interrupted request; returns how many. Run before serving.
pub async fn recover(platform: &Platform) -> Result<usize, GovernanceError> {
    let mut recovered = 0;
    loop {
        let stuck = platform
            .stores
            .governance
            .requests_in(RequestStatus::Executing, 500)
            .await?;
        if stuck.is_empty() {
            return Ok(recovered);
        }
        for request in stuck {
            recover_one(platform, request).await?;
            recovered += 1;
        }
    }
}

async fn recover_one(platform: &Platform, request: ServiceRequest) -> Result<(), GovernanceError> {
    // A workflow start names its run after the request, so carrying it out
    // again finds the run it may already have started, or starts it once.
    if skill::handles(&request.service, &request.operation) {
        let finish = internal_ops::execute(platform, &request).await;
        execute::settle(platform, request, finish, trail::SYSTEM, Some("reconciled")).await?;
        return Ok(());
    }
    let Some(started) = request.provider_started_at else {
        let finish = Finish::Failed {
            reason: ReasonCode::Interrupted,
            message: "the server stopped while this request was executing, before anything \
                      outside the server was done; nothing was charged"
                .into(),
        };
        execute::settle(platform, request, finish, trail::SYSTEM, None).await?;
        return Ok(());
    };
    if let Some(finish) = replay(platform, &request, started).await? {
        tracing::info!(request_id = %request.id, "repeated an interrupted call its provider deduplicates");
        execute::settle(platform, request, finish, trail::SYSTEM, Some("reconciled")).await?;
        return Ok(());
    }
    let provider = request
        .provider
        .clone()
        .unwrap_or_else(|| "unknown".to_owned());
    let review = OutcomeReview {
        id: ids::new_id(ids::OUTCOME_REVIEW),
        org_id: request.org_id.clone(),
        agent_id: request.agent_id.clone(),
        agent_name: String::new(),
        request_id: request.id.clone(),
        service: request.service.clone(),
        operation: request.operation.clone(),
        payload: request.payload.clone(),
        provider: provider.clone(),
        // The store records what the request actually holds.
        held: request.estimated_cost,
        status: ReviewStatus::Pending,
        charged: None,
        decided_at: None,
        decided_by: None,
        created_at: platform.clock.now(),
    };
    tracing::warn!(
        request_id = %request.id,
        review_id = %review.id,
        provider = %provider,
        "a request's provider was called before the server stopped: its outcome is unknown and waits for an operator"
    );
    let finish = Finish::Unknown {
        message: format!(
            "the server stopped after {provider} was called and before its answer was recorded, \
             so whether it happened is unknown; the estimate stays held until an operator \
             settles or releases it (review {})",
            review.id
        ),
        provider,
        review: Box::new(review),
    };
    execute::settle(
        platform,
        request,
        finish,
        trail::SYSTEM,
        Some("outcome_unknown"),
    )
    .await?;
    Ok(())
}

/// Repeats the call if its provider will recognise it, and answers how the
/// request ends; `None` when the outcome stays unknown (no such provider,
/// its window passed, or it did not answer this time either).
async fn replay(
    platform: &Platform,
    request: &ServiceRequest,
    started: time::OffsetDateTime,
) -> Result<Option<Finish>, GovernanceError> {
    let org = OrgId::from(&request.org_id);
    let resolved =
        match resolve::resolve(platform, &org, &request.service, &request.operation).await {
            Ok(resolved) => resolved,
            Err(GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. }) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
    // Only a live key's request is ever noted as started.
    let Some(provider): Option<Arc<dyn Provider>> = resolved.provider(platform, KeyMode::Live)
    else {
        return Ok(None);
    };
    let within = provider.replay_window().is_some_and(|window| {
        let elapsed = platform.clock.now() - started;
        elapsed >= time::Duration::ZERO && elapsed.unsigned_abs() < window
    });
    if !within || request.provider.as_deref() != Some(provider.name()) {
        return Ok(None);
    }
    Ok(
        match execute::call(platform, request, &resolved.spec, &provider).await {
            // No answer again: still unknown.
            Finish::Failed {
                reason: ReasonCode::ProviderUnavailable,
                ..
            } => None,
            finish => Some(finish),
        },
    )
}
