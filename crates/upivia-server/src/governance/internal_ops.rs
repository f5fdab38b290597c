//! Operations the platform carries out itself instead of a provider: the
//! organisation's private-service catalog (`private_services`),
//! `workflow.run` (`domains/workflows/skill`) and `knowledge.search`
//! (`domains/knowledge/retrieval`). They pass through the same
//! pipeline as any request (binding, limits, approval, audit); this module
//! is the one place the pipeline, the executor and recovery ask which
//! operations those are and how each is checked and carried out.

use super::{GovernanceError, private_services};
use crate::catalog::{OperationSpec, PricingType};
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
    private_services::handles(service, operation)
        || skill::handles(service, operation)
        || is_knowledge_search(service, operation)
}

fn is_knowledge_search(service: &str, operation: &str) -> bool {
    service == "knowledge" && operation == "search"
}

/// What one costs: its list price (flat), charged when it executes.
pub fn estimate(operation: &OperationSpec) -> Cents {
    match operation.pricing {
        PricingType::Flat => operation.base_price_cents,
        PricingType::Metered | PricingType::Free => Cents::ZERO,
    }
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
    if is_knowledge_search(service, operation) {
        // The collection must be the agent's organisation's; the search
        // itself runs when the request executes.
        let (collection, _, _) = search_args(payload)?;
        crate::domains::knowledge::service::collection(
            platform,
            &OrgId::from(&agent.org_id),
            &collection,
        )
        .await
        .map_err(governance)?;
        return Ok(());
    }
    private_services::check(platform, agent, operation, payload).await?;
    Ok(())
}

/// The collection, query and result count of a `knowledge.search`.
fn search_args(payload: &serde_json::Value) -> Result<(String, String, u32), GovernanceError> {
    use crate::domains::knowledge::retrieval::{DEFAULT_TOP_K, MAX_TOP_K};
    let invalid = |field: &str, message: &str| GovernanceError::InvalidPayload {
        field: format!("payload.{field}"),
        message: message.into(),
    };
    let collection = payload["collection_id"]
        .as_str()
        .ok_or_else(|| invalid("collection_id", "required"))?;
    let query = payload["query"]
        .as_str()
        .ok_or_else(|| invalid("query", "required"))?;
    let top_k = match payload.get("top_k") {
        None | Some(serde_json::Value::Null) => DEFAULT_TOP_K,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_TOP_K)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| invalid("top_k", "must be an integer from 1 to 50"))?,
    };
    Ok((collection.to_owned(), query.to_owned(), top_k))
}

async fn knowledge_search(
    platform: &Platform,
    request: &ServiceRequest,
) -> Result<serde_json::Value, GovernanceError> {
    use crate::domains::knowledge::retrieval;
    let (collection, query, top_k) = search_args(&request.payload)?;
    let found = retrieval::search(
        platform,
        &OrgId::from(&request.org_id),
        &collection,
        &query,
        top_k,
    )
    .await
    .map_err(governance)?;
    Ok(retrieval::result_json(&found))
}

/// Carries out a reserved request: its list price is charged (the
/// private-service changes and `workflow.run` are free).
pub async fn execute(platform: &Platform, request: &ServiceRequest) -> Finish {
    let outcome = if skill::handles(&request.service, &request.operation) {
        start_run(platform, request).await
    } else if is_knowledge_search(&request.service, &request.operation) {
        knowledge_search(platform, request).await
    } else {
        private_services::apply_change(platform, request).await
    };
    match outcome {
        Ok(result) => Finish::Executed {
            result,
            charge: request.estimated_cost,
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
