//! Who may simulate a request: whoever may manage the agent (an admin, or
//! its owner); another organisation's agent is 404. The simulation reads
//! and writes nothing of its own: no audit entry, no counter, no token.

use super::super::DomainError;
use crate::domains::agents::service::manageable;
use crate::governance::GovernanceError;
use crate::governance::simulate::{self, Simulation, Verdict};
use crate::ids::AgentId;
use crate::model::UserPrincipal;
use crate::platform::Platform;

/// What `simulation` would meet if `agent_id` sent it now.
pub async fn policy_check(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
    simulation: &Simulation,
) -> Result<Verdict, DomainError> {
    let managed = manageable(platform, user, agent_id).await?;
    simulate::simulate(platform, managed.agent(), simulation)
        .await
        .map_err(|e| match e {
            GovernanceError::Store(e) => DomainError::Store(e),
            GovernanceError::NotFound(what) => DomainError::NotFound(what),
            // Every other refusal is part of the verdict.
            other => DomainError::Invalid(other.to_string()),
        })
}
