//! The approval gate. A gated request is stored with its exact payload and
//! an approval bound to that payload's digest; nothing is reserved. A human
//! approves (policy and budget are checked again at that moment, then the
//! stored request runs server-side) or rejects; an approval left open past
//! `expires_at` counts as denied. Each approval is decided exactly once.

use serde_json::{Value, json};
use time::Duration;

use super::pipeline::Answer;
use super::policy::{self, PolicyDecision, PolicyInput};
use super::record::Recorder;
use super::{GovernanceError, budget, delegation, execute, outcome, trail};
use crate::ids::{self, AgentId, ApprovalId, OrgId, RequestId};
use crate::model::{
    Approval, ApprovalStatus, AuditEvent, Binding, KeyMode, ReasonCode, RequestStatus,
    ServiceRequest, UserPrincipal,
};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{
    ApprovalDecision, DailyLimit, DecideApproval, DecideRefusal, Decided, Disposition, OpenRequest,
    Opened,
};

/// Must a human approve this request first?
pub fn required(binding: &Binding, estimate: Cents) -> bool {
    binding.require_approval || binding.approval_threshold.is_some_and(|t| estimate > t)
}

/// Stores the request and its pending approval; answers `approval_required`.
pub(super) async fn park(
    record: &Recorder<'_>,
    mut request: ServiceRequest,
    limits: Vec<DailyLimit>,
) -> Result<Answer, GovernanceError> {
    let platform = record.platform;
    let ttl = Duration::try_from(platform.settings.approval_ttl).unwrap_or(Duration::DAY);
    let expires_at = request.created_at + ttl;
    let approval = Approval {
        id: ids::new_id(ids::APPROVAL),
        org_id: request.org_id.clone(),
        agent_id: request.agent_id.clone(),
        agent_name: String::new(),
        request_id: request.id.clone(),
        service: request.service.clone(),
        operation: request.operation.clone(),
        payload: request.payload.clone(),
        payload_digest: request.payload_digest.clone(),
        status: ApprovalStatus::Pending,
        estimated_cost: request.estimated_cost,
        expires_at,
        decided_at: None,
        decided_by: None,
        created_at: request.created_at,
    };
    request.status = RequestStatus::AwaitingApproval;
    request.approval_id = Some(approval.id.clone());
    request.approval_expires_at = Some(expires_at);
    let response = outcome::response(&request);
    let opened = platform
        .stores
        .governance
        .open_request(OpenRequest {
            audit: Some(trail::decision(&request, &record.actor)),
            request: request.clone(),
            idempotency: record.claim.clone(),
            disposition: Disposition::AwaitApproval {
                approval: Box::new(approval),
                limits,
                response: response.clone(),
            },
        })
        .await?;
    match opened {
        Opened::Recorded => {
            outcome::decided(platform, &request);
            Ok(Answer::fresh(response))
        }
        Opened::Existing(existing) => record.replay(existing),
        Opened::LimitReached { scope, limit } => {
            // Nothing was parked: the answer is a plain block.
            request.approval_id = None;
            request.approval_expires_at = None;
            let message = policy::daily_limit_message(&scope, limit);
            record
                .block(request, ReasonCode::DailyLimitExceeded, message)
                .await
        }
        Opened::HoldRefused { .. } => Err(GovernanceError::InvalidRequest(
            "an approval reserved budget unexpectedly".into(),
        )),
    }
}

pub async fn list(
    platform: &Platform,
    principal: &UserPrincipal,
    status: Option<ApprovalStatus>,
) -> Result<Vec<Approval>, GovernanceError> {
    Ok(platform
        .stores
        .governance
        .approvals(&OrgId::from(&principal.org_id), status)
        .await?)
}

fn approval_event(approval: &Approval, kind: &str, actor: &str, note: Value) -> AuditEvent {
    AuditEvent::new(&approval.org_id, &format!("approval.{kind}"), actor)
        .with_agent(&approval.agent_id)
        .with_operation(&approval.service, &approval.operation)
        .with_request(&approval.request_id)
        .with_status(kind)
        .with_details(json!({
            "approval_id": approval.id,
            "payload_digest": approval.payload_digest,
            "estimated_cost_cents": approval.estimated_cost.get(),
            "note": note,
        }))
}

async fn decide(
    platform: &Platform,
    approval: &Approval,
    decision: ApprovalDecision,
    decided_by: &str,
    audit: Vec<AuditEvent>,
    org_id: Option<String>,
) -> Result<Result<Decided, DecideRefusal>, GovernanceError> {
    Ok(platform
        .stores
        .governance
        .decide_approval(DecideApproval {
            approval_id: approval.id.clone(),
            org_id,
            decision,
            decided_by: decided_by.to_owned(),
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

fn refused(refusal: DecideRefusal) -> GovernanceError {
    match refusal {
        DecideRefusal::NotFound => GovernanceError::NotFound("approval"),
        DecideRefusal::AlreadyDecided(status) => GovernanceError::ApprovalDecided(status),
        DecideRefusal::Expired => GovernanceError::ApprovalExpired,
        // Only an `Approve` decision reserves; its caller handles this.
        DecideRefusal::HoldRefused { account, .. } => {
            GovernanceError::Store(crate::store::StoreError::Corrupt(format!(
                "a decision that reserves nothing was refused a hold on {}",
                account.key()
            )))
        }
    }
}

async fn pending(
    platform: &Platform,
    principal: &UserPrincipal,
    approval_id: &str,
) -> Result<Approval, GovernanceError> {
    let approval = platform
        .stores
        .governance
        .approval(&ApprovalId::from(approval_id))
        .await?
        .filter(|a| a.org_id == principal.org_id)
        .ok_or(GovernanceError::NotFound("approval"))?;
    if approval.status != ApprovalStatus::Pending {
        return Err(GovernanceError::ApprovalDecided(approval.status));
    }
    if platform.clock.now() >= approval.expires_at {
        expire_one(platform, &approval).await?;
        return Err(GovernanceError::ApprovalExpired);
    }
    Ok(approval)
}

/// Approves: re-checks policy and budget now, then runs the stored request.
pub async fn approve(
    platform: &Platform,
    principal: &UserPrincipal,
    approval_id: &str,
    note: Option<&str>,
) -> Result<Value, GovernanceError> {
    let approval = pending(platform, principal, approval_id).await?;
    let actor = trail::user_actor(&principal.user_id);
    let org_id = Some(principal.org_id.clone());
    let request = platform
        .stores
        .governance
        .request(&RequestId::from(&approval.request_id))
        .await?
        .ok_or(GovernanceError::NotFound("service request"))?;
    let approved = approval_event(&approval, "approved", &actor, json!(note));

    let recheck = recheck(platform, &request).await?;
    let (holds, key_mode, amount) = match recheck {
        Ok((holds, key_mode)) => (holds, key_mode, request.estimated_cost),
        Err((reason, message)) => {
            return approve_blocked(
                platform, &approval, approved, &request, reason, message, &actor, org_id,
            )
            .await;
        }
    };
    let decided = decide(
        platform,
        &approval,
        ApprovalDecision::Approve { holds, amount },
        &actor,
        vec![approved.clone()],
        org_id.clone(),
    )
    .await?;
    match decided {
        Ok(Decided::Reserved(request)) => {
            let finished = execute::run(platform, request, key_mode, actor).await?;
            delegation::note_stored(platform, &finished).await;
            Ok(outcome::render(&finished))
        }
        Ok(Decided::Closed(request)) => Ok(outcome::render(&request)),
        Err(DecideRefusal::HoldRefused { account, available }) => {
            let (reason, message) = budget::refusal(&account, available, amount);
            approve_blocked(
                platform, &approval, approved, &request, reason, message, &actor, org_id,
            )
            .await
        }
        Err(DecideRefusal::Expired) => {
            expire_one(platform, &approval).await?;
            Err(GovernanceError::ApprovalExpired)
        }
        Err(other) => Err(refused(other)),
    }
}

/// Policy as it stands now, and the holds the request needs.
async fn recheck(
    platform: &Platform,
    request: &ServiceRequest,
) -> Result<Result<(Vec<crate::model::Hold>, KeyMode), (ReasonCode, String)>, GovernanceError> {
    let now = platform.clock.now();
    let Some(agent) = platform
        .stores
        .agents
        .agent(
            &OrgId::from(&request.org_id),
            &AgentId::from(&request.agent_id),
        )
        .await?
    else {
        return Ok(Err((
            ReasonCode::AgentDisabled,
            "the agent no longer exists".into(),
        )));
    };
    let org = platform
        .stores
        .identity
        .org(&OrgId::from(&request.org_id))
        .await?
        .ok_or(GovernanceError::NotFound("organisation"))?;
    let resolved = match super::resolve::resolve(
        platform,
        &OrgId::from(&request.org_id),
        &request.service,
        &request.operation,
    )
    .await
    {
        Ok(resolved) => resolved,
        Err(GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. }) => {
            return Ok(Err((
                ReasonCode::ServiceNotEnabled,
                "the operation is no longer in the catalog".into(),
            )));
        }
        Err(e) => return Err(e),
    };
    let operation = &*resolved.spec;
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let standing = super::lineage::effective(platform, &agent).await?;
    let provider = resolved.provider(platform, agent.key_mode);
    let decision = policy::evaluate(&PolicyInput {
        org: &org,
        agent: &standing,
        bindings: &bindings,
        operation,
        provider: provider.as_ref().map_or("none", |p| p.name()),
        estimate: request.estimated_cost,
        now,
    });
    Ok(match decision {
        PolicyDecision::Block { reason, message } => Err((reason, message)),
        PolicyDecision::Allow(allowed) => {
            let mut holds = budget::holds(&agent, Some(&allowed.binding), now);
            match delegation::admit(platform, &agent, request, operation).await? {
                Ok(task) => holds.extend(task.as_ref().map(delegation::hold)),
                Err(block) => return Ok(Err(block)),
            }
            match super::workflow_budget::admit(platform, &agent, request).await? {
                Ok(hold) => holds.extend(hold),
                Err(block) => return Ok(Err(block)),
            }
            match super::room_budget::admit(platform, &agent, request).await? {
                Ok(hold) => holds.extend(hold),
                Err(block) => return Ok(Err(block)),
            }
            Ok((holds, agent.key_mode))
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn approve_blocked(
    platform: &Platform,
    approval: &Approval,
    approved: AuditEvent,
    request: &ServiceRequest,
    reason: ReasonCode,
    message: String,
    actor: &str,
    org_id: Option<String>,
) -> Result<Value, GovernanceError> {
    let mut blocked = request.clone();
    blocked.status = RequestStatus::Blocked;
    blocked.reason_code = Some(reason);
    blocked.message = Some(message.clone());
    let audit = vec![approved, trail::decision(&blocked, actor)];
    let decided = decide(
        platform,
        approval,
        ApprovalDecision::ApproveBlocked { reason, message },
        actor,
        audit,
        org_id,
    )
    .await?;
    match decided {
        Ok(Decided::Closed(request) | Decided::Reserved(request)) => {
            outcome::decided(platform, &request);
            Ok(outcome::render(&request))
        }
        Err(DecideRefusal::Expired) => {
            expire_one(platform, approval).await?;
            Err(GovernanceError::ApprovalExpired)
        }
        Err(other) => Err(refused(other)),
    }
}

pub async fn reject(
    platform: &Platform,
    principal: &UserPrincipal,
    approval_id: &str,
    note: Option<&str>,
) -> Result<Value, GovernanceError> {
    let approval = pending(platform, principal, approval_id).await?;
    let actor = trail::user_actor(&principal.user_id);
    let message = format!("rejected by {}", principal.email);
    let audit = vec![approval_event(&approval, "rejected", &actor, json!(note))];
    let decided = decide(
        platform,
        &approval,
        ApprovalDecision::Reject {
            reason: ReasonCode::ApprovalRejected,
            message,
        },
        &actor,
        audit,
        Some(principal.org_id.clone()),
    )
    .await?;
    match decided {
        Ok(Decided::Closed(request) | Decided::Reserved(request)) => {
            outcome::decided(platform, &request);
            Ok(outcome::render(&request))
        }
        Err(other) => Err(refused(other)),
    }
}

async fn expire_one(platform: &Platform, approval: &Approval) -> Result<bool, GovernanceError> {
    let audit = vec![approval_event(
        approval,
        "expired",
        trail::SYSTEM,
        Value::Null,
    )];
    let decided = decide(
        platform,
        approval,
        ApprovalDecision::Expire {
            reason: ReasonCode::ApprovalExpired,
            message: "the approval expired before anyone decided it".into(),
        },
        trail::SYSTEM,
        audit,
        None,
    )
    .await?;
    Ok(decided.is_ok())
}

/// Marks every overdue approval expired; the worker calls this.
pub async fn expire_due(platform: &Platform) -> Result<usize, GovernanceError> {
    let now = platform.clock.now();
    let due = platform
        .stores
        .governance
        .expired_approvals(now, 500)
        .await?;
    let mut expired = 0;
    for approval in &due {
        if expire_one(platform, approval).await? {
            expired += 1;
        }
    }
    Ok(expired)
}
