//! Reconciliation of asynchronous requests: a `running` request is polled
//! at its provider until it completes, then settled at its actual cost (or
//! released when it failed, or when it stays silent past the deadline).

use time::Duration;

use super::{GovernanceError, execute, trail};
use crate::model::{ReasonCode, RequestStatus, ServiceRequest};
use crate::platform::Platform;
use crate::providers::{PollStatus, ProviderPoll};
use crate::store::Finish;

/// A running request not completed after this long is failed and released.
pub const MAX_RUNNING: Duration = Duration::hours(6);

/// One pass over running requests; returns how many were settled.
pub async fn tick(platform: &Platform) -> Result<usize, GovernanceError> {
    let running = platform
        .stores
        .governance
        .requests_in(RequestStatus::Running, 200)
        .await?;
    let mut settled = 0;
    for request in running {
        if reconcile_one(platform, &request).await? {
            settled += 1;
        }
    }
    Ok(settled)
}

async fn reconcile_one(
    platform: &Platform,
    request: &ServiceRequest,
) -> Result<bool, GovernanceError> {
    let started_at = request.started_at.unwrap_or(request.created_at);
    match poll(platform, request, started_at).await {
        None => Ok(false),
        Some(status) => conclude(platform, request, status, trail::SYSTEM).await,
    }
}

/// Settles `request` (which must be `running`) by what its provider
/// reports: the poll's answer, or the provider's own status callback
/// (`actor` names which). Returns whether it was settled; a pending call
/// is left for later unless it has run past [`MAX_RUNNING`].
pub async fn conclude(
    platform: &Platform,
    request: &ServiceRequest,
    status: PollStatus,
    actor: &str,
) -> Result<bool, GovernanceError> {
    let now = platform.clock.now();
    let started_at = request.started_at.unwrap_or(request.created_at);
    let finish = match status {
        PollStatus::Pending if now - started_at < MAX_RUNNING => return Ok(false),
        PollStatus::Pending => Finish::Failed {
            reason: ReasonCode::ProviderUnavailable,
            message: "the provider never reported completion".into(),
        },
        PollStatus::Completed {
            result,
            actual_cost,
        } => Finish::Executed {
            result,
            charge: actual_cost,
            provider: request.provider.clone().unwrap_or_default(),
        },
        PollStatus::Failed(error) => execute::failure(error),
    };
    execute::settle(platform, request.clone(), finish, actor, Some("reconciled")).await?;
    Ok(true)
}

/// Asks the provider; `None` when the request cannot be polled now (the
/// provider failed to answer this time: try again next pass).
async fn poll(
    platform: &Platform,
    request: &ServiceRequest,
    started_at: time::OffsetDateTime,
) -> Option<PollStatus> {
    let Some(operation) = platform
        .catalog
        .operation(&request.service, &request.operation)
    else {
        return Some(PollStatus::Failed(
            crate::providers::ProviderError::Adapter("the operation left the catalog".into()),
        ));
    };
    let provider = platform
        .providers
        .named(operation, request.provider.as_deref())?;
    let external_id = request.external_id.clone().unwrap_or_default();
    let poll = ProviderPoll {
        operation,
        payload: &request.payload,
        request_id: &request.id,
        external_id: &external_id,
        started_at,
        now: platform.clock.now(),
    };
    match tokio::time::timeout(platform.settings.provider_timeout, provider.poll(poll)).await {
        Ok(Ok(status)) => Some(status),
        Ok(Err(error)) => {
            tracing::warn!(request_id = %request.id, error = %error, "reconciliation poll failed");
            None
        }
        Err(_) => None,
    }
}
