//! Calls the platform makes for an agent and carries out itself, outside
//! a provider: a chat turn's model call, whose answer streams to the
//! person while it is made. Each is a service request of the agent like
//! any other in the ledger, the audit trail and usage: [`reserve`] holds
//! its estimate on the agent's accounts (where its money is, a spawned
//! agent's allowance, its month) or refuses it with the budget's reason
//! before anything is called; [`Reservation::start`] notes the call as
//! made, so a crash from there on leaves its outcome to an operator
//! (`recovery.rs`), as for any provider that spends; [`Reservation::settle`]
//! charges what it cost (never above the estimate) or, when it failed,
//! releases everything.
//!
//! No binding is needed: the call is not the agent choosing a service
//! but the platform running the agent, for a person who may manage it.

use serde_json::Value;

use super::record::Recorder;
use super::{GovernanceError, budget, delegation, execute, lineage, policy, room_budget, trail};
use crate::ids::{self, OrgId, RequestId};
use crate::model::{Agent, ReasonCode, RequestStatus, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;
use crate::providers::ProviderError;
use crate::store::{Disposition, Finish, OpenRequest, Opened};

/// One call to reserve for.
#[derive(Clone, Debug)]
pub struct MeteredCall {
    pub service: &'static str,
    pub operation: &'static str,
    /// The provider name the request reports (and recovery looks for).
    pub provider: &'static str,
    /// What the request records as its payload: a summary, not the
    /// conversation.
    pub payload: Value,
    pub metadata: Value,
    /// An upper bound of the call's cost.
    pub estimate: Cents,
}

/// Whether the call may be made.
#[derive(Debug)]
pub enum Metering {
    Reserved(Reservation),
    /// Refused before anything was held or called; `request_id` names the
    /// blocked request when one was recorded.
    Refused {
        reason: ReasonCode,
        message: String,
        request_id: Option<String>,
    },
}

/// An estimate held for a call about to be made.
#[derive(Debug)]
pub struct Reservation {
    request: Box<ServiceRequest>,
    provider: &'static str,
    actor: String,
}

/// Checks the agent's standing and holds `call.estimate` on its accounts.
pub async fn reserve(
    platform: &Platform,
    agent: &Agent,
    call: MeteredCall,
) -> Result<Metering, GovernanceError> {
    let now = platform.clock.now();
    let org_id = OrgId::from(&agent.org_id);
    let org = platform
        .stores
        .identity
        .org(&org_id)
        .await?
        .ok_or(GovernanceError::NotFound("organisation"))?;
    if let Some((reason, message)) =
        policy::agent_block(&*lineage::effective(platform, agent).await?, &org)
    {
        return Ok(Metering::Refused {
            reason,
            message,
            request_id: None,
        });
    }
    // A call made in a room spends from the room's cap too.
    let mut holds = budget::holds(agent, None, now);
    if let Some(room) = call.metadata.get(room_budget::ROOM_KEY) {
        match room_budget::hold(platform, agent, room.as_str()).await? {
            Ok(hold) => holds.extend(hold),
            Err((reason, message)) => {
                return Ok(Metering::Refused {
                    reason,
                    message,
                    request_id: None,
                });
            }
        }
    }
    // And a call of a delegated task's loop from the task's cap.
    if call.metadata.get(delegation::METADATA_KEY).is_some() {
        match delegation::judge(platform, agent, Some(&call.metadata), None).await? {
            delegation::Judged::Admitted(task) => holds.extend(task.as_ref().map(delegation::hold)),
            delegation::Judged::Blocked(_, (reason, message)) => {
                return Ok(Metering::Refused {
                    reason,
                    message,
                    request_id: None,
                });
            }
        }
    }
    let mut request = ServiceRequest {
        id: ids::new_id(ids::REQUEST),
        org_id: agent.org_id.clone(),
        agent_id: agent.id.clone(),
        binding_id: None,
        service: call.service.to_owned(),
        operation: call.operation.to_owned(),
        payload_digest: super::idempotency::payload_digest(
            call.service,
            call.operation,
            &call.payload,
        ),
        payload: call.payload,
        metadata: Some(call.metadata).filter(|m| !m.is_null()),
        status: RequestStatus::Executing,
        reason_code: None,
        message: None,
        estimated_cost: call.estimate,
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
    };
    let record = Recorder {
        platform,
        claim: None,
        actor: trail::agent_actor(&agent.id),
    };
    let opened = platform
        .stores
        .governance
        .open_request(OpenRequest {
            request: request.clone(),
            idempotency: None,
            disposition: Disposition::Reserve {
                holds,
                amount: call.estimate,
                limits: Vec::new(),
            },
            audit: None,
        })
        .await?;
    let (reason, message) = match opened {
        Opened::Recorded => {
            return Ok(Metering::Reserved(Reservation {
                request: Box::new(request),
                provider: call.provider,
                actor: record.actor,
            }));
        }
        Opened::HoldRefused { account, available } => {
            budget::refusal(&account, available, call.estimate)
        }
        // Without limits or a key neither can happen; refuse all the same.
        Opened::LimitReached { scope, limit } => (
            ReasonCode::DailyLimitExceeded,
            policy::daily_limit_message(&scope, limit),
        ),
        Opened::Existing(_) => {
            return Err(GovernanceError::Conflict {
                code: "conflict",
                message: "a metered call met an idempotency key it never claimed".into(),
            });
        }
    };
    // The refusal is on the record like any blocked request.
    request.status = RequestStatus::Blocked;
    let answer = record.block(request, reason, message.clone()).await?;
    Ok(Metering::Refused {
        reason,
        message,
        request_id: answer.body["request_id"].as_str().map(str::to_owned),
    })
}

impl Reservation {
    pub fn request_id(&self) -> &str {
        &self.request.id
    }

    pub fn estimate(&self) -> Cents {
        self.request.estimated_cost
    }

    /// Notes the call as made, just before it is. When this fails the call
    /// must not be made: settle it as failed.
    pub async fn start(&self, platform: &Platform) -> Result<(), GovernanceError> {
        platform
            .stores
            .governance
            .mark_provider_started(
                &RequestId::from(&self.request.id),
                self.provider,
                platform.clock.now(),
            )
            .await?;
        Ok(())
    }

    /// Charges `Ok((result, cost))` (capped at the estimate) or releases
    /// the hold on an error; the audit event is written with it.
    pub async fn settle(
        self,
        platform: &Platform,
        outcome: Result<(Value, Cents), ProviderError>,
    ) -> Result<ServiceRequest, GovernanceError> {
        let finish = match outcome {
            Ok((result, cost)) => Finish::Executed {
                result,
                charge: cost.min(self.request.estimated_cost),
                provider: self.provider.to_owned(),
            },
            Err(error) => execute::failure(error),
        };
        execute::settle(platform, *self.request, finish, &self.actor, None).await
    }
}
