//! The policy simulation (`POST /simulations/policy-check`): what
//! `pipeline::submit` would decide for this agent and this request now,
//! without deciding it. It runs the pipeline's own steps in the pipeline's
//! order, on the same reads: the key's and the binding's per-minute
//! buckets (peeked, no token taken), the catalog and the payload's schema,
//! the agent's effective standing and the kill switch, `policy::evaluate`
//! (binding, key scope, cost ceiling), the private-service and workflow
//! checks, the delegated task and workflow run a request names, the
//! approval gate, the daily limits (counted, nothing added) and every
//! account the request would hold (`budget::holds`, read with `totals`).
//! Nothing is executed, reserved, spent, counted or audited.
//!
//! The first refusal in that order is the answer the real request gets:
//! a `reason_code` of a blocked outcome, or the error code of a request
//! refused before any outcome (`rate_limited`, `invalid_payload`, …). The
//! checks after a refusal are still judged, as if it were fixed, where
//! they do not depend on it (a paused agent's missing binding shows too),
//! so one answer lists every fix; they do not change the decision.

use serde_json::Value;

use super::delegation::{self, Judged};
use super::pipeline::Quote;
use super::policy::{self, PolicyDecision, PolicyInput};
use super::{
    GovernanceError, approvals, budget, internal_ops, lineage, rate_limit, resolve, room_budget,
    workflow_budget,
};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{
    Account, Agent, AgentStatus, HoldLimit, ReasonCode, RequestStatus, ServiceRequest,
};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::LimitScope;

/// The request to judge, as an agent would send it.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub service: String,
    pub operation: String,
    pub payload: Value,
    pub metadata: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ApprovalRequired,
    Blocked,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::ApprovalRequired => "approval_required",
            Decision::Blocked => "blocked",
        }
    }
}

/// Why the real request would be refused: a blocked outcome's reason, or
/// an error before any outcome (which `api/` names by its error code).
#[derive(Debug)]
pub enum Refusal {
    Reason(ReasonCode),
    Error(GovernanceError),
}

/// One step of the pipeline, judged.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What a person can do about a failing check.
    pub fix: Option<String>,
}

#[derive(Debug)]
pub struct Verdict {
    pub decision: Decision,
    pub refusal: Option<Refusal>,
    pub estimate: Cents,
    pub checks: Vec<Check>,
}

/// The checks judged so far and the first refusal among the decisive ones.
struct Judging {
    checks: Vec<Check>,
    refusal: Option<Refusal>,
    agent_id: String,
}

impl Judging {
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        });
    }

    /// A failing check; the first decisive one is the answer.
    fn fail(&mut self, name: &'static str, detail: String, fix: String, refusal: Option<Refusal>) {
        self.checks.push(Check {
            name,
            ok: false,
            detail,
            fix: Some(fix),
        });
        if self.refusal.is_none() {
            self.refusal = refusal;
        }
    }

    fn block(&mut self, name: &'static str, reason: ReasonCode, detail: String, fix: String) {
        self.fail(name, detail, fix, Some(Refusal::Reason(reason)));
    }

    /// A request error the real request would meet; store failures are
    /// the simulation's own and end it.
    fn error(
        &mut self,
        name: &'static str,
        error: GovernanceError,
        fix: String,
    ) -> Result<(), GovernanceError> {
        if let GovernanceError::Store(_) = error {
            return Err(error);
        }
        self.fail(name, error.to_string(), fix, Some(Refusal::Error(error)));
        Ok(())
    }

    fn verdict(self, estimate: Cents, gated: bool) -> Verdict {
        let decision = match (&self.refusal, gated) {
            (Some(_), _) => Decision::Blocked,
            (None, true) => Decision::ApprovalRequired,
            (None, false) => Decision::Allow,
        };
        Verdict {
            decision,
            refusal: self.refusal,
            estimate,
            checks: self.checks,
        }
    }

    fn agent_path(&self) -> String {
        format!("/api/v1/agents/{}", self.agent_id)
    }
}

/// `$1.23` for a fix's words (integer arithmetic; money never touches a
/// float).
fn dollars(cents: Cents) -> String {
    let c = cents.get().max(0);
    format!("${}.{:02}", c / 100, c % 100)
}

fn seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Judges `simulation` for `agent` as `pipeline::submit` would now.
pub async fn simulate(
    platform: &Platform,
    agent: &Agent,
    simulation: &Simulation,
) -> Result<Verdict, GovernanceError> {
    let now = platform.clock.now();
    let coordination = platform.stores.coordination.as_ref();
    let mut j = Judging {
        checks: Vec::new(),
        refusal: None,
        agent_id: agent.id.clone(),
    };

    // 1. The key's per-minute bucket, peeked.
    match rate_limit::key_bucket(agent, platform.settings.key_rate_limit_per_minute) {
        None => j.pass("rate_limit.key", "no per-minute limit on this key"),
        Some((key, limit)) => match rate_limit::peek(coordination, &key, limit).await {
            Ok(()) => j.pass(
                "rate_limit.key",
                format!("the key's bucket of {limit} a minute has a token"),
            ),
            Err(e) => {
                let wait = match &e {
                    GovernanceError::RateLimited { retry_after, .. } => seconds(*retry_after),
                    _ => 0,
                };
                let fix = format!(
                    "wait {wait} s, or raise the agent's rate_limit_per_minute: PATCH {}",
                    j.agent_path()
                );
                j.error("rate_limit.key", e, fix)?;
            }
        },
    }

    // 2. Catalog and payload.
    let org_id = OrgId::from(&agent.org_id);
    let resolved = match resolve::resolve(
        platform,
        &org_id,
        &simulation.service,
        &simulation.operation,
    )
    .await
    {
        Ok(resolved) => resolved,
        Err(e) => {
            let fix = "name an operation of the catalog: GET /api/v1/services".to_owned();
            j.error("catalog", e, fix)?;
            return Ok(j.verdict(Cents::ZERO, false));
        }
    };
    let operation = &*resolved.spec;
    let full_name = operation.full_name();
    j.pass("catalog", format!("{full_name} is in the catalog"));
    match resolved.validate(platform, &simulation.payload) {
        Ok(()) => j.pass(
            "payload",
            "the payload matches the operation's input schema",
        ),
        Err(e) => {
            let fix =
                format!("make the payload match {full_name}'s input schema: GET /api/v1/services");
            j.error("payload", e, fix)?;
        }
    }

    // 3. Standing: the agent's own status, its ancestors', the kill switch.
    let org = platform
        .stores
        .identity
        .org(&org_id)
        .await?
        .ok_or(GovernanceError::NotFound("organisation"))?;
    let effective = lineage::effective(platform, agent).await?;
    match policy::agent_block(&effective, &org) {
        None => j.pass("standing", "the agent is active and the kill switch is off"),
        Some((reason, message)) => {
            let fix = match reason {
                ReasonCode::KillSwitch => {
                    "an admin lifts the kill switch: PATCH /api/v1/org {\"kill_switch\": false}"
                        .to_owned()
                }
                _ if effective.status != agent.status => format!(
                    "resume the agent above it (a spawned agent stands no better than its \
                     parents): PATCH /api/v1/agents/{{parent_id}} {{\"status\": \"active\"}}; \
                     its parent is {}",
                    agent.parent_agent_id.as_deref().unwrap_or("unknown")
                ),
                _ => format!(
                    "resume the agent: PATCH {} {{\"status\": \"active\"}}",
                    j.agent_path()
                ),
            };
            j.block("standing", reason, message, fix);
        }
    }
    // What follows is judged as if the agent could act, so every fix shows.
    let mut standing = agent.clone();
    standing.status = AgentStatus::Active;
    let mut open_org = org.clone();
    open_org.kill_switch = false;

    // The free budget check answers for the agent itself, and nothing else.
    if operation.service == "platform" && operation.name == "check_budget" {
        let asked = simulation.payload.get("agent_id").and_then(Value::as_str);
        if asked.is_some_and(|id| id != agent.id) {
            let e = GovernanceError::Forbidden("an agent may check only its own budget".into());
            j.error("check_budget", e, "leave payload.agent_id out".into())?;
        } else {
            j.pass(
                "check_budget",
                "free, and always answered for the agent itself",
            );
        }
        return Ok(j.verdict(Cents::ZERO, false));
    }

    // 4. Policy, on the estimate of the provider this key reaches.
    let quote = Quote::of(platform, &resolved, agent, &simulation.payload);
    let estimate = quote.estimate;
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let decision = policy::evaluate(&PolicyInput {
        org: &open_org,
        agent: &standing,
        bindings: &bindings,
        operation,
        provider: quote.provider_name(),
        estimate,
        now,
    });
    let allowed = match decision {
        PolicyDecision::Allow(allowed) => {
            j.pass("binding", format!("{full_name} is enabled for this agent"));
            j.pass(
                "key_scope",
                format!("this key may reach {}", quote.provider_name()),
            );
            let detail = match allowed.binding.max_cost {
                Some(max) => format!(
                    "estimated {} cents is within the per-request maximum of {} cents",
                    estimate.get(),
                    max.get()
                ),
                None => "no per-request maximum".to_owned(),
            };
            j.pass("max_cost", detail);
            *allowed
        }
        PolicyDecision::Block { reason, message } => {
            let agent_path = j.agent_path();
            let (name, fix) = match reason {
                ReasonCode::ServiceNotEnabled => (
                    "binding",
                    format!(
                        "enable {full_name} for this agent: POST {agent_path}/services \
                         {{\"service_id\": \"{}\", \"operations\": [\"{}\"]}}",
                        operation.service, operation.name
                    ),
                ),
                ReasonCode::LiveProviderNotAllowed => (
                    "key_scope",
                    format!(
                        "a test key reaches only the sandbox: give the agent a live key \
                         (PATCH {agent_path}/key {{\"key_mode\": \"live\"}})"
                    ),
                ),
                _ => (
                    "max_cost",
                    format!(
                        "raise the binding's max_cost_cents to at least {}: POST \
                         {agent_path}/services",
                        estimate.get()
                    ),
                ),
            };
            j.block(name, reason, message, fix);
            return Ok(j.verdict(estimate, false));
        }
    };
    let binding = &allowed.binding;
    match rate_limit::binding_bucket(binding) {
        None => j.pass("rate_limit.binding", "no per-minute limit on this binding"),
        Some((key, limit)) => match rate_limit::peek(coordination, &key, limit).await {
            Ok(()) => j.pass(
                "rate_limit.binding",
                format!("the binding's bucket of {limit} a minute has a token"),
            ),
            Err(e) => {
                let wait = match &e {
                    GovernanceError::RateLimited { retry_after, .. } => seconds(*retry_after),
                    _ => 0,
                };
                let fix = format!(
                    "wait {wait} s, or raise the binding's rate_limit_per_minute: POST {}/services",
                    j.agent_path()
                );
                j.error("rate_limit.binding", e, fix)?;
            }
        },
    }
    // 4a. The operations the platform carries out itself, checked in full.
    if quote.platform_op {
        match internal_ops::check(
            platform,
            agent,
            &operation.service,
            &operation.name,
            &simulation.payload,
        )
        .await
        {
            Ok(()) => j.pass("platform_operation", "the platform would carry it out"),
            Err(e) => {
                let fix = format!("see the message: {e}");
                j.error("platform_operation", e, fix)?;
            }
        }
    }

    // 4b. A delegated task the request is made under, read only.
    let request = probe(agent, simulation, binding.id.clone(), estimate, now);
    let task = match delegation::judge(platform, agent, request.metadata.as_ref(), Some(operation))
        .await?
    {
        Judged::Admitted(None) => None,
        Judged::Admitted(Some(task)) => {
            j.pass(
                "delegated_task",
                format!("delegated task {} is open and permits {full_name}", task.id),
            );
            Some(task)
        }
        Judged::Blocked(_, (reason, message)) => {
            let fix = match reason {
                ReasonCode::DelegatedTaskNotFound => format!(
                    "name a task delegated to this agent in metadata.{}",
                    delegation::METADATA_KEY
                ),
                ReasonCode::DelegatedTaskNotOpen => {
                    "the task must be accepted or in progress: PATCH \
                     /api/v1/agents/{parent}/delegated-tasks/{task}"
                        .to_owned()
                }
                _ => format!("the delegating agent adds {full_name} to the task's permissions"),
            };
            j.block("delegated_task", reason, message, fix);
            None
        }
    };

    // 4c. A workflow run the request is a step of.
    let run_hold = match workflow_budget::admit(platform, agent, &request).await? {
        Ok(None) => None,
        Ok(Some(hold)) => {
            j.pass(
                "workflow_run",
                "the request is a step of an open run of this agent",
            );
            Some(hold)
        }
        Err((reason, message)) => {
            let fix = "name an open run of this agent in metadata.workflow_run_id".to_owned();
            j.block("workflow_run", reason, message, fix);
            None
        }
    };

    // 4d. A room the request is a reply in.
    let room_hold = match room_budget::admit(platform, agent, &request).await? {
        Ok(None) => None,
        Ok(Some(hold)) => {
            j.pass(
                "room",
                "the request is made in an active room this agent takes part in",
            );
            Some(hold)
        }
        Err((reason, message)) => {
            let fix =
                "name an active room this agent takes part in, in metadata.room_id".to_owned();
            j.block("room", reason, message, fix);
            None
        }
    };

    // 5. The approval gate.
    let gated = approvals::required(binding, estimate);
    if gated {
        let why = if binding.require_approval {
            "the binding requires approval".to_owned()
        } else {
            format!(
                "estimated {} cents exceeds the binding's approval threshold of {} cents",
                estimate.get(),
                binding.approval_threshold.map_or(0, Cents::get)
            )
        };
        // Not a refusal: the request waits for a person.
        j.checks.push(Check {
            name: "approval",
            ok: false,
            detail: format!("{why}: the request would wait in the approvals inbox"),
            fix: Some(format!(
                "an admin approves it (POST /api/v1/approvals/{{id}}/approve), or the \
                 binding's require_approval / approval_threshold_cents is loosened: POST {}/services",
                j.agent_path()
            )),
        });
    } else {
        j.pass("approval", "no approval needed");
    }

    // 6. Daily limits, as the store counts them (parking counts too).
    for limit in &allowed.daily_limits {
        let used = platform.stores.governance.daily_count(limit).await?;
        let (name, fix) = match &limit.scope {
            LimitScope::Agent(_) => (
                "daily_limit.agent",
                format!(
                    "wait for midnight UTC, or raise the agent's daily_request_limit: PATCH {}",
                    j.agent_path()
                ),
            ),
            LimitScope::Binding(_) => (
                "daily_limit.binding",
                format!(
                    "wait for midnight UTC, or raise the binding's daily_request_limit: POST {}/services",
                    j.agent_path()
                ),
            ),
        };
        if limit.is_reached(used) {
            let message = policy::daily_limit_message(&limit.scope, limit.limit);
            j.block(name, ReasonCode::DailyLimitExceeded, message, fix);
        } else {
            j.pass(name, format!("{used} of {} requests today", limit.limit));
        }
    }

    // 7. Every account the request would hold, in the store's order. A
    // gated request holds nothing yet (approving checks again): then these
    // say what approving would meet, and do not decide.
    let mut holds = budget::holds(agent, Some(binding), now);
    holds.extend(task.as_ref().map(delegation::hold));
    holds.extend(run_hold);
    holds.extend(room_hold);
    for hold in &holds {
        let name = account_check(&hold.account);
        if hold.limit == HoldLimit::Unlimited {
            j.pass(
                name,
                format!("{}: tracked, no cap", hold.account.describe()),
            );
            continue;
        }
        let available = platform
            .stores
            .governance
            .totals(hold.account.clone())
            .await?
            .available(&hold.limit);
        if available < estimate {
            let (reason, message) = budget::refusal(&hold.account, available, estimate);
            let short = estimate.saturating_sub(available.max(Cents::ZERO));
            let fix = budget_fix(&hold.account, short, &j.agent_path());
            if gated {
                j.fail(
                    name,
                    format!("{message} (checked again on approval)"),
                    fix,
                    None,
                );
            } else {
                j.block(name, reason, message, fix);
            }
        } else {
            j.pass(
                name,
                format!(
                    "{}: {} cents available, estimate {} cents",
                    hold.account.describe(),
                    available.get(),
                    estimate.get()
                ),
            );
        }
    }
    Ok(j.verdict(estimate, gated))
}

fn account_check(account: &Account) -> &'static str {
    match account {
        Account::Org(_) => "budget.org_balance",
        Account::Team(_) => "budget.team_pool",
        Account::Allowance(_) => "budget.allowance",
        Account::AgentMonth { .. } => "budget.agent_month",
        Account::BindingMonth { .. } => "budget.binding_month",
        Account::Task(_) => "budget.delegated_task",
        Account::WorkflowRun(_) => "budget.workflow_run",
        Account::Room(_) => "budget.room",
    }
}

fn budget_fix(account: &Account, short: Cents, agent_path: &str) -> String {
    let more = dollars(short);
    match account {
        Account::Org(_) => format!(
            "credit the organisation at least {more}: POST /api/v1/balance/credits \
             {{\"amount_cents\": {}}}",
            short.get()
        ),
        Account::Team(team) => format!(
            "the owner allocates at least {more} to the team's pool: POST \
             /api/v1/teams/{team}/budget/allocate, or a member asks: POST /api/v1/budget-requests"
        ),
        Account::Allowance(_) => format!(
            "the spawned agent's allowance is {more} short and is for its whole life: spawn \
             a child with a larger budget_cents"
        ),
        Account::AgentMonth { .. } => format!(
            "raise the agent's monthly budget by at least {more}: PATCH {agent_path}/budget"
        ),
        Account::BindingMonth { .. } => format!(
            "raise the binding's monthly_budget_cents by at least {more}: POST {agent_path}/services"
        ),
        Account::Task(task) => format!(
            "delegated task {task}'s budget cap is {more} short: the delegating agent \
             raises budget_cap_cents"
        ),
        Account::WorkflowRun(run) => {
            format!("workflow run {run}'s budget is {more} short: start a run with a larger budget")
        }
        Account::Room(room) => format!(
            "room {room}'s budget cap is {more} short: start a room or swarm with a larger \
             budget_cap_cents"
        ),
    }
}

/// The request the pipeline would have built, for the checks that read
/// one (its metadata); never stored.
fn probe(
    agent: &Agent,
    simulation: &Simulation,
    binding_id: String,
    estimate: Cents,
    now: time::OffsetDateTime,
) -> ServiceRequest {
    ServiceRequest {
        id: ids::new_id(ids::REQUEST),
        org_id: agent.org_id.clone(),
        agent_id: agent.id.clone(),
        binding_id: Some(binding_id),
        service: simulation.service.clone(),
        operation: simulation.operation.clone(),
        payload: simulation.payload.clone(),
        metadata: simulation.metadata.clone().filter(|m| !m.is_null()),
        payload_digest: String::new(),
        status: RequestStatus::Blocked,
        reason_code: None,
        message: None,
        estimated_cost: estimate,
        initial_cost: None,
        cost: Cents::ZERO,
        result: None,
        provider: None,
        external_id: None,
        approval_id: None,
        approval_expires_at: None,
        idempotency_key: None,
        created_at: now,
        started_at: None,
        updated_at: now,
        provider_started_at: None,
    }
}
