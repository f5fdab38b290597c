//! The agent-requests inbox: requests for human attention, raised by an
//! agent (or a member on its behalf) and decided once by a human.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId, UserId};
use crate::model::AuditEvent;

/// The kinds of request the clients know.
pub const REQUEST_TYPES: &[&str] = &[
    "clarification",
    "budget_increase",
    "plan_change",
    "secret_needed",
    "approval",
    "blocked",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxStatus {
    Pending,
    Resolved,
    Rejected,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Resolved => "resolved",
            InboxStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<InboxStatus> {
        match raw {
            "pending" => Some(InboxStatus::Pending),
            "resolved" => Some(InboxStatus::Resolved),
            "rejected" => Some(InboxStatus::Rejected),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AgentRequest {
    pub id: String,
    pub org_id: String,
    pub agent_id: Option<String>,
    /// The agent's current name (its name at creation if it is gone).
    pub agent_name: Option<String>,
    /// The agent's owner: a recipient of the request.
    pub agent_owner_user_id: Option<String>,
    /// `agent:<id>` or `user:<id>`.
    pub created_by: String,
    pub created_by_user_id: Option<String>,
    pub request_type: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub status: InboxStatus,
    pub response: Option<String>,
    pub resolved_by_user_id: Option<String>,
    pub resolved_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewAgentRequest {
    pub id: String,
    pub org_id: OrgId,
    pub agent_id: Option<AgentId>,
    pub agent_name: Option<String>,
    pub created_by: String,
    pub created_by_user_id: Option<UserId>,
    pub request_type: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Whose requests a list shows.
#[derive(Clone, Debug)]
pub enum InboxViewer {
    /// Every request of the organisation (admins and the owner).
    Everyone,
    /// Requests the user raised or that are for agents the user owns.
    User(UserId),
    /// The agent's own requests.
    Agent(AgentId),
}

/// Which statuses a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Pending,
    /// Decided either way: resolved or rejected.
    Decided,
    Rejected,
    All,
}

#[derive(Clone, Debug)]
pub struct InboxQuery {
    pub org_id: OrgId,
    pub viewer: InboxViewer,
    pub status: StatusFilter,
    pub request_type: Option<String>,
    pub limit: u32,
}

/// Deciding a pending request.
#[derive(Clone, Debug)]
pub struct DecideRequest {
    pub org_id: OrgId,
    pub id: String,
    pub status: InboxStatus,
    pub response: Option<String>,
    pub user_id: UserId,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// What deciding a request came to.
#[derive(Clone, Debug)]
pub enum Decision {
    Decided(AgentRequest),
    /// It had been decided already (by an earlier or concurrent call).
    AlreadyDecided(AgentRequest),
}

#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
    async fn create_agent_request(&self, new: NewAgentRequest) -> StoreResult<AgentRequest>;
    async fn agent_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<AgentRequest>>;
    /// Newest first, at most `query.limit`.
    async fn agent_requests(&self, query: InboxQuery) -> StoreResult<Vec<AgentRequest>>;
    /// Decides a pending request once (audited); `NotFound` when the
    /// organisation has no such request.
    async fn decide_agent_request(&self, decide: DecideRequest) -> StoreResult<Decision>;
}
