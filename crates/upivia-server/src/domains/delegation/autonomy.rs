//! `execute_now`: a delegated task run by its child agent at once, as an
//! unattended chat turn (`domains::chat::unattended`) on the objective.
//! The child takes the task (`accepted`, then `in_progress`, each an
//! audited move of the state machine as the child), the turn runs on a
//! chat session of the child opened for the task, on behalf of the
//! child's owner (or, when it has none, the organisation's owner), and
//! every request it makes (tool calls and model calls) names the task, so
//! the pipeline holds it on the task's cap and checks its permissions
//! (`governance::delegation`) and the task's log notes each one. The
//! child then reports the result: `completed` with the reply, or `failed`
//! with the error; a turn that paused on an approval leaves the task
//! `in_progress`, with the approval and the session in its result, to be
//! finished from that session.
//!
//! The run belongs to the node that created the task. A crash in the
//! middle leaves the task `in_progress`; it is not run again (its tool
//! calls may have acted) and its parent may cancel it.

use serde_json::{Map, Value, json};

use super::service::{self, ChangeTask, DelegationCaller, DelegationError};
use crate::domains::chat::service::SESSION_PREFIX;
use crate::domains::chat::turn::TurnRequest;
use crate::domains::chat::unattended;
use crate::governance::delegation::METADATA_KEY;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, Role, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{DelegatedTask, NewChatSession, TaskStatus};

/// Starts the task's run in the background.
pub fn start(platform: &Platform, task: DelegatedTask) {
    let platform = platform.clone();
    tokio::spawn(async move {
        if let Err(e) = execute(&platform, &task).await {
            tracing::warn!(error = %e, task = %task.id, "a delegated task's run stopped");
        }
    });
}

fn change(status: Option<TaskStatus>, result: Option<Value>) -> ChangeTask {
    ChangeTask {
        status,
        result,
        file_writes: Vec::new(),
    }
}

async fn execute(platform: &Platform, task: &DelegatedTask) -> Result<(), DelegationError> {
    let org = OrgId::from(&task.org_id);
    let Some(child) = platform
        .stores
        .agents
        .agent(&org, &AgentId::from(&task.child_agent_id))
        .await?
    else {
        return Ok(());
    };
    let as_child = DelegationCaller::Agent(&child);
    for to in [TaskStatus::Accepted, TaskStatus::InProgress] {
        service::update(
            platform,
            as_child,
            &child.id,
            &task.id,
            change(Some(to), None),
        )
        .await?;
    }
    let report = |status, result| {
        service::update(
            platform,
            as_child,
            &child.id,
            &task.id,
            change(status, Some(result)),
        )
    };
    let Some(principal) = on_behalf_of(platform, &child).await? else {
        report(
            Some(TaskStatus::Failed),
            json!({"error": "nobody in the organisation may run this agent"}),
        )
        .await?;
        return Ok(());
    };
    let session = platform
        .stores
        .chat
        .open_chat_session(NewChatSession {
            id: ids::new_id(SESSION_PREFIX),
            org_id: org.clone(),
            user_id: principal.user_id.clone(),
            agent_id: child.id.clone(),
            model_id: task.model_id.clone(),
            title: Some(format!("Task {}", task.id)),
            room_id: None,
            now: platform.clock.now(),
        })
        .await?;
    let request = TurnRequest {
        session_id: session.id.clone(),
        message: task.objective.clone(),
        model_id: task.model_id.clone(),
        instructions: Some(instructions(task)),
        ..TurnRequest::default()
    };
    let mut scope = Map::new();
    scope.insert(METADATA_KEY.into(), json!(task.id));
    let outcome = unattended::run(platform, &principal, request, scope).await;
    let cost = unattended::cost(platform, &outcome.request_ids)
        .await
        .unwrap_or(Cents::ZERO);
    let status = match (&outcome.approval_id, &outcome.error, &outcome.text) {
        (Some(_), _, _) => None,
        (None, None, Some(text)) if !text.trim().is_empty() => Some(TaskStatus::Completed),
        _ => Some(TaskStatus::Failed),
    };
    let result = json!({
        "text": outcome.text,
        "error": outcome.error,
        "approval_id": outcome.approval_id,
        "request_ids": outcome.request_ids,
        "cost_cents": cost.get(),
        "chat_session_id": session.id,
        "executed_by": "execute_now",
    });
    report(status, result).await?;
    Ok(())
}

/// The person the run acts for: the child's owner while a member, else
/// the organisation's owner.
async fn on_behalf_of(
    platform: &Platform,
    child: &Agent,
) -> Result<Option<UserPrincipal>, DelegationError> {
    let identity = &platform.stores.identity;
    let mut member = match &child.owner_user_id {
        Some(owner) => identity.member(&child.org_id, owner).await?,
        None => None,
    };
    if member.is_none() {
        member = identity
            .members(&child.org_id)
            .await?
            .into_iter()
            .find(|m| m.role == Role::Owner);
    }
    Ok(member.map(|m| UserPrincipal {
        user_id: m.user_id,
        email: m.email,
        org_id: child.org_id.clone(),
        role: m.role,
    }))
}

fn instructions(task: &DelegatedTask) -> String {
    let mut s = format!(
        "You are working on a task delegated to you by agent {}. The user message is its \
         objective: carry it out with your tools, then say in a few sentences what you did.",
        task.parent_agent_id
    );
    if !task.permissions.is_empty() {
        s.push_str(&format!(
            " You may use only these operations for it: {}.",
            task.permissions.join(", ")
        ));
    }
    if let Some(cap) = task.budget_cap {
        s.push_str(&format!(" Its budget is {} cents in all.", cap.get()));
    }
    s
}
