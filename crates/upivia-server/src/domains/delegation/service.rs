//! The rules of delegation. A parent agent hands a task to one of its
//! children (an agent whose parent it is, in the same organisation), with
//! an optional budget cap and the operations the child may use for it
//! (each in the catalog and enabled for the child).
//!
//! Who acts for a side: the agent itself with its key, or a workspace user
//! who may manage it (an admin, or the agent's owner). The path's agent
//! decides the side; the state machine (`machine.rs`) decides the move.
//! Lists and reattach are open to every member of the organisation (as
//! agents and their activity are), and to the agents of the task.
//! Every change writes its audit event in the same transaction.

use serde_json::{Value, json};

use super::super::DomainError;
use super::machine::{self, Refusal, Side};
use crate::domains::agents::service as agents;
use crate::governance::{GovernanceError, policy, resolve, trail};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Account, Agent, AuditEvent, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{
    DelegatedTask, NewDelegatedTask, NewTaskEvent, TaskCreated, TaskDirection, TaskEvent,
    TaskEventKind, TaskQuery, TaskStatus, TaskUpdated, UpdateTask,
};

/// Why a delegation call was refused; `api/delegation.rs` maps each to
/// its status, with `code` on the wire.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 403.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 422.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// 409.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for DelegationError {
    fn from(e: crate::store::StoreError) -> Self {
        DelegationError::Domain(e.into())
    }
}

type Result<T> = std::result::Result<T, DelegationError>;

/// The id is not repeated: the same answer for a task that does not exist
/// and for one the caller may not see.
fn task_not_found(_task_id: &str) -> DelegationError {
    DelegationError::NotFound {
        code: "not_found",
        message: "delegated task not found".into(),
    }
}

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub enum DelegationCaller<'a> {
    Agent(&'a Agent),
    User(&'a UserPrincipal),
}

impl DelegationCaller<'_> {
    fn org_id(&self) -> OrgId {
        match self {
            DelegationCaller::Agent(a) => OrgId::from(&a.org_id),
            DelegationCaller::User(u) => OrgId::from(&u.org_id),
        }
    }

    fn actor(&self) -> String {
        match self {
            DelegationCaller::Agent(a) => trail::agent_actor(&a.id),
            DelegationCaller::User(u) => trail::user_actor(&u.user_id),
        }
    }
}

/// A task with what was spent under it (settled on its ledger account).
#[derive(Clone, Debug)]
pub struct TaskView {
    pub task: DelegatedTask,
    pub spent: Cents,
}

async fn view(platform: &Platform, task: DelegatedTask) -> Result<TaskView> {
    let totals = platform
        .stores
        .governance
        .totals(Account::Task(task.id.clone()))
        .await
        .map_err(|e| DelegationError::Domain(e.into()))?;
    Ok(TaskView {
        spent: totals.settled,
        task,
    })
}

/// A new task as the parent asks for it (already validated in shape).
#[derive(Clone, Debug)]
pub struct CreateTask {
    pub child_agent_id: String,
    pub objective: String,
    pub budget_cap: Option<Cents>,
    pub permissions: Vec<String>,
    pub model_id: Option<String>,
    /// The child runs it at once (`autonomy.rs`).
    pub execute_now: bool,
}

/// The caller must be the agent `agent_id`: an agent key for another
/// agent of its organisation is refused (403), and one for an agent it
/// cannot see is not told that it exists (404).
pub async fn must_be(platform: &Platform, agent: &Agent, agent_id: &str) -> Result<()> {
    if agent.id == agent_id {
        return Ok(());
    }
    let exists = platform
        .stores
        .agents
        .agent(&OrgId::from(&agent.org_id), &AgentId::from(agent_id))
        .await?
        .is_some();
    if exists {
        Err(DelegationError::Forbidden {
            code: "forbidden",
            message: format!(
                "an agent key acts only for its own agent; {agent_id} is not the calling agent"
            ),
        })
    } else {
        Err(DelegationError::Domain(DomainError::NotFound("agent")))
    }
}

/// Checks that every permission is a catalog operation enabled for the
/// child, and returns them without duplicates, in the order given.
async fn checked_permissions(
    platform: &Platform,
    org: &OrgId,
    child: &AgentId,
    permissions: Vec<String>,
) -> Result<Vec<String>> {
    if permissions.is_empty() {
        return Ok(permissions);
    }
    let bindings = platform
        .stores
        .agents
        .bindings(child)
        .await
        .map_err(|e| DelegationError::Domain(e.into()))?;
    let mut out: Vec<String> = Vec::with_capacity(permissions.len());
    for name in permissions {
        let unknown = || DelegationError::Invalid {
            code: "unknown_permission",
            message: format!(
                "invalid field permissions: {name:?} is not an operation of the catalog \
                 (service.operation, e.g. email.send)"
            ),
        };
        let (service, op) = name.split_once('.').ok_or_else(unknown)?;
        let operation = match resolve::resolve(platform, org, service, op).await {
            Ok(resolved) => resolved.spec.into_owned(),
            Err(GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. }) => {
                return Err(unknown());
            }
            Err(GovernanceError::Store(e)) => return Err(e.into()),
            Err(other) => {
                return Err(DelegationError::Domain(DomainError::Invalid(
                    other.to_string(),
                )));
            }
        };
        let enabled = policy::binding_for(&bindings, &operation).is_some_and(|b| b.enabled);
        if !enabled {
            return Err(DelegationError::Invalid {
                code: "permission_not_enabled",
                message: format!(
                    "invalid field permissions: {name} is not enabled for the child agent {child}; \
                     a task can only narrow what the child may do"
                ),
            });
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Delegates a task from `parent` (the calling agent, which must be
/// `agent_id`) to one of its children.
pub async fn create(
    platform: &Platform,
    parent: &Agent,
    agent_id: &str,
    new: CreateTask,
) -> Result<TaskView> {
    must_be(platform, parent, agent_id).await?;
    let org_id = OrgId::from(&parent.org_id);
    let child_id = AgentId::from(&new.child_agent_id);
    let child_missing = || DelegationError::NotFound {
        code: "child_agent_not_found",
        message: format!(
            "child agent {} not found in this organisation",
            new.child_agent_id
        ),
    };
    let not_a_child = || DelegationError::Forbidden {
        code: "not_a_child_agent",
        message: format!(
            "agent {} is not a child of {}: a task is delegated to one of the agent's own children",
            new.child_agent_id, parent.id
        ),
    };
    if new.child_agent_id == parent.id {
        return Err(not_a_child());
    }
    // The child must exist before its bindings say anything; the store
    // checks the parent again in the transaction that inserts the task.
    platform
        .stores
        .agents
        .agent(&org_id, &child_id)
        .await
        .map_err(|e| DelegationError::Domain(e.into()))?
        .ok_or_else(child_missing)?;
    let permissions = checked_permissions(platform, &org_id, &child_id, new.permissions).await?;
    let id = ids::new_id(ids::DELEGATED_TASK);
    let audit = AuditEvent::new(
        org_id.as_str(),
        "delegated_task.created",
        trail::agent_actor(&parent.id),
    )
    .with_agent(&parent.id)
    .with_status(TaskStatus::Pending.as_str())
    .with_details(json!({
        "delegated_task_id": id,
        "child_agent_id": new.child_agent_id,
        "budget_cap_cents": new.budget_cap.map(Cents::get),
        "permissions": permissions,
        "model_id": new.model_id,
        "execute_now": new.execute_now,
        "objective_chars": new.objective.chars().count(),
    }));
    let created = platform
        .stores
        .delegation
        .create_task(NewDelegatedTask {
            id,
            org_id,
            parent_agent_id: AgentId::from(&parent.id),
            child_agent_id: child_id,
            objective: new.objective,
            budget_cap: new.budget_cap,
            permissions,
            model_id: new.model_id,
            now: platform.clock.now(),
            audit,
        })
        .await?;
    match created {
        TaskCreated::Created(task) => {
            if new.execute_now {
                super::autonomy::start(platform, (*task).clone());
            }
            view(platform, *task).await
        }
        TaskCreated::NoChild => Err(child_missing()),
        TaskCreated::NotAChild => Err(not_a_child()),
    }
}

/// The agent `agent_id` as the caller may see it: its own key, or a member
/// of its organisation.
async fn visible_agent(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    agent_id: &str,
) -> Result<()> {
    match caller {
        DelegationCaller::Agent(agent) => must_be(platform, agent, agent_id).await,
        DelegationCaller::User(user) => {
            agents::get(platform, user, &AgentId::from(agent_id))
                .await
                .map_err(DelegationError::Domain)?;
            Ok(())
        }
    }
}

/// The agent `agent_id` as the caller may act for it: its own key, or a
/// user who may manage it.
async fn acting_for(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    agent_id: &str,
) -> Result<()> {
    match caller {
        DelegationCaller::Agent(agent) => must_be(platform, agent, agent_id).await,
        DelegationCaller::User(user) => {
            agents::manageable(platform, user, &AgentId::from(agent_id))
                .await
                .map_err(DelegationError::Domain)?;
            Ok(())
        }
    }
}

/// An agent's tasks, newest first.
pub async fn list(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    agent_id: &str,
    direction: TaskDirection,
    status: Option<TaskStatus>,
    limit: u32,
) -> Result<Vec<TaskView>> {
    visible_agent(platform, caller, agent_id).await?;
    let tasks = platform
        .stores
        .delegation
        .tasks(TaskQuery {
            org_id: caller.org_id(),
            agent_id: AgentId::from(agent_id),
            direction,
            status,
            limit,
        })
        .await?;
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(view(platform, task).await?);
    }
    Ok(out)
}

/// The task, and the side `agent_id` is on (404 when it is neither).
async fn task_of(
    platform: &Platform,
    org_id: &OrgId,
    agent_id: &str,
    task_id: &str,
) -> Result<(DelegatedTask, Side)> {
    let task = platform
        .stores
        .delegation
        .task(org_id, task_id)
        .await?
        .ok_or_else(|| task_not_found(task_id))?;
    let side = if task.parent_agent_id == agent_id {
        Side::Parent
    } else if task.child_agent_id == agent_id {
        Side::Child
    } else {
        return Err(task_not_found(task_id));
    };
    Ok((task, side))
}

/// One task of `agent_id` (its parent or child).
pub async fn get(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    agent_id: &str,
    task_id: &str,
) -> Result<TaskView> {
    acting_for(platform, caller, agent_id).await?;
    let (task, _) = task_of(platform, &caller.org_id(), agent_id, task_id).await?;
    view(platform, task).await
}

/// A file the child reports writing, validated in shape.
#[derive(Clone, Debug)]
pub struct FileWrite {
    pub path: String,
    /// The rest of the object as sent (size, digest, …).
    pub detail: Value,
}

/// A change asked through PATCH.
#[derive(Clone, Debug, Default)]
pub struct ChangeTask {
    pub status: Option<TaskStatus>,
    pub result: Option<Value>,
    pub file_writes: Vec<FileWrite>,
}

fn transition_error(
    task: &DelegatedTask,
    side: Side,
    to: TaskStatus,
    why: Refusal,
) -> DelegationError {
    match why {
        Refusal::WrongSide => DelegationError::Forbidden {
            code: "wrong_side",
            message: format!(
                "the {} of a task cannot set it to {}; the {} does",
                side.as_str(),
                to.as_str(),
                machine::setter(to).map_or("nobody", Side::as_str)
            ),
        },
        Refusal::Invalid => DelegationError::Conflict {
            code: "invalid_transition",
            message: format!(
                "delegated task {} cannot move from {} to {}",
                task.id,
                task.status.as_str(),
                to.as_str()
            ),
        },
    }
}

/// Moves a task's state machine and records what the child reports.
pub async fn update(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    agent_id: &str,
    task_id: &str,
    change: ChangeTask,
) -> Result<TaskView> {
    acting_for(platform, caller, agent_id).await?;
    let org_id = caller.org_id();
    let (task, side) = task_of(platform, &org_id, agent_id, task_id).await?;
    if side == Side::Parent && (change.result.is_some() || !change.file_writes.is_empty()) {
        return Err(DelegationError::Forbidden {
            code: "wrong_side",
            message: "only the child of a task reports its result and file writes".into(),
        });
    }
    if let Some(to) = change.status {
        machine::transition(side, task.status, to)
            .map_err(|why| transition_error(&task, side, to, why))?;
    } else if task.status.is_final() {
        return Err(DelegationError::Conflict {
            code: "task_closed",
            message: format!(
                "delegated task {} is {}: nothing more can be reported on it",
                task.id,
                task.status.as_str()
            ),
        });
    }
    let mut events = Vec::with_capacity(change.file_writes.len() + 1);
    if let Some(to) = change.status {
        events.push(NewTaskEvent {
            kind: TaskEventKind::Status,
            path: None,
            detail: json!({"from": task.status.as_str(), "to": to.as_str(), "by": caller.actor()}),
        });
    }
    let paths: Vec<String> = change.file_writes.iter().map(|f| f.path.clone()).collect();
    for write in change.file_writes {
        events.push(NewTaskEvent {
            kind: TaskEventKind::FileWrite,
            path: Some(write.path),
            detail: write.detail,
        });
    }
    let kind = match change.status {
        Some(to) => format!("delegated_task.{}", to.as_str()),
        None => "delegated_task.updated".to_owned(),
    };
    let audit = AuditEvent::new(org_id.as_str(), &kind, caller.actor())
        .with_agent(agent_id)
        .with_status(change.status.unwrap_or(task.status).as_str())
        .with_details(json!({
            "delegated_task_id": task.id,
            "side": side.as_str(),
            "from": task.status.as_str(),
            "to": change.status.map(TaskStatus::as_str),
            "result_set": change.result.is_some(),
            "file_writes": paths,
        }));
    let updated = platform
        .stores
        .delegation
        .update_task(UpdateTask {
            org_id,
            task_id: task.id.clone(),
            expect: task.status,
            status: change.status,
            result: change.result,
            events,
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => task_not_found(task_id),
            other => other.into(),
        })?;
    match updated {
        TaskUpdated::Updated(task) => view(platform, task).await,
        TaskUpdated::Stale(now) => Err(DelegationError::Conflict {
            code: "invalid_transition",
            message: format!(
                "delegated task {} changed meanwhile: it is now {}, not {}",
                now.id,
                now.status.as_str(),
                task.status.as_str()
            ),
        }),
    }
}

/// At most this many file writes in one reattach answer.
pub const REATTACH_LIMIT: u32 = 1000;

/// What a reattaching caller gets: the task, the file writes after
/// `since`, and the task's latest event seq.
#[derive(Clone, Debug)]
pub struct Reattach {
    pub view: TaskView,
    pub file_writes: Vec<TaskEvent>,
}

/// A task by id alone: for a member of its organisation, or the key of
/// its parent or child.
pub async fn reattach(
    platform: &Platform,
    caller: DelegationCaller<'_>,
    task_id: &str,
    since: i64,
) -> Result<Reattach> {
    let task = platform
        .stores
        .delegation
        .task(&caller.org_id(), task_id)
        .await?
        .ok_or_else(|| task_not_found(task_id))?;
    if let DelegationCaller::Agent(agent) = caller
        && agent.id != task.parent_agent_id
        && agent.id != task.child_agent_id
    {
        return Err(task_not_found(task_id));
    }
    let file_writes = platform
        .stores
        .delegation
        .task_events(&task.id, TaskEventKind::FileWrite, since, REATTACH_LIMIT)
        .await?;
    Ok(Reattach {
        view: view(platform, task).await?,
        file_writes,
    })
}

/// Every task the agent created or received, newest first, for its
/// activity ledger.
pub async fn of_agent(
    platform: &Platform,
    org_id: &OrgId,
    agent_id: &AgentId,
    limit: u32,
) -> std::result::Result<Vec<DelegatedTask>, DomainError> {
    Ok(platform
        .stores
        .delegation
        .tasks(TaskQuery {
            org_id: org_id.clone(),
            agent_id: agent_id.clone(),
            direction: TaskDirection::Both,
            status: None,
            limit,
        })
        .await?)
}
