//! A governed service request and its life cycle.

use serde_json::Value;
use time::OffsetDateTime;

use crate::model::ReasonCode;
use crate::money::Cents;

/// Where a request is. `AwaitingApproval` and `Executing` are internal; the
/// wire shows them as `approval_required` and `running`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestStatus {
    AwaitingApproval,
    /// Budget reserved, provider call in progress.
    Executing,
    /// Accepted by an asynchronous provider; reconciled later.
    Running,
    Executed,
    Blocked,
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::AwaitingApproval => "awaiting_approval",
            RequestStatus::Executing => "executing",
            RequestStatus::Running => "running",
            RequestStatus::Executed => "executed",
            RequestStatus::Blocked => "blocked",
            RequestStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<RequestStatus> {
        match raw {
            "awaiting_approval" => Some(RequestStatus::AwaitingApproval),
            "executing" => Some(RequestStatus::Executing),
            "running" => Some(RequestStatus::Running),
            "executed" => Some(RequestStatus::Executed),
            "blocked" => Some(RequestStatus::Blocked),
            "failed" => Some(RequestStatus::Failed),
            _ => None,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RequestStatus::Executed | RequestStatus::Blocked | RequestStatus::Failed
        )
    }
}

#[derive(Clone, Debug)]
pub struct ServiceRequest {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub binding_id: Option<String>,
    pub service: String,
    pub operation: String,
    pub payload: Value,
    pub metadata: Option<Value>,
    pub payload_digest: String,
    pub status: RequestStatus,
    pub reason_code: Option<ReasonCode>,
    pub message: Option<String>,
    pub estimated_cost: Cents,
    pub initial_cost: Option<Cents>,
    /// What was charged (settled); zero until settlement.
    pub cost: Cents,
    pub result: Option<Value>,
    pub provider: Option<String>,
    pub external_id: Option<String>,
    pub approval_id: Option<String>,
    pub approval_expires_at: Option<OffsetDateTime>,
    pub idempotency_key: Option<String>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    /// When a provider that acts on the world was called (never for the
    /// sandbox): after a crash, the request may have had its effect.
    pub provider_started_at: Option<OffsetDateTime>,
}
