//! Running a reserved request through its provider, then settling: the
//! actual cost is charged (never more than was reserved) and the rest of
//! the reservation released; a provider failure releases everything. The
//! call runs in its own task so a client that hangs up cannot leave a
//! reservation behind.

use std::sync::Arc;

use super::secrets::PlatformSecrets;
use super::{GovernanceError, internal_ops, outcome, resolve, trail};
use crate::catalog::OperationSpec;
use crate::ids::{OrgId, RequestId};
use crate::model::{KeyMode, ReasonCode, RequestStatus, ServiceRequest};
use crate::platform::Platform;
use crate::providers::{Execution, Provider, ProviderCall, ProviderError};
use crate::store::{Finish, FinishRequest, ReviewDecision};

/// Maps a provider failure to the reason clients see. No charge sticks.
pub fn failure(error: ProviderError) -> Finish {
    match error {
        ProviderError::Unavailable(message) => Finish::Failed {
            reason: ReasonCode::ProviderUnavailable,
            message,
        },
        ProviderError::Adapter(message) => Finish::Failed {
            reason: ReasonCode::AdapterError,
            message,
        },
    }
}

/// Calls `provider` for `request`. A provider that acts on the world is
/// noted as started first, so a crash from here on leaves the request's
/// outcome unknown instead of "never happened".
pub(super) async fn call(
    platform: &Platform,
    request: &ServiceRequest,
    operation: &OperationSpec,
    provider: &Arc<dyn Provider>,
) -> Finish {
    if provider.has_side_effects()
        && let Err(e) = platform
            .stores
            .governance
            .mark_provider_started(
                &RequestId::from(&request.id),
                provider.name(),
                platform.clock.now(),
            )
            .await
    {
        tracing::warn!(request_id = %request.id, error = %e, "could not note a provider call's start");
        return Finish::Failed {
            reason: ReasonCode::ProviderUnavailable,
            message: "the call could not be recorded before it was made; nothing was sent".into(),
        };
    }
    let org_id = OrgId::from(&request.org_id);
    let call = ProviderCall {
        operation,
        org_id: &org_id,
        secrets: &PlatformSecrets(platform),
        payload: &request.payload,
        request_id: &request.id,
        now: platform.clock.now(),
    };
    let limit = platform.settings.provider_timeout;
    match tokio::time::timeout(limit, provider.execute(call)).await {
        Err(_) => Finish::Failed {
            reason: ReasonCode::ProviderUnavailable,
            message: format!(
                "the provider did not answer within {} ms",
                limit.as_millis()
            ),
        },
        Ok(Err(error)) => failure(error),
        Ok(Ok(Execution::Completed {
            result,
            actual_cost,
        })) => Finish::Executed {
            result,
            charge: actual_cost,
            provider: provider.name().to_owned(),
        },
        Ok(Ok(Execution::Started {
            external_id,
            initial_cost,
        })) => Finish::Running {
            provider: provider.name().to_owned(),
            external_id,
            initial_cost,
        },
    }
}

/// Records how a request that holds money ends (or moves to `running`):
/// one store transaction settles or releases, stores the replayable answer
/// and appends the audit event (`service_request.<status>`, or
/// `service_request.<event>` when given). Every path that finishes a
/// request comes through here: execution, reconciliation and recovery.
pub(super) async fn settle(
    platform: &Platform,
    request: ServiceRequest,
    finish: Finish,
    actor: &str,
    event: Option<&str>,
) -> Result<ServiceRequest, GovernanceError> {
    settle_reviewed(platform, request, finish, actor, event, None).await
}

/// [`settle`], closing `review` in the same transaction: how an operator's
/// decision finishes a request whose outcome was unknown.
pub(super) async fn settle_reviewed(
    platform: &Platform,
    request: ServiceRequest,
    finish: Finish,
    actor: &str,
    event: Option<&str>,
    review: Option<ReviewDecision>,
) -> Result<ServiceRequest, GovernanceError> {
    // The audit event describes the request as it will be; the store sets
    // the cost it actually settled.
    let mut after = request.clone();
    after.status = match &finish {
        Finish::Executed { .. } => RequestStatus::Executed,
        Finish::Failed { .. } | Finish::Unknown { .. } => RequestStatus::Failed,
        Finish::Running { .. } => RequestStatus::Running,
    };
    match &finish {
        Finish::Executed { result, .. } => after.result = Some(result.clone()),
        Finish::Failed { reason, message } => {
            after.reason_code = Some(*reason);
            after.message = Some(message.clone());
        }
        Finish::Unknown { message, .. } => {
            after.reason_code = Some(ReasonCode::OutcomeUnknown);
            after.message = Some(message.clone());
        }
        Finish::Running { .. } => {}
    }
    let audit = match event {
        Some(suffix) => trail::named(&after, actor, suffix),
        None => trail::decision(&after, actor),
    };
    let finished = platform
        .stores
        .governance
        .finish_request(FinishRequest {
            request,
            outcome: finish,
            render: outcome::response,
            audit,
            now: platform.clock.now(),
            review,
        })
        .await?;
    outcome::decided(platform, &finished);
    Ok(finished)
}

/// Executes and settles `request` (which must be `executing`), on a task of
/// its own; returns the finished request.
pub async fn run(
    platform: &Platform,
    request: ServiceRequest,
    key_mode: KeyMode,
    actor: String,
) -> Result<ServiceRequest, GovernanceError> {
    let platform = platform.clone();
    let task = tokio::spawn(async move {
        let org = OrgId::from(&request.org_id);
        let finish = if internal_ops::handles(&request.service, &request.operation) {
            internal_ops::execute(&platform, &request).await
        } else {
            match resolve::resolve(&platform, &org, &request.service, &request.operation).await {
                Ok(op) => match op.provider(&platform, key_mode) {
                    Some(provider) => call(&platform, &request, &op.spec, &provider).await,
                    None => Finish::Failed {
                        reason: ReasonCode::AdapterError,
                        message: format!("no provider is configured for {}", op.spec.full_name()),
                    },
                },
                // Removed since the request was made (a private service
                // unregistered while it waited for approval).
                Err(
                    GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. },
                ) => Finish::Failed {
                    reason: ReasonCode::AdapterError,
                    message: "the operation left the catalog".into(),
                },
                Err(e) => return Err(e),
            }
        };
        settle(&platform, request, finish, &actor, None).await
    });
    task.await
        .map_err(|e| GovernanceError::Store(crate::store::StoreError::Other(Box::new(e))))?
}
