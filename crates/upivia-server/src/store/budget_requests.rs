//! Budget requests: a member asks for money for a team's pool, and the
//! owner or a manager of the team decides once. Approving moves the amount
//! from the organisation balance into the pool in the same transaction as
//! the decision (a ledger transfer), so a request is never approved
//! without its money, nor funded twice.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Moved, StoreResult, Transfer};
use crate::ids::{OrgId, UserId};
use crate::model::AuditEvent;
use crate::money::Cents;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetRequestStatus {
    Pending,
    Approved,
    Rejected,
}

impl BudgetRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetRequestStatus::Pending => "pending",
            BudgetRequestStatus::Approved => "approved",
            BudgetRequestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<BudgetRequestStatus> {
        match raw {
            "pending" => Some(BudgetRequestStatus::Pending),
            "approved" => Some(BudgetRequestStatus::Approved),
            "rejected" => Some(BudgetRequestStatus::Rejected),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetRequest {
    pub id: String,
    pub org_id: String,
    pub team_id: String,
    pub team_name: String,
    pub requested_by_user_id: String,
    pub requested_by_email: String,
    pub amount: Cents,
    pub reason: String,
    pub status: BudgetRequestStatus,
    pub note: Option<String>,
    pub resolved_by_user_id: Option<String>,
    pub resolved_at: Option<OffsetDateTime>,
    pub transfer_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewBudgetRequest {
    pub id: String,
    pub org_id: OrgId,
    pub team_id: String,
    pub user_id: UserId,
    pub amount: Cents,
    pub reason: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Which requests a list shows.
#[derive(Clone, Debug)]
pub enum BudgetRequestScope {
    /// Every request of the organisation (the owner and admins).
    Organisation,
    /// The user's own and those of the teams the user manages.
    VisibleTo(UserId),
}

#[derive(Clone, Debug)]
pub struct BudgetRequestQuery {
    pub org_id: OrgId,
    pub scope: BudgetRequestScope,
    /// `None`: every status.
    pub status: Option<BudgetRequestStatus>,
    pub limit: u32,
}

/// The decision on a pending request.
#[derive(Clone, Debug)]
pub enum BudgetDecision {
    /// Approve, moving the amount with this transfer.
    Approve(Box<Transfer>),
    Reject,
}

#[derive(Clone, Debug)]
pub struct ResolveBudgetRequest {
    pub org_id: OrgId,
    pub id: String,
    pub decision: BudgetDecision,
    pub note: Option<String>,
    pub user_id: UserId,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Decided now; with the transfer's outcome when approved.
    Decided(BudgetRequest),
    /// Someone decided it before; nothing was written.
    AlreadyDecided(BudgetRequest),
    /// The organisation balance had only `available`; nothing was written.
    Short { available: Cents },
}

impl Resolved {
    pub(crate) fn from_transfer(moved: &Moved) -> Option<Resolved> {
        match moved {
            Moved::Short { available } => Some(Resolved::Short {
                available: *available,
            }),
            Moved::Done { .. } => None,
        }
    }
}

#[async_trait]
pub trait BudgetRequestStore: Send + Sync + 'static {
    /// Records a pending request (audited); `NotFound` when the team is not
    /// the organisation's.
    async fn create_budget_request(&self, new: NewBudgetRequest) -> StoreResult<BudgetRequest>;
    async fn budget_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<BudgetRequest>>;
    async fn budget_requests(&self, query: BudgetRequestQuery) -> StoreResult<Vec<BudgetRequest>>;
    /// Decides a pending request once, moving its money when approved, with
    /// the audit event, in one transaction.
    async fn resolve_budget_request(&self, resolve: ResolveBudgetRequest) -> StoreResult<Resolved>;
}
