//! A human gate on one stored request.

use time::OffsetDateTime;

use crate::money::Cents;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<ApprovalStatus> {
        match raw {
            "pending" => Some(ApprovalStatus::Pending),
            "approved" => Some(ApprovalStatus::Approved),
            "rejected" => Some(ApprovalStatus::Rejected),
            "expired" => Some(ApprovalStatus::Expired),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Approval {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub request_id: String,
    pub service: String,
    pub operation: String,
    pub payload: serde_json::Value,
    /// The digest of the exact payload the human sees; approving executes
    /// the stored request only while it still matches.
    pub payload_digest: String,
    pub status: ApprovalStatus,
    pub estimated_cost: Cents,
    pub expires_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Where an operator's review of a request with an unknown outcome is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    /// The operator confirmed it happened: the held estimate (or less) was
    /// charged.
    Settled,
    /// The operator confirmed it did not happen: the hold was released.
    Released,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Settled => "settled",
            ReviewStatus::Released => "released",
        }
    }

    pub fn parse(raw: &str) -> Option<ReviewStatus> {
        match raw {
            "pending" => Some(ReviewStatus::Pending),
            "settled" => Some(ReviewStatus::Settled),
            "released" => Some(ReviewStatus::Released),
            _ => None,
        }
    }
}

/// A request that died after its provider was called and could not be
/// reconciled with the provider: its estimate stays held until an operator
/// decides, once, whether it happened. It sits in the approvals inbox.
#[derive(Clone, Debug)]
pub struct OutcomeReview {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub request_id: String,
    pub service: String,
    pub operation: String,
    pub payload: serde_json::Value,
    pub provider: String,
    /// What the request still holds; the most a settlement charges.
    pub held: Cents,
    pub status: ReviewStatus,
    pub charged: Option<Cents>,
    pub decided_at: Option<OffsetDateTime>,
    pub decided_by: Option<String>,
    pub created_at: OffsetDateTime,
}
