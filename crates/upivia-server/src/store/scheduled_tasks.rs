//! Scheduled tasks: one service request of an agent at a time (`run_at`)
//! or on a cron schedule, each run recorded. A run is claimed with the
//! task's `next_run_at` moving on, in one transaction, as a `pending` run
//! row; the dispatch's outcome completes the row. A run left pending by a
//! crash is dispatched again under the same idempotency key.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduledTaskStatus {
    Active,
    Paused,
    Completed,
    Cancelled,
}

impl ScheduledTaskStatus {
    pub const ALL: [ScheduledTaskStatus; 4] = [
        ScheduledTaskStatus::Active,
        ScheduledTaskStatus::Paused,
        ScheduledTaskStatus::Completed,
        ScheduledTaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScheduledTaskStatus::Active => "active",
            ScheduledTaskStatus::Paused => "paused",
            ScheduledTaskStatus::Completed => "completed",
            ScheduledTaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<ScheduledTaskStatus> {
        ScheduledTaskStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Completed and cancelled tasks do not run again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ScheduledTaskStatus::Completed | ScheduledTaskStatus::Cancelled
        )
    }
}

#[derive(Clone, Debug)]
pub struct ScheduledTask {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub service: String,
    pub operation: String,
    pub payload: Value,
    /// A cron expression for a recurring task.
    pub schedule: Option<String>,
    /// The instant of a one-time task.
    pub run_at: Option<OffsetDateTime>,
    pub timezone: String,
    pub status: ScheduledTaskStatus,
    pub next_run_at: Option<OffsetDateTime>,
    pub last_run_at: Option<OffsetDateTime>,
    pub run_count: i64,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Where a run is: claimed and not yet sent, sent (its service request
/// tells the rest), or refused before any request existed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Pending,
    Dispatched,
    Refused,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Dispatched => "dispatched",
            RunState::Refused => "refused",
        }
    }

    pub fn parse(raw: &str) -> Option<RunState> {
        match raw {
            "pending" => Some(RunState::Pending),
            "dispatched" => Some(RunState::Dispatched),
            "refused" => Some(RunState::Refused),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct TaskRun {
    pub id: String,
    pub task_id: String,
    pub org_id: String,
    pub agent_id: String,
    /// The tick this run is for.
    pub scheduled_for: OffsetDateTime,
    pub state: RunState,
    pub service_request_id: Option<String>,
    /// The linked request's status now (`executed` once an approval let it
    /// run), read with the run.
    pub request_status: Option<String>,
    pub dispatch_status: Option<String>,
    pub reason_code: Option<String>,
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    /// When this run was last taken up (a stale pending run is retaken).
    pub claimed_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct NewScheduledTask {
    pub id: String,
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub service: String,
    pub operation: String,
    pub payload: Value,
    pub schedule: Option<String>,
    pub run_at: Option<OffsetDateTime>,
    pub timezone: String,
    pub next_run_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// The task as it is to be after a change (the domain layer computes it
/// from the row and the patch); written only if the row is still at
/// `expected_updated_at`, else `Conflict`.
#[derive(Clone, Debug)]
pub struct ReplaceScheduledTask {
    pub task: ScheduledTask,
    pub expected_updated_at: OffsetDateTime,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub struct ScheduledTaskQuery {
    pub org_id: OrgId,
    pub status: Option<ScheduledTaskStatus>,
    pub agent_id: Option<AgentId>,
    pub category: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// Claiming the run of `tick` (the task's `next_run_at` as read).
#[derive(Clone, Debug)]
pub struct ClaimRun {
    pub task_id: String,
    pub run_id: String,
    pub tick: OffsetDateTime,
    /// The tick after it; `None` completes the task (a one-time task, or a
    /// schedule that never matches again).
    pub next: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct FinishRun {
    pub run_id: String,
    pub state: RunState,
    pub service_request_id: Option<String>,
    pub dispatch_status: String,
    pub reason_code: Option<String>,
    pub error: Option<String>,
    pub now: OffsetDateTime,
    /// Written when the run reached no service request.
    pub audit: Option<AuditEvent>,
}

#[async_trait]
pub trait ScheduledTaskStore: Send + Sync + 'static {
    async fn create_scheduled_task(&self, new: NewScheduledTask) -> StoreResult<ScheduledTask>;
    async fn scheduled_task(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ScheduledTask>>;
    /// Newest first, with the total of the filter.
    async fn scheduled_tasks(
        &self,
        query: ScheduledTaskQuery,
    ) -> StoreResult<(Vec<ScheduledTask>, u64)>;
    async fn replace_scheduled_task(
        &self,
        replace: ReplaceScheduledTask,
    ) -> StoreResult<ScheduledTask>;
    /// Deletes the task and its runs; `NotFound` when there is none.
    async fn delete_scheduled_task(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Newest first, with the total.
    async fn task_runs(
        &self,
        org_id: &OrgId,
        task_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<TaskRun>, u64)>;
    /// Active tasks due at `now`.
    async fn due_scheduled_tasks(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ScheduledTask>>;
    /// Runs pending since before `stale_before` (their dispatch was cut off).
    async fn stale_task_runs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<TaskRun>>;
    /// The new pending run, if this caller won the tick.
    async fn claim_task_run(&self, claim: ClaimRun) -> StoreResult<Option<TaskRun>>;
    /// Whether this caller took over a stale pending run.
    async fn reclaim_task_run(
        &self,
        run_id: &str,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn finish_task_run(&self, finish: FinishRun) -> StoreResult<()>;
}
