//! Operations the platform carries out itself instead of a provider: the
//! organisation's private-service catalog (`private_services`) and
//! `workflow.run` (`domains/workflows/skill`). They pass through the same
//! pipeline as any request (binding, limits, approval, audit); this module
//! is the one place the pipeline, the executor and recovery ask which
//! operations those are and how each is checked and carried out.

use super::{GovernanceError, private_services};
use crate::domains::DomainError;
use crate::domains::workflows::skill;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, ReasonCode, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::Finish;

/// The provider name these requests report.
pub const PROVIDER: &str = "platform";

/// Is `service.operation` carried out by the platform itself?
pub fn handles(service: &str, operation: &str) -> bool {
    private_services::handles(service, operation) || skill::handles(service, operation)
}

fn governance(e: DomainError) -> GovernanceError {
    match e {
        DomainError::NotFound(what) => GovernanceError::NotFound(what),
        DomainError::Invalid(message) => GovernanceError::InvalidRequest(message),
        DomainError::Conflict { code, message } => GovernanceError::Conflict { code, message },
        DomainError::Store(e) => GovernanceError::Store(e),
        other => GovernanceError::Forbidden(other.to_string()),
    }
}

/// Checks a request in full before anything is held or waits for anyone.
pub async fn check(
    platform: &Platform,
    agent: &Agent,
    service: &str,
    operation: &str,
    payload: &serde_json::Value,
) -> Result<(), GovernanceError> {
    if skill::handles(service, operation) {
        skill::check(platform, agent, payload)
            .await
            .map_err(governance)?;
        return Ok(());
    }
    private_services::check(platform, agent, operation, payload).await?;
    Ok(())
}

/// Carries out a reserved request (free: nothing is charged).
pub async fn execute(platform: &Platform, request: &ServiceRequest) -> Finish {
    let outcome = if skill::handles(&request.service, &request.operation) {
        start_run(platform, request).await
    } else {
        private_services::apply_change(platform, request).await
    };
    match outcome {
        Ok(result) => Finish::Executed {
            result,
            charge: Cents::ZERO,
            provider: PROVIDER.to_owned(),
        },
        Err(e) => Finish::Failed {
            reason: ReasonCode::AdapterError,
            message: e.to_string(),
        },
    }
}

async fn start_run(
    platform: &Platform,
    request: &ServiceRequest,
) -> Result<serde_json::Value, GovernanceError> {
    let agent = platform
        .stores
        .agents
        .agent(
            &OrgId::from(&request.org_id),
            &AgentId::from(&request.agent_id),
        )
        .await?
        .ok_or(GovernanceError::NotFound("agent"))?;
    skill::execute(platform, &agent, request)
        .await
        .map_err(governance)
}
