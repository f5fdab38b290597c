//! The governed request path, top to bottom. Each step is a module of its
//! own; this file only puts them in order:
//!
//! 1. the agent is authenticated (by `api/`) and its key's per-minute limit
//!    taken, before any other work;
//! 2. idempotency: a known key replays its stored answer;
//! 3. catalog lookup (a built-in, or one of the organisation's private
//!    services: `resolve`) and payload validation; a paused or disabled
//!    agent, or the kill switch, is refused here without a write
//!    (`refusals`);
//! 4. policy: binding, cost ceiling, daily and the binding's per-minute
//!    limits; an operation the platform carries out itself (a change to
//!    the private services, a workflow start) is checked in full
//!    (`internal_ops`);
//! 5. approval gate: park the request for a human, nothing charged;
//! 6. budget: reserve the estimate on every account at once, or block;
//! 7. execute through the provider, then settle or release;
//! 8. usage and audit are written by the same store transaction as 6 and 7.

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use super::policy::{self, PolicyDecision, PolicyInput};
use super::record::Recorder;
use super::resolve::Resolved;
use super::{
    GovernanceError, approvals, budget, delegation, execute, idempotency, internal_ops, lineage,
    outcome, rate_limit, refusals, resolve, room_budget, trail, workflow_budget,
};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, ReasonCode, RequestStatus, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;
use crate::providers::Provider;
use crate::store::{Disposition, IdempotencyClaim, OpenRequest, Opened, StoredResponse};

/// A service request as the agent sent it.
#[derive(Clone, Debug)]
pub struct Submission {
    pub service: String,
    pub operation: String,
    pub payload: Value,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
    /// Park it for a human whatever the binding says (a chat turn with
    /// `require_approval_all`).
    pub require_approval: bool,
}

/// The HTTP answer: status and body, fresh or replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

impl Answer {
    pub(super) fn fresh(response: StoredResponse) -> Answer {
        Answer {
            status: response.status,
            body: response.body,
            replayed: false,
        }
    }

    pub(super) fn replay(response: StoredResponse) -> Answer {
        Answer {
            status: response.status,
            body: response.body,
            replayed: true,
        }
    }
}

pub async fn submit(
    platform: &Platform,
    agent: &Agent,
    submission: Submission,
) -> Result<Answer, GovernanceError> {
    let now = platform.clock.now();

    // 1. Limits before work: refused requests count too.
    rate_limit::check_key(
        platform.stores.coordination.as_ref(),
        agent,
        platform.settings.key_rate_limit_per_minute,
    )
    .await?;

    // 2. Idempotency. A replay is answered from a read here; the writer
    // checks the key again when it records, for a key claimed meanwhile.
    let claim = match &submission.idempotency_key {
        Some(key) => {
            idempotency::validate_key(key)?;
            Some(IdempotencyClaim {
                key: key.clone(),
                fingerprint: idempotency::fingerprint(
                    &submission.service,
                    &submission.operation,
                    &submission.payload,
                    submission.metadata.as_ref(),
                ),
            })
        }
        None => None,
    };
    let record = Recorder {
        platform,
        claim,
        actor: trail::agent_actor(&agent.id),
    };
    if let Some(claim) = &record.claim
        && let Some(existing) = platform
            .stores
            .governance
            .idempotency(&AgentId::from(&agent.id), &claim.key)
            .await?
    {
        return record.replay(existing);
    }

    // 3. Catalog and payload.
    let org_id = OrgId::from(&agent.org_id);
    let resolved = resolve::resolve(
        platform,
        &org_id,
        &submission.service,
        &submission.operation,
    )
    .await?;
    resolved.validate(platform, &submission.payload)?;
    let operation = &*resolved.spec;
    let org = platform
        .stores
        .identity
        .org(&org_id)
        .await?
        .ok_or(GovernanceError::NotFound("organisation"))?;
    // A spawned agent is stopped with any agent above it.
    if let Some((reason, _)) =
        policy::agent_block(&*lineage::effective(platform, agent).await?, &org)
    {
        return refusals::refuse(platform, agent, &operation.service, &operation.name, reason);
    }
    let mut request = new_request(agent, &submission, now);

    if operation.service == "platform" && operation.name == "check_budget" {
        return check_budget(&record, agent, request).await;
    }
    let quote = Quote::of(platform, &resolved, agent, &submission.payload);
    let (platform_op, estimate) = (quote.platform_op, quote.estimate);
    request.estimated_cost = estimate;

    // 4. Policy.
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let decision = policy::evaluate(&PolicyInput {
        org: &org,
        agent,
        bindings: &bindings,
        operation,
        provider: quote.provider_name(),
        estimate,
        now,
    });
    let allowed = match decision {
        PolicyDecision::Allow(allowed) => *allowed,
        PolicyDecision::Block { reason, message } => {
            return record.block(request, reason, message).await;
        }
    };
    rate_limit::check_binding(platform.stores.coordination.as_ref(), &allowed.binding).await?;
    // 4a. An operation the platform carries out itself (a change to the
    // private services, a workflow start) is checked in full before it
    // waits for anyone.
    if platform_op {
        internal_ops::check(
            platform,
            agent,
            &operation.service,
            &operation.name,
            &submission.payload,
        )
        .await?;
    }
    request.binding_id = Some(allowed.binding.id.clone());

    // 4b. A delegated task the request is made under.
    let task = match delegation::admit(platform, agent, &request, operation).await? {
        Ok(task) => task,
        Err((reason, message)) => return record.block(request, reason, message).await,
    };

    // 4c. A workflow run the request is a step of.
    let run_hold = match workflow_budget::admit(platform, agent, &request).await? {
        Ok(hold) => hold,
        Err((reason, message)) => return record.block(request, reason, message).await,
    };

    // 4d. A room the request is a reply in.
    let room_hold = match room_budget::admit(platform, agent, &request).await? {
        Ok(hold) => hold,
        Err((reason, message)) => return record.block(request, reason, message).await,
    };

    // 5. Approval gate.
    if submission.require_approval || approvals::required(&allowed.binding, estimate) {
        let parked = approvals::park(&record, request.clone(), allowed.daily_limits).await?;
        if parked.body["status"] == "approval_required" {
            request.status = RequestStatus::AwaitingApproval;
            delegation::note(platform, task.as_ref(), &request).await;
        }
        return Ok(parked);
    }

    // 6. Budget.
    request.status = RequestStatus::Executing;
    let mut holds = budget::holds(agent, Some(&allowed.binding), now);
    holds.extend(task.as_ref().map(delegation::hold));
    holds.extend(run_hold);
    holds.extend(room_hold);
    let opened = platform
        .stores
        .governance
        .open_request(OpenRequest {
            request: request.clone(),
            idempotency: record.claim.clone(),
            disposition: Disposition::Reserve {
                holds,
                amount: estimate,
                limits: allowed.daily_limits,
            },
            audit: None,
        })
        .await?;
    match opened {
        Opened::Recorded => {}
        Opened::Existing(existing) => return record.replay(existing),
        Opened::HoldRefused { account, available } => {
            let (reason, message) = budget::refusal(&account, available, estimate);
            request.status = RequestStatus::Blocked;
            request.reason_code = Some(reason);
            delegation::note(platform, task.as_ref(), &request).await;
            return record.block(request, reason, message).await;
        }
        Opened::LimitReached { scope, limit } => {
            let message = policy::daily_limit_message(&scope, limit);
            return record
                .block(request, ReasonCode::DailyLimitExceeded, message)
                .await;
        }
    }

    // 7 and 8. Execute, settle, record.
    let finished = execute::run(platform, request, agent.key_mode, record.actor).await?;
    delegation::note(platform, task.as_ref(), &finished).await;
    Ok(Answer::fresh(outcome::response(&finished)))
}

/// Who carries an operation out for this agent's key, and what it is
/// estimated to cost: the same choice gives the estimate, the policy's
/// provider name and the execution.
pub struct Quote {
    /// The platform carries it out itself (`internal_ops`).
    pub platform_op: bool,
    pub provider: Option<Arc<dyn Provider>>,
    pub estimate: Cents,
}

impl Quote {
    pub fn of(
        platform: &Platform,
        resolved: &Resolved<'_>,
        agent: &Agent,
        payload: &Value,
    ) -> Quote {
        let operation = &*resolved.spec;
        let platform_op = internal_ops::handles(&operation.service, &operation.name);
        let provider = resolved.provider(platform, agent.key_mode);
        let estimate = if platform_op {
            internal_ops::estimate(operation)
        } else {
            provider
                .as_ref()
                .map_or(Cents::ZERO, |p| p.estimate(operation, payload))
        };
        Quote {
            platform_op,
            provider,
            estimate,
        }
    }

    /// The provider's name as policy sees it.
    pub fn provider_name(&self) -> &str {
        match &self.provider {
            _ if self.platform_op => internal_ops::PROVIDER,
            Some(p) => p.name(),
            None => "none",
        }
    }
}

fn new_request(agent: &Agent, submission: &Submission, now: OffsetDateTime) -> ServiceRequest {
    ServiceRequest {
        id: ids::new_id(ids::REQUEST),
        org_id: agent.org_id.clone(),
        agent_id: agent.id.clone(),
        binding_id: None,
        service: submission.service.clone(),
        operation: submission.operation.clone(),
        payload: submission.payload.clone(),
        metadata: submission.metadata.clone().filter(|m| !m.is_null()),
        payload_digest: idempotency::payload_digest(
            &submission.service,
            &submission.operation,
            &submission.payload,
        ),
        status: RequestStatus::Blocked,
        reason_code: None,
        message: None,
        estimated_cost: Cents::ZERO,
        initial_cost: None,
        cost: Cents::ZERO,
        result: None,
        provider: None,
        external_id: None,
        approval_id: None,
        approval_expires_at: None,
        idempotency_key: submission.idempotency_key.clone(),
        created_at: now,
        started_at: None,
        updated_at: now,
        provider_started_at: None,
    }
}

/// `platform.check_budget`: free, always allowed for an agent in good
/// standing, for itself.
async fn check_budget(
    record: &Recorder<'_>,
    agent: &Agent,
    mut request: ServiceRequest,
) -> Result<Answer, GovernanceError> {
    let asked = request.payload.get("agent_id").and_then(Value::as_str);
    if asked.is_some_and(|id| id != agent.id) {
        return Err(GovernanceError::Forbidden(
            "an agent may check only its own budget".into(),
        ));
    }
    request.result = Some(budget::check(record.platform, agent, request.created_at).await?);
    request.status = RequestStatus::Executed;
    request.provider = Some("platform".into());
    record.record_final(request).await
}
