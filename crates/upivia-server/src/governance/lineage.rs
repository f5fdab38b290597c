//! A spawned agent stands no better than the agents above it: pausing or
//! disabling an agent stops its descendants' requests too. The pipeline
//! and the approval path judge an agent by its effective status, the most
//! stopped of its own and its ancestors' (disabled before paused). A root
//! agent costs nothing here; a spawned one one read per ancestor (two at
//! most, spawning stops at depth 3).

use std::borrow::Cow;

use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, AgentStatus};
use crate::platform::Platform;
use crate::store::StoreResult;

/// The deepest an agent may sit: a root agent is depth 1.
pub const MAX_DEPTH: u8 = 3;

fn rank(status: AgentStatus) -> u8 {
    match status {
        AgentStatus::Active => 0,
        AgentStatus::Paused => 1,
        AgentStatus::Disabled => 2,
    }
}

/// `agent`, or a copy of it carrying the status of the ancestor that stops
/// it. An ancestor that cannot be found stops it as disabled.
pub async fn effective<'a>(platform: &Platform, agent: &'a Agent) -> StoreResult<Cow<'a, Agent>> {
    let mut worst = agent.status;
    let mut next = agent.parent_agent_id.clone();
    let org = OrgId::from(&agent.org_id);
    let mut hops = 0;
    while let Some(id) = next.take() {
        hops += 1;
        let status = match platform
            .stores
            .agents
            .agent(&org, &AgentId::from(&id))
            .await?
        {
            Some(ancestor) if hops < MAX_DEPTH => {
                next = ancestor.parent_agent_id.clone();
                ancestor.status
            }
            Some(ancestor) => ancestor.status,
            None => AgentStatus::Disabled,
        };
        if rank(status) > rank(worst) {
            worst = status;
        }
    }
    if worst == agent.status {
        return Ok(Cow::Borrowed(agent));
    }
    let mut stopped = agent.clone();
    stopped.status = worst;
    Ok(Cow::Owned(stopped))
}
