//! Policy: may this agent run this operation now? Checked in order: the
//! agent's own status, the organisation's kill switch, the binding that
//! enables the operation, the key's provider scope, the per-request cost
//! ceiling, and the daily limits (which the store enforces atomically with
//! the write, so concurrent requests cannot overshoot them). Per-minute
//! limits are `rate_limit.rs`: the key's before anything else, the
//! binding's once the binding is known.

use time::OffsetDateTime;

use crate::catalog::OperationSpec;
use crate::clock::start_of_day;
use crate::model::{Agent, AgentStatus, Binding, KeyMode, Org, ReasonCode};
use crate::money::Cents;
use crate::store::{DailyLimit, LimitScope};

pub struct PolicyInput<'a> {
    pub org: &'a Org,
    pub agent: &'a Agent,
    pub bindings: &'a [Binding],
    pub operation: &'a OperationSpec,
    pub provider: &'a str,
    pub estimate: Cents,
    pub now: OffsetDateTime,
}

#[derive(Debug)]
pub enum PolicyDecision {
    Allow(Box<Allowed>),
    Block { reason: ReasonCode, message: String },
}

#[derive(Debug)]
pub struct Allowed {
    pub binding: Binding,
    pub daily_limits: Vec<DailyLimit>,
}

/// The binding that governs `operation`: an exact one wins over a
/// whole-service one.
pub fn binding_for<'b>(bindings: &'b [Binding], operation: &OperationSpec) -> Option<&'b Binding> {
    bindings
        .iter()
        .find(|b| {
            b.service_id == operation.service && b.operation.as_deref() == Some(&*operation.name)
        })
        .or_else(|| {
            bindings
                .iter()
                .find(|b| b.service_id == operation.service && b.operation.is_none())
        })
}

/// The agent's own standing; checked before anything else, and again when
/// an approval is given.
pub fn agent_block(agent: &Agent, org: &Org) -> Option<(ReasonCode, String)> {
    match agent.status {
        AgentStatus::Paused => Some(standing(ReasonCode::AgentPaused, agent)),
        AgentStatus::Disabled => Some(standing(ReasonCode::AgentDisabled, agent)),
        AgentStatus::Active if org.kill_switch => Some(standing(ReasonCode::KillSwitch, agent)),
        AgentStatus::Active => None,
    }
}

fn standing(reason: ReasonCode, agent: &Agent) -> (ReasonCode, String) {
    (reason, super::refusals::message(reason, &agent.id))
}

pub fn evaluate(input: &PolicyInput<'_>) -> PolicyDecision {
    let block = |reason, message: String| PolicyDecision::Block { reason, message };
    if let Some((reason, message)) = agent_block(input.agent, input.org) {
        return block(reason, message);
    }
    let op = input.operation;
    let Some(binding) = binding_for(input.bindings, op) else {
        return block(
            ReasonCode::ServiceNotEnabled,
            format!(
                "{} is not enabled for agent {}",
                op.full_name(),
                input.agent.id
            ),
        );
    };
    if input.agent.key_mode == KeyMode::Test && input.provider != "sandbox" {
        return block(
            ReasonCode::LiveProviderNotAllowed,
            format!(
                "test keys reach only the sandbox; {} runs on {}",
                op.full_name(),
                input.provider
            ),
        );
    }
    if let Some(max) = binding.max_cost
        && input.estimate > max
    {
        return block(
            ReasonCode::MaxCostExceeded,
            format!(
                "estimated cost {} cents exceeds this binding's per-request maximum of {} cents",
                input.estimate.get(),
                max.get()
            ),
        );
    }
    let day_start = start_of_day(input.now);
    let mut daily_limits = Vec::new();
    if let Some(limit) = input.agent.daily_request_limit {
        daily_limits.push(DailyLimit {
            scope: LimitScope::Agent(input.agent.id.clone()),
            limit,
            day_start,
        });
    }
    if let Some(limit) = binding.daily_request_limit {
        daily_limits.push(DailyLimit {
            scope: LimitScope::Binding(binding.id.clone()),
            limit,
            day_start,
        });
    }
    PolicyDecision::Allow(Box::new(Allowed {
        binding: binding.clone(),
        daily_limits,
    }))
}

/// The message for a daily limit the store found reached.
pub fn daily_limit_message(scope: &LimitScope, limit: u32) -> String {
    match scope {
        LimitScope::Agent(_) => format!("the agent's daily limit of {limit} requests is reached"),
        LimitScope::Binding(_) => {
            format!("this service binding's daily limit of {limit} requests is reached")
        }
    }
}
