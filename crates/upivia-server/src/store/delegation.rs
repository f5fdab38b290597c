//! Delegated tasks: an objective a parent agent hands to one of its
//! children, and the per-task event log (status changes, service requests
//! made under the task, files the child reports writing).
//!
//! A task's status changes only by a compare-and-set on the status the
//! caller read, in the transaction that appends its events and its audit
//! event, so of two concurrent transitions exactly one wins.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::money::Cents;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Pending,
    Accepted,
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Pending,
        TaskStatus::Accepted,
        TaskStatus::InProgress,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Accepted => "accepted",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Completed, failed or cancelled: nothing changes any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

#[derive(Clone, Debug)]
pub struct DelegatedTask {
    pub id: String,
    pub org_id: String,
    pub parent_agent_id: String,
    pub child_agent_id: String,
    pub objective: String,
    pub budget_cap: Option<Cents>,
    /// Operation names (`service.operation`); empty = not narrowed.
    pub permissions: Vec<String>,
    pub model_id: Option<String>,
    pub status: TaskStatus,
    pub result: Option<Value>,
    /// The sequence number of the task's latest event (0 before any).
    pub last_seq: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEventKind {
    Status,
    Request,
    FileWrite,
}

impl TaskEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskEventKind::Status => "status",
            TaskEventKind::Request => "request",
            TaskEventKind::FileWrite => "file_write",
        }
    }

    pub fn parse(raw: &str) -> Option<TaskEventKind> {
        match raw {
            "status" => Some(TaskEventKind::Status),
            "request" => Some(TaskEventKind::Request),
            "file_write" => Some(TaskEventKind::FileWrite),
            _ => None,
        }
    }
}

/// An event to append; its `seq` is taken by the store.
#[derive(Clone, Debug)]
pub struct NewTaskEvent {
    pub kind: TaskEventKind,
    pub path: Option<String>,
    pub detail: Value,
}

#[derive(Clone, Debug)]
pub struct TaskEvent {
    pub seq: i64,
    pub kind: TaskEventKind,
    pub path: Option<String>,
    pub detail: Value,
    pub at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewDelegatedTask {
    pub id: String,
    pub org_id: OrgId,
    pub parent_agent_id: AgentId,
    pub child_agent_id: AgentId,
    pub objective: String,
    pub budget_cap: Option<Cents>,
    pub permissions: Vec<String>,
    pub model_id: Option<String>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// What creating a task came to. The child's parent is checked in the
/// transaction that inserts the task.
#[derive(Clone, Debug)]
pub enum TaskCreated {
    Created(Box<DelegatedTask>),
    /// No such agent in the organisation.
    NoChild,
    /// The agent exists but its parent is not the task's parent.
    NotAChild,
}

/// Which of an agent's tasks a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskDirection {
    /// Tasks the agent handed out (it is the parent).
    Created,
    /// Tasks handed to the agent (it is the child).
    Received,
    /// Both.
    Both,
}

#[derive(Clone, Debug)]
pub struct TaskQuery {
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub direction: TaskDirection,
    pub status: Option<TaskStatus>,
    pub limit: u32,
}

/// A change of a task: a status transition and/or a result and events,
/// applied only while the task's status is still `expect`.
#[derive(Clone, Debug)]
pub struct UpdateTask {
    pub org_id: OrgId,
    pub task_id: String,
    pub expect: TaskStatus,
    pub status: Option<TaskStatus>,
    pub result: Option<Value>,
    pub events: Vec<NewTaskEvent>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub enum TaskUpdated {
    Updated(DelegatedTask),
    /// The status was no longer `expect` (a concurrent change won); the
    /// task as it is now.
    Stale(DelegatedTask),
}

#[async_trait]
pub trait DelegationStore: Send + Sync + 'static {
    /// Inserts a pending task (audited) if `child_agent_id` is a child of
    /// `parent_agent_id` in the organisation.
    async fn create_task(&self, new: NewDelegatedTask) -> StoreResult<TaskCreated>;
    async fn task(&self, org_id: &OrgId, task_id: &str) -> StoreResult<Option<DelegatedTask>>;
    /// Newest first, at most `query.limit`.
    async fn tasks(&self, query: TaskQuery) -> StoreResult<Vec<DelegatedTask>>;
    /// The compare-and-set change (audited); `NotFound` when the
    /// organisation has no such task.
    async fn update_task(&self, update: UpdateTask) -> StoreResult<TaskUpdated>;
    /// Appends one event (a service request made under the task) whatever
    /// the task's status; returns its seq.
    async fn append_task_event(
        &self,
        org_id: &OrgId,
        task_id: &str,
        event: NewTaskEvent,
        now: OffsetDateTime,
    ) -> StoreResult<i64>;
    /// Events of `kind` with a seq above `after`, oldest first, at most `limit`.
    async fn task_events(
        &self,
        task_id: &str,
        kind: TaskEventKind,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskEvent>>;
}
