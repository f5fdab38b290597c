//! Sending a service request on an agent's behalf: what a webhook fire, a
//! cron tick, a scheduled task's run and a workflow step do. The request
//! goes through the governed pipeline exactly as if the agent had sent it
//! (policy, budgets, approvals, idempotency, audit); this only turns the
//! pipeline's answer, or its refusal before any request existed, into one
//! outcome.

use serde_json::Value;

use crate::governance::GovernanceError;
use crate::governance::pipeline::{self, Submission};
use crate::ids::{AgentId, OrgId};
use crate::platform::Platform;
use crate::store::StoreError;

/// What to send, as whom.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub service: String,
    pub operation: String,
    pub payload: Value,
    /// Makes a retried dispatch (a redelivered webhook, a tick run again
    /// after a crash) the same request.
    pub idempotency_key: Option<String>,
    /// Where the request came from (`{trigger_id}`, `{scheduled_task_id}`).
    pub metadata: Value,
}

/// The outcome, in the words of `POST /service-requests`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dispatched {
    /// `executed`, `blocked`, `approval_required`, `failed` or `running`.
    pub status: String,
    pub reason_code: Option<String>,
    /// The service request (or the `rfs_` id of a refusal); `None` when the
    /// request was refused before it existed (unknown operation, invalid
    /// payload, rate limit, the agent gone).
    pub request_id: Option<String>,
    pub message: Option<String>,
    /// What an executed request returned.
    pub result: Option<serde_json::Value>,
    /// The answer was an earlier request's, replayed by its idempotency key.
    pub replayed: bool,
    /// The pipeline's whole answer (`approval_id`, `expires_at`,
    /// `estimated_cost_cents`, ...); `null` for a refusal before any
    /// request existed.
    pub body: Value,
}

impl Dispatched {
    fn refused(status: &str, code: &str, message: String) -> Dispatched {
        Dispatched {
            status: status.into(),
            reason_code: Some(code.into()),
            request_id: None,
            message: Some(message),
            result: None,
            replayed: false,
            body: Value::Null,
        }
    }

    /// Whether a service request was recorded (its own audit entries tell
    /// the rest).
    pub fn reached_pipeline(&self) -> bool {
        self.request_id.is_some()
    }
}

/// Sends `d` through the pipeline. Only a store failure is an error (the
/// caller retries later with the same idempotency key); every refusal is
/// an outcome.
pub async fn dispatch(platform: &Platform, d: Dispatch) -> Result<Dispatched, StoreError> {
    dispatch_gated(platform, d, false).await
}

/// [`dispatch`], parked for a human approval whatever the agent's binding
/// says when `require_approval` is set.
pub async fn dispatch_gated(
    platform: &Platform,
    d: Dispatch,
    require_approval: bool,
) -> Result<Dispatched, StoreError> {
    let Some(agent) = platform.stores.agents.agent(&d.org_id, &d.agent_id).await? else {
        return Ok(Dispatched::refused(
            "blocked",
            "agent_disabled",
            "the agent no longer exists".into(),
        ));
    };
    let submitted = pipeline::submit(
        platform,
        &agent,
        Submission {
            service: d.service,
            operation: d.operation,
            payload: d.payload,
            metadata: Some(d.metadata),
            idempotency_key: d.idempotency_key,
            require_approval,
        },
    )
    .await;
    let answer = match submitted {
        Ok(answer) => answer,
        Err(e) => return refusal(e),
    };
    let text = |k: &str| answer.body[k].as_str().map(str::to_owned);
    Ok(Dispatched {
        status: text("status").unwrap_or_else(|| "failed".into()),
        reason_code: text("reason_code"),
        request_id: text("request_id"),
        message: text("message"),
        result: answer.body.get("result").cloned(),
        replayed: answer.replayed,
        body: answer.body,
    })
}

fn refusal(e: GovernanceError) -> Result<Dispatched, StoreError> {
    let message = e.to_string();
    Ok(match e {
        GovernanceError::Store(s) => return Err(s),
        GovernanceError::UnknownService(_) => {
            Dispatched::refused("failed", "unknown_service", message)
        }
        GovernanceError::UnknownOperation { .. } => {
            Dispatched::refused("failed", "unknown_operation", message)
        }
        GovernanceError::InvalidPayload { .. } | GovernanceError::InvalidRequest(_) => {
            Dispatched::refused("failed", "invalid_payload", message)
        }
        GovernanceError::RateLimited { .. } => {
            Dispatched::refused("blocked", "rate_limited", message)
        }
        GovernanceError::IdempotencyMismatch => {
            Dispatched::refused("failed", "idempotency_key_payload_mismatch", message)
        }
        GovernanceError::IdempotencyInUse => {
            Dispatched::refused("running", "idempotency_key_in_use", message)
        }
        GovernanceError::Forbidden(_) => Dispatched::refused("blocked", "forbidden", message),
        GovernanceError::NotFound(_) => Dispatched::refused("failed", "not_found", message),
        GovernanceError::Conflict { code, .. } => Dispatched::refused("failed", code, message),
        GovernanceError::ApprovalDecided(_) | GovernanceError::ApprovalExpired => {
            Dispatched::refused("failed", "conflict", message)
        }
    })
}
