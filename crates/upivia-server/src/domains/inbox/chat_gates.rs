//! Approval gates raised by chat turns, shown in the agent-requests inbox
//! beside the requests agents raise (API.md §2.11, issue 13): the terminal
//! client tells its user to approve a paused tool call from its
//! pending-requests view, which reads only this inbox. A gate appears as a
//! row of `request_type: "approval"` whose id is the approval's id;
//! resolving it approves the request, rejecting it rejects it, through the
//! same governed decision as `/approvals` (decided once, re-checked,
//! audited). Only pending gates are listed: a decided one is the service
//! request's outcome, read from `/approvals` and the audit trail.
//!
//! An admin sees and decides every gate of the organisation; a member sees
//! the gates of the turns they started and cannot decide them.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::super::DomainError;
use crate::governance::{GovernanceError, approvals};
use crate::ids::{self, RequestId};
use crate::model::{Approval, ApprovalStatus, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::InboxStatus;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Governance(#[from] GovernanceError),
}

impl From<crate::store::StoreError> for GateError {
    fn from(e: crate::store::StoreError) -> GateError {
        GateError::Domain(e.into())
    }
}

/// The metadata key a chat turn's tool calls carry.
const CHAT_SESSION_KEY: &str = "chat_session_id";

/// Whether an inbox id names an approval gate rather than an agent request.
pub fn names(id: &str) -> bool {
    id.strip_prefix(ids::APPROVAL)
        .is_some_and(|rest| rest.starts_with('_'))
}

/// One gate as an inbox row: the fields of an agent request, plus what the
/// approval is about.
pub struct Gate {
    pub approval: Approval,
    /// The chat session whose turn is paused on it.
    pub session_id: String,
}

impl Gate {
    pub fn created_at(&self) -> OffsetDateTime {
        self.approval.created_at
    }

    pub fn json(&self) -> Value {
        let a = &self.approval;
        let operation = format!("{}.{}", a.service, a.operation);
        json!({
            "id": a.id,
            "request_id": a.id,
            "approval_id": a.id,
            "service_request_id": a.request_id,
            "chat_session_id": self.session_id,
            "agent_id": a.agent_id,
            "agent_name": a.agent_name,
            "request_type": "approval",
            "title": format!("Approve {operation} for {}", a.agent_name),
            "body": format!(
                "{} asked to run {operation} in a chat turn (estimated {} cents): {}",
                a.agent_name,
                a.estimated_cost.get(),
                a.payload
            ),
            "link": null,
            "status": "pending",
            "response": null,
            "created_by": crate::governance::trail::agent_actor(&a.agent_id),
            "resolved_by": null,
            "resolved_at": null,
            "estimated_cost_cents": a.estimated_cost.get(),
            "expires_at": crate::clock::rfc3339(a.expires_at),
            "created_at": crate::clock::rfc3339(a.created_at),
            "updated_at": crate::clock::rfc3339(a.created_at),
        })
    }
}

/// The pending gates of chat turns the user may see, newest first.
pub async fn pending(platform: &Platform, user: &UserPrincipal) -> Result<Vec<Gate>, GateError> {
    let now = platform.clock.now();
    let waiting = approvals::list(platform, user, Some(ApprovalStatus::Pending)).await?;
    let mut gates = Vec::new();
    for approval in waiting.into_iter().filter(|a| a.expires_at > now) {
        let Some(request) = platform
            .stores
            .governance
            .request(&RequestId::from(&approval.request_id))
            .await?
        else {
            continue;
        };
        let meta = request.metadata.as_ref();
        let Some(session_id) = meta
            .and_then(|m| m.get(CHAT_SESSION_KEY))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let started_it = meta
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
            .is_some_and(|u| u == user.user_id);
        if user.role >= Role::Admin || started_it {
            gates.push(Gate {
                session_id: session_id.to_owned(),
                approval,
            });
        }
    }
    gates.sort_by_key(|g| std::cmp::Reverse(g.created_at()));
    Ok(gates)
}

/// Resolves (approves) or rejects a gate; the answer is the request's
/// outcome, with the gate's row as it now stands.
pub async fn decide(
    platform: &Platform,
    user: &UserPrincipal,
    approval_id: &str,
    status: InboxStatus,
    note: Option<&str>,
) -> Result<Value, GateError> {
    let gate = pending(platform, user)
        .await?
        .into_iter()
        .find(|g| g.approval.id == approval_id);
    let Some(gate) = gate else {
        // Decided, expired, not a chat gate, or not the caller's to see.
        let known = platform
            .stores
            .governance
            .approval(&ids::ApprovalId::from(approval_id))
            .await?
            .filter(|a| a.org_id == user.org_id && (user.role >= Role::Admin));
        return Err(match known {
            Some(a) if a.status != ApprovalStatus::Pending => DomainError::Conflict {
                code: "request_already_resolved",
                message: format!(
                    "approval {approval_id} was already decided ({})",
                    a.status.as_str()
                ),
            },
            _ => DomainError::NotFound("agent request"),
        }
        .into());
    };
    if user.role < Role::Admin {
        return Err(
            DomainError::Forbidden("only an admin may decide an approval gate".into()).into(),
        );
    }
    let outcome = match status {
        InboxStatus::Rejected => approvals::reject(platform, user, approval_id, note).await?,
        _ => approvals::approve(platform, user, approval_id, note).await?,
    };
    let mut row = gate.json();
    row["status"] = json!(match status {
        InboxStatus::Rejected => "rejected",
        _ => "resolved",
    });
    row["response"] = json!(note);
    row["resolved_by"] = json!(user.user_id);
    row["resolved_at"] = json!(crate::clock::rfc3339(platform.clock.now()));
    row["outcome"] = outcome;
    Ok(row)
}
