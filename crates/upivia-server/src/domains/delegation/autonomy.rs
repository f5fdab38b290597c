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
//! A chat turn of the parent may do the same with its `delegate_task`
//! tool ([`delegate_from_turn`]): the task is created with its arguments
//! and run while the parent's turn waits, its progress told in the
//! parent's stream as `delegation_started` and `agent_event` (API.md
//! §1.11), and what the child did is the tool's answer.
//!
//! The run belongs to the node that created the task. A crash in the
//! middle leaves the task `in_progress`; it is not run again (its tool
//! calls may have acted) and its parent may cancel it.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::service::{self, ChangeTask, CreateTask, DelegationCaller, DelegationError};
use crate::domains::chat::service::SESSION_PREFIX;
use crate::domains::chat::turn::{Event, TurnRequest};
use crate::domains::chat::unattended::{self, Forward};
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
        if let Err(e) = execute(&platform, &task, None).await {
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

/// What the child reported: its final status (`None`: still in progress,
/// paused on an approval) and the result.
struct Reported {
    status: Option<TaskStatus>,
    result: Value,
}

async fn execute(
    platform: &Platform,
    task: &DelegatedTask,
    forward: Option<&mpsc::Sender<Event>>,
) -> Result<Option<Reported>, DelegationError> {
    let org = OrgId::from(&task.org_id);
    let Some(child) = platform
        .stores
        .agents
        .agent(&org, &AgentId::from(&task.child_agent_id))
        .await?
    else {
        return Ok(None);
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
        let result = json!({"error": "nobody in the organisation may run this agent"});
        report(Some(TaskStatus::Failed), result.clone()).await?;
        return Ok(Some(Reported {
            status: Some(TaskStatus::Failed),
            result,
        }));
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
    let name = child.name.clone();
    let map = move |e: &Event| told(&name, e);
    let outcome = unattended::run(
        platform,
        &principal,
        request,
        scope,
        forward.map(|to| Forward { to, map: &map }),
    )
    .await;
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
    report(status, result.clone()).await?;
    Ok(Some(Reported { status, result }))
}

/// A child's event as the parent's stream tells it (`agent_event`, whose
/// camelCase fields API.md pins).
fn told(agent_name: &str, e: &Event) -> Option<Event> {
    let data = match e.name {
        "message" => json!({"type": "thinking", "agentName": agent_name,
                            "text": e.data["content"]}),
        "tool_planned" => json!({"type": "tool", "agentName": agent_name,
                                 "tool": e.data["tool_name"], "status": "planned"}),
        "tool_done" => json!({"type": "tool", "agentName": agent_name,
                              "tool": e.data["tool_name"], "status": e.data["status"],
                              "detail": e.data["result_preview"]}),
        "tool_pending" => json!({"type": "tool", "agentName": agent_name,
                                 "tool": e.data["tool_name"], "status": "approval_required",
                                 "detail": e.data["approval_id"]}),
        _ => return None,
    };
    Some(Event {
        name: "agent_event",
        data,
    })
}

/// The parent's `delegate_task` tool call: creates the task with the
/// call's arguments, runs it now and answers with what the child did.
/// A refused task (not a child, an operation it lacks) is the answer too.
///
/// Boxed: the child's turn may offer `delegate_task` in its turn, so the
/// future's type would otherwise contain itself.
pub fn delegate_from_turn<'a>(
    platform: &'a Platform,
    parent: &'a Agent,
    arguments: &'a Value,
    events: &'a mpsc::Sender<Event>,
) -> Pin<Box<dyn Future<Output = Value> + Send + 'a>> {
    Box::pin(delegate(platform, parent, arguments, events))
}

async fn delegate(
    platform: &Platform,
    parent: &Agent,
    arguments: &Value,
    events: &mpsc::Sender<Event>,
) -> Value {
    let refused = |message: String| json!({"status": "failed", "reason_code": "delegation_refused", "message": message});
    let Some(child_agent_id) = arguments["child_agent_id"].as_str().map(str::to_owned) else {
        return refused("child_agent_id is required".into());
    };
    let Some(objective) = arguments["objective"]
        .as_str()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
    else {
        return refused("objective is required".into());
    };
    let budget_cap = match &arguments["budget_cap_cents"] {
        Value::Null => None,
        v => match v.as_i64().filter(|c| *c >= 0) {
            Some(c) => Some(Cents::new(c)),
            None => return refused("budget_cap_cents must be 0 or more cents".into()),
        },
    };
    let permissions = arguments["permissions"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let create = CreateTask {
        child_agent_id,
        objective: objective.clone(),
        budget_cap,
        permissions,
        model_id: None,
        execute_now: false,
    };
    let view = match service::create(platform, parent, &parent.id, create).await {
        Ok(view) => view,
        Err(e) => return refused(e.to_string()),
    };
    let task = view.task;
    let child_name = platform
        .stores
        .agents
        .agent(
            &OrgId::from(&task.org_id),
            &AgentId::from(&task.child_agent_id),
        )
        .await
        .ok()
        .flatten()
        .map_or_else(|| task.child_agent_id.clone(), |a| a.name);
    let send = |name: &'static str, data: Value| events.send(Event { name, data });
    let _ = send(
        "delegation_started",
        json!({"agent": child_name, "objective": objective, "task_id": task.id}),
    )
    .await;
    let _ = send(
        "agent_event",
        json!({"type": "started", "agentName": child_name, "objective": objective}),
    )
    .await;
    let reported = match execute(platform, &task, Some(events)).await {
        Ok(Some(r)) => r,
        Ok(None) => Reported {
            status: Some(TaskStatus::Failed),
            result: json!({"error": "the child agent is gone"}),
        },
        Err(e) => Reported {
            status: Some(TaskStatus::Failed),
            result: json!({"error": e.to_string()}),
        },
    };
    let _ = send(
        "agent_event",
        json!({"type": "done", "agentName": child_name,
               "spentCents": reported.result["cost_cents"], "result": reported.result["text"]}),
    )
    .await;
    json!({
        "status": match reported.status {
            Some(TaskStatus::Completed) => "executed",
            Some(_) => "failed",
            None => "in_progress",
        },
        "task_id": task.id,
        "task_status": reported.status.map_or("in_progress", TaskStatus::as_str),
        "result": reported.result,
    })
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
