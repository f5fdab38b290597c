//! Service requests made under a delegated task
//! (`metadata.delegated_task_id`): the task must be one given to the
//! requesting agent, open (`accepted` or `in_progress`: a pending task has
//! not been taken on yet), and, when its permissions are non-empty, list
//! the operation. Otherwise the request is blocked. An admitted request
//! also holds its estimate on the task's account (`task:<id>`, capped by
//! `budget_cap_cents`, or unlimited and still tracked), in the same
//! all-or-nothing reservation as its other budgets, so requests past the
//! cap are blocked with `budget_exceeded` however many run at once.
//! What each request came to is appended to the task's event log.

use serde_json::{Value, json};

use super::GovernanceError;
use crate::catalog::OperationSpec;
use crate::ids::OrgId;
use crate::model::{Account, Agent, Hold, HoldLimit, ReasonCode, ServiceRequest};
use crate::platform::Platform;
use crate::store::{DelegatedTask, NewTaskEvent, StoreError, TaskEventKind, TaskStatus};

/// The metadata key naming the task.
pub const METADATA_KEY: &str = "delegated_task_id";

/// Why a request under a task is refused: the outcome's reason and words.
pub type Block = (ReasonCode, String);

fn task_id_of(metadata: Option<&Value>) -> Option<&Value> {
    metadata?.get(METADATA_KEY).filter(|v| !v.is_null())
}

/// The open task `request` is made under (`None` when it names none), or
/// the block it meets. A block on a known task is noted in its log.
pub async fn admit(
    platform: &Platform,
    agent: &Agent,
    request: &ServiceRequest,
    operation: &OperationSpec,
) -> Result<Result<Option<DelegatedTask>, Block>, GovernanceError> {
    match judge(platform, agent, request.metadata.as_ref(), Some(operation)).await? {
        Judged::Admitted(task) => Ok(Ok(task)),
        Judged::Blocked(task, (reason, message)) => {
            if let Some(task) = &task {
                append(platform, task, request, "blocked", Some(reason)).await;
            }
            Ok(Err((reason, message)))
        }
    }
}

/// What a request with `metadata` meets under its task, read and judged
/// without a write (the policy simulation asks this too). `operation` is
/// `None` for a model call of the task's own agent loop: the permissions
/// name what the loop may do, not its thinking, which is held on the
/// task's cap all the same (`metered.rs`).
pub enum Judged {
    /// Under this open task, or under none.
    Admitted(Option<DelegatedTask>),
    /// Refused; the task when the id named one of this agent's.
    Blocked(Option<DelegatedTask>, Block),
}

pub async fn judge(
    platform: &Platform,
    agent: &Agent,
    metadata: Option<&Value>,
    operation: Option<&OperationSpec>,
) -> Result<Judged, GovernanceError> {
    let Some(raw) = task_id_of(metadata) else {
        return Ok(Judged::Admitted(None));
    };
    let Some(task_id) = raw.as_str() else {
        return Ok(Judged::Blocked(
            None,
            (
                ReasonCode::DelegatedTaskNotFound,
                format!("metadata.{METADATA_KEY} must be a delegated task id (a string)"),
            ),
        ));
    };
    // A lookup by an id no row can hold (a NUL on PostgreSQL) finds nothing.
    let task = match platform
        .stores
        .delegation
        .task(&OrgId::from(&agent.org_id), task_id)
        .await
    {
        Ok(task) => task.filter(|t| t.child_agent_id == agent.id),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(task) = task else {
        return Ok(Judged::Blocked(
            None,
            (
                ReasonCode::DelegatedTaskNotFound,
                format!("no delegated task {task_id} was given to this agent"),
            ),
        ));
    };
    let name = operation.map(|o| format!("{}.{}", o.service, o.name));
    let block = if !matches!(task.status, TaskStatus::Accepted | TaskStatus::InProgress) {
        Some((
            ReasonCode::DelegatedTaskNotOpen,
            format!(
                "delegated task {} is {}: requests are made under an accepted or in-progress task",
                task.id,
                task.status.as_str()
            ),
        ))
    } else if let Some(name) =
        name.filter(|n| !task.permissions.is_empty() && !task.permissions.contains(n))
    {
        Some((
            ReasonCode::OperationNotDelegated,
            format!(
                "{name} is not among the permissions of delegated task {}: {}",
                task.id,
                task.permissions.join(", ")
            ),
        ))
    } else {
        None
    };
    Ok(match block {
        Some(block) => Judged::Blocked(Some(task), block),
        None => Judged::Admitted(Some(task)),
    })
}

/// The hold a request under `task` takes on the task's account.
pub fn hold(task: &DelegatedTask) -> Hold {
    Hold {
        account: Account::Task(task.id.clone()),
        limit: task.budget_cap.map_or(HoldLimit::Unlimited, HoldLimit::Cap),
    }
}

/// Notes in the task's log what a request made under it came to. The
/// request was decided already: a failure to write the note is logged,
/// not turned into the request's answer.
pub async fn note(platform: &Platform, task: Option<&DelegatedTask>, request: &ServiceRequest) {
    if let Some(task) = task {
        let status = super::outcome::wire_status(request.status);
        append(platform, task, request, status, request.reason_code).await;
    }
}

async fn append(
    platform: &Platform,
    task: &DelegatedTask,
    request: &ServiceRequest,
    status: &str,
    reason: Option<ReasonCode>,
) {
    let event = NewTaskEvent {
        kind: TaskEventKind::Request,
        path: None,
        detail: json!({
            "request_id": request.id,
            "service": request.service,
            "operation": request.operation,
            "status": status,
            "reason_code": reason.map(ReasonCode::as_str),
            "cost_cents": request.cost.get(),
        }),
    };
    let appended = platform
        .stores
        .delegation
        .append_task_event(
            &OrgId::from(&task.org_id),
            &task.id,
            event,
            platform.clock.now(),
        )
        .await;
    if let Err(error) = appended {
        tracing::warn!(task_id = %task.id, request_id = %request.id, %error,
            "could not note a request in its delegated task's log");
    }
}

/// [`note`] for a request run after its approval: the task is the one its
/// stored metadata names, of the request's organisation.
pub async fn note_stored(platform: &Platform, request: &ServiceRequest) {
    let Some(task_id) = task_id_of(request.metadata.as_ref()).and_then(Value::as_str) else {
        return;
    };
    match platform
        .stores
        .delegation
        .task(&OrgId::from(&request.org_id), task_id)
        .await
    {
        Ok(task) => note(platform, task.as_ref(), request).await,
        Err(error) => tracing::warn!(task_id, request_id = %request.id, %error,
            "could not read the delegated task of an approved request"),
    }
}

#[cfg(test)]
mod tests;
