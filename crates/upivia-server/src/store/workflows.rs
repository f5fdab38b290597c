//! Workflows: an agent's versioned DAGs of steps, their governed publishing
//! and their runs. A version's definition is immutable once saved. A run
//! is one row whose step states are a JSON document, changed only by a
//! compare-and-set on its `revision` (with the change's audit event in the
//! same transaction), so the runner, a person retrying a step and one
//! cancelling the run never overwrite each other. One runner at a time
//! advances a run: it holds the run's lease.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId, UserId};
use crate::model::AuditEvent;

#[derive(Clone, Debug)]
pub struct Workflow {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub icon: Option<String>,
    /// `active` or `archived`.
    pub status: String,
    /// `private`, `team` or `org`.
    pub share_scope: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionStatus {
    Draft,
    Published,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Published => "published",
        }
    }

    pub fn parse(raw: &str) -> Option<VersionStatus> {
        match raw {
            "draft" => Some(VersionStatus::Draft),
            "published" => Some(VersionStatus::Published),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WorkflowVersion {
    pub id: String,
    pub workflow_id: String,
    pub org_id: String,
    pub number: i64,
    pub status: VersionStatus,
    /// `{steps, edges}` as saved (checked by `domains/workflows/definition`).
    pub definition: Value,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub published_at: Option<OffsetDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishStatus {
    Pending,
    Approved,
    Rejected,
}

impl PublishStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublishStatus::Pending => "pending",
            PublishStatus::Approved => "approved",
            PublishStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<PublishStatus> {
        match raw {
            "pending" => Some(PublishStatus::Pending),
            "approved" => Some(PublishStatus::Approved),
            "rejected" => Some(PublishStatus::Rejected),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub id: String,
    pub org_id: String,
    pub workflow_id: String,
    pub version_id: String,
    /// The workflow's name and agent, for the inbox.
    pub workflow_name: String,
    pub agent_id: String,
    pub status: PublishStatus,
    pub requested_by: String,
    pub note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Pending,
    Running,
    WaitingApproval,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::WaitingApproval,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::WaitingApproval => "waiting_approval",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

#[derive(Clone, Debug)]
pub struct WorkflowRun {
    pub id: String,
    pub org_id: String,
    pub workflow_id: String,
    pub version_id: String,
    pub agent_id: String,
    pub status: RunStatus,
    pub input: Value,
    pub budget_cents: Option<i64>,
    pub test_run: bool,
    pub error: Option<String>,
    /// The step states (`domains/workflows/state.rs`), a JSON list.
    pub steps: Value,
    pub revision: i64,
    /// `user:<id>` or `agent:<id>`.
    pub triggered_by: String,
    pub lease_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// Granting a workflow to an agent (`granted`), or revoking it.
#[derive(Clone, Debug)]
pub struct GrantChange {
    pub org_id: OrgId,
    pub workflow_id: String,
    pub agent_id: AgentId,
    pub granted: bool,
    pub by: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub struct WorkflowGrant {
    pub workflow_id: String,
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub granted_by: String,
    pub created_at: OffsetDateTime,
}

/// A change to a run, written only if it is still at `expected_revision`.
#[derive(Clone, Debug)]
pub struct SaveRun {
    pub run: WorkflowRun,
    pub expected_revision: i64,
    pub now: OffsetDateTime,
    pub audit: Vec<AuditEvent>,
}

/// Deciding a pending publish request; approving publishes its version
/// (and turns the workflow's published one, if any, back into a draft).
#[derive(Clone, Debug)]
pub struct DecidePublish {
    pub org_id: OrgId,
    pub id: String,
    pub approve: bool,
    pub user_id: UserId,
    pub note: Option<String>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub enum PublishDecision {
    Decided(PublishRequest),
    AlreadyDecided(PublishRequest),
}

#[async_trait]
pub trait WorkflowStore: Send + Sync + 'static {
    async fn create_workflow(&self, workflow: Workflow, audit: AuditEvent)
    -> StoreResult<Workflow>;
    /// A live (not deleted) workflow of the organisation.
    async fn workflow(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Workflow>>;
    async fn workflows(
        &self,
        org_id: &OrgId,
        category: Option<String>,
    ) -> StoreResult<Vec<Workflow>>;
    /// Writes `workflow` if it is still at `expected_updated_at` (else
    /// `Conflict`); a delete sets `deleted_at`.
    async fn save_workflow(
        &self,
        workflow: Workflow,
        expected_updated_at: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Workflow>;

    /// Saves a draft numbered one past the workflow's latest.
    async fn create_version(
        &self,
        version: WorkflowVersion,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion>;
    async fn version(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowVersion>>;
    /// Newest first.
    async fn versions(
        &self,
        org_id: &OrgId,
        workflow_id: &str,
    ) -> StoreResult<Vec<WorkflowVersion>>;
    /// Turns a published version back into a draft; `NotFound` if it is
    /// not published.
    async fn unpublish_version(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion>;

    /// A new pending request, or the pending one the version already has.
    async fn request_publish(
        &self,
        request: PublishRequest,
        audit: AuditEvent,
    ) -> StoreResult<PublishRequest>;
    async fn publish_request(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<PublishRequest>>;
    /// Newest first; all statuses when `status` is `None`.
    async fn publish_requests(
        &self,
        org_id: &OrgId,
        status: Option<PublishStatus>,
    ) -> StoreResult<Vec<PublishRequest>>;
    async fn decide_publish(&self, decide: DecidePublish) -> StoreResult<PublishDecision>;

    async fn create_run(&self, run: WorkflowRun, audit: AuditEvent) -> StoreResult<WorkflowRun>;
    async fn run(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowRun>>;
    /// By id alone (the runner's own reads).
    async fn run_by_id(&self, id: &str) -> StoreResult<Option<WorkflowRun>>;
    /// Newest first; of one workflow, or every run of the organisation.
    async fn runs(
        &self,
        org_id: &OrgId,
        workflow_id: Option<String>,
        status: Option<RunStatus>,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>>;
    /// Runs not finished whose lease is free at `now`.
    async fn runs_to_advance(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>>;
    /// Whether this caller took the run's lease until `until`.
    async fn lease_run(
        &self,
        id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn release_run(&self, id: &str) -> StoreResult<()>;
    /// Frees every lease (a single node starting: nobody else holds one).
    async fn release_all_runs(&self) -> StoreResult<u64>;
    /// `Conflict` when the run moved past `expected_revision`.
    async fn save_run(&self, save: SaveRun) -> StoreResult<WorkflowRun>;

    async fn grants(&self, org_id: &OrgId, workflow_id: &str) -> StoreResult<Vec<WorkflowGrant>>;
    /// Grants or revokes; `NotFound` revoking what was not granted.
    async fn set_grant(&self, change: GrantChange) -> StoreResult<()>;
    /// The workflows granted to an agent.
    async fn granted_workflows(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
    ) -> StoreResult<Vec<Workflow>>;
}
