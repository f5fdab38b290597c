//! Delegation (API.md §2.7): a parent agent delegates a task to one of its
//! children (`POST /agents/{agent_id}/delegated-tasks`, its own key),
//! lists what it created or received, and either side (its key, or a
//! user who may manage it) reads and moves the task
//! (`/agents/{agent_id}/delegated-tasks/{task_id}`). `GET
//! /delegated-tasks/{task_id}?since=` reattaches: the task and the file
//! writes after event `since`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AgentAuth, Caller, Json, Query};
use crate::clock::rfc3339;
use crate::domains::delegation::service::{
    self, ChangeTask, CreateTask, DelegationCaller, DelegationError, FileWrite, TaskView,
};
use crate::money::Cents;
use crate::store::{DelegatedTask, TaskDirection, TaskEvent, TaskStatus};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents/{agent_id}/delegated-tasks", get(list).post(create))
        .route(
            "/agents/{agent_id}/delegated-tasks/{task_id}",
            get(fetch).patch(update),
        )
        .route("/delegated-tasks/{task_id}", get(reattach))
}

const OBJECTIVE_MAX_BYTES: usize = 16 * 1024;
const ID_MAX_BYTES: usize = 100;
const MODEL_MAX_BYTES: usize = 200;
const PERMISSIONS_MAX: usize = 100;
const PERMISSION_MAX_BYTES: usize = 200;
const RESULT_MAX_BYTES: usize = 64 * 1024;
const FILE_WRITES_MAX: usize = 100;
const PATH_MAX_BYTES: usize = 1024;
const FILE_WRITE_MAX_BYTES: usize = 4 * 1024;
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

impl From<DelegationError> for ApiError {
    fn from(e: DelegationError) -> Self {
        match e {
            DelegationError::NotFound { code, message } => ApiError::Missing { code, message },
            DelegationError::Forbidden {
                code: "forbidden",
                message,
            } => ApiError::Forbidden(message),
            DelegationError::Forbidden { code, message } => ApiError::Refused { code, message },
            DelegationError::Invalid { code, message } => ApiError::OutOfRange { code, message },
            DelegationError::Conflict { code, message } => ApiError::Conflict { code, message },
            DelegationError::Domain(e) => e.into(),
        }
    }
}

fn task_json(v: &TaskView) -> Value {
    let t = &v.task;
    let mut out = summary(t);
    out["spent_cents"] = json!(v.spent.get());
    out
}

fn summary(t: &DelegatedTask) -> Value {
    json!({
        "id": t.id,
        "task_id": t.id,
        "parent_agent_id": t.parent_agent_id,
        "child_agent_id": t.child_agent_id,
        "objective": t.objective,
        "status": t.status.as_str(),
        "budget_cap_cents": t.budget_cap.map(Cents::get),
        "permissions": t.permissions,
        "model_id": t.model_id,
        "result": t.result,
        "last_seq": t.last_seq,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
    })
}

/// A task in an agent's activity ledger, with the agent's side of it.
pub(super) fn activity_json(t: &DelegatedTask, agent_id: &str) -> Value {
    let mut out = summary(t);
    out["direction"] = json!(if t.parent_agent_id == agent_id {
        "created"
    } else {
        "received"
    });
    out
}

fn file_write_json(e: &TaskEvent) -> Value {
    let mut out = match &e.detail {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    out["seq"] = json!(e.seq);
    out["path"] = json!(e.path);
    out["at"] = json!(rfc3339(e.at));
    out
}

fn caller(c: &Caller) -> DelegationCaller<'_> {
    match c {
        Caller::Agent(a) => DelegationCaller::Agent(a),
        Caller::User(u) => DelegationCaller::User(u),
    }
}

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

fn invalid(message: String) -> ApiError {
    ApiError::Unprocessable(message)
}

/// A string without NUL or other control characters, at most `max` bytes.
fn text(value: &Value, name: &str, max: usize) -> Result<String, ApiError> {
    match value {
        Value::String(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
            Err(invalid(format!(
                "invalid field {name}: must not contain control characters"
            )))
        }
        Value::String(s) if s.len() <= max => Ok(s.clone()),
        Value::String(_) => Err(invalid(format!(
            "invalid field {name}: at most {max} bytes"
        ))),
        _ => Err(invalid(format!("invalid field {name}: must be a string"))),
    }
}

fn opt_text(body: &Map<String, Value>, name: &str, max: usize) -> Result<Option<String>, ApiError> {
    field(body, name).map(|v| text(v, name, max)).transpose()
}

fn status_list() -> String {
    TaskStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn create_task(body: &Map<String, Value>) -> Result<CreateTask, ApiError> {
    let child_agent_id = opt_text(body, "child_agent_id", ID_MAX_BYTES)?
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| invalid("child_agent_id is required".into()))?;
    let objective = opt_text(body, "objective", OBJECTIVE_MAX_BYTES)?
        .ok_or_else(|| invalid("objective is required".into()))?;
    if objective.trim().is_empty() {
        return Err(invalid("invalid field objective: must not be empty".into()));
    }
    let budget_cap = match field(body, "budget_cap_cents") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(cents) if cents >= 0 => Some(Cents::new(cents)),
            _ => {
                return Err(invalid(
                    "invalid field budget_cap_cents: must be a whole, non-negative number of cents"
                        .into(),
                ));
            }
        },
    };
    let permissions = match field(body, "permissions") {
        None => Vec::new(),
        Some(Value::Array(items)) if items.len() <= PERMISSIONS_MAX => items
            .iter()
            .map(|item| text(item, "permissions", PERMISSION_MAX_BYTES))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => {
            return Err(invalid(format!(
                "invalid field permissions: at most {PERMISSIONS_MAX} operations"
            )));
        }
        Some(_) => {
            return Err(invalid(
                "invalid field permissions: must be a list of operation names".into(),
            ));
        }
    };
    let model_id = opt_text(body, "model_id", MODEL_MAX_BYTES)?;
    let execute_now = match field(body, "execute_now") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(invalid(
                "invalid field execute_now: must be true or false".into(),
            ));
        }
    };
    Ok(CreateTask {
        child_agent_id,
        objective,
        budget_cap,
        permissions,
        model_id,
        execute_now,
    })
}

async fn create(
    State(state): State<AppState>,
    agent: AgentAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Who is asking is answered before what they sent.
    let new = match create_task(&body) {
        Ok(new) => new,
        Err(e) => {
            service::must_be(&state.platform, &agent.0, &agent_id).await?;
            return Err(e);
        }
    };
    let task = service::create(&state.platform, &agent.0, &agent_id, new).await?;
    Ok(AxumJson(json!({"task": task_json(&task)})))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    direction: Option<String>,
    status: Option<String>,
    limit: Option<String>,
}

fn parse_status(raw: &str, name: &str) -> Result<TaskStatus, ApiError> {
    TaskStatus::parse(raw).ok_or_else(|| {
        invalid(format!(
            "invalid {name}: must be one of {}, got {raw:?}",
            status_list()
        ))
    })
}

async fn list(
    State(state): State<AppState>,
    who: Caller,
    Path(agent_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let direction = match q.direction.as_deref().filter(|d| !d.is_empty()) {
        None | Some("created" | "outgoing") => TaskDirection::Created,
        Some("received" | "incoming") => TaskDirection::Received,
        Some(other) => {
            return Err(invalid(format!(
                "invalid query parameter direction: must be created or received, got {other:?}"
            )));
        }
    };
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_status(s, "query parameter status"))
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "invalid query parameter limit: must be an integer from 1 to {MAX_LIMIT}"
                ))
            })?,
    };
    let tasks = service::list(
        &state.platform,
        caller(&who),
        &agent_id,
        direction,
        status,
        limit,
    )
    .await?;
    Ok(AxumJson(
        json!({"tasks": tasks.iter().map(task_json).collect::<Vec<_>>()}),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    who: Caller,
    Path((agent_id, task_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let task = service::get(&state.platform, caller(&who), &agent_id, &task_id).await?;
    Ok(AxumJson(json!({"task": task_json(&task)})))
}

fn file_write(value: &Value) -> Result<FileWrite, ApiError> {
    let Value::Object(map) = value else {
        return Err(invalid(
            "invalid field file_writes: each must be an object with a path".into(),
        ));
    };
    let path = field(map, "path")
        .map(|p| text(p, "file_writes.path", PATH_MAX_BYTES))
        .transpose()?
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| invalid("invalid field file_writes.path: required".into()))?;
    if path.contains('\n') || path.contains('\t') {
        return Err(invalid(
            "invalid field file_writes.path: must not contain control characters".into(),
        ));
    }
    let mut detail = map.clone();
    detail.remove("path");
    detail.remove("seq");
    let detail = Value::Object(detail);
    if detail.to_string().len() > FILE_WRITE_MAX_BYTES {
        return Err(invalid(format!(
            "invalid field file_writes: each at most {FILE_WRITE_MAX_BYTES} bytes beside its path"
        )));
    }
    Ok(FileWrite { path, detail })
}

fn change_task(body: &Map<String, Value>) -> Result<ChangeTask, ApiError> {
    let status = match field(body, "status") {
        None => None,
        Some(Value::String(s)) => Some(parse_status(s, "field status")?),
        Some(_) => return Err(invalid("invalid field status: must be a string".into())),
    };
    let result = field(body, "result").cloned();
    if let Some(result) = &result
        && result.to_string().len() > RESULT_MAX_BYTES
    {
        return Err(invalid(format!(
            "invalid field result: at most {RESULT_MAX_BYTES} bytes of JSON"
        )));
    }
    let mut file_writes = Vec::new();
    match field(body, "file_writes") {
        None => {}
        Some(Value::Array(items)) if items.len() <= FILE_WRITES_MAX => {
            for item in items {
                file_writes.push(file_write(item)?);
            }
        }
        Some(Value::Array(_)) => {
            return Err(invalid(format!(
                "invalid field file_writes: at most {FILE_WRITES_MAX} in one update"
            )));
        }
        Some(_) => {
            return Err(invalid(
                "invalid field file_writes: must be a list of {path, …} objects".into(),
            ));
        }
    }
    if let Some(one) = field(body, "file_write") {
        file_writes.push(file_write(one)?);
    }
    if status.is_none() && result.is_none() && file_writes.is_empty() {
        return Err(invalid(
            "nothing to change: send status, result or file_writes".into(),
        ));
    }
    Ok(ChangeTask {
        status,
        result,
        file_writes,
    })
}

async fn update(
    State(state): State<AppState>,
    who: Caller,
    Path((agent_id, task_id)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Who is asking (and whether the task is theirs) is answered before
    // what they sent.
    let change = match change_task(&body) {
        Ok(change) => change,
        Err(e) => {
            service::get(&state.platform, caller(&who), &agent_id, &task_id).await?;
            return Err(e);
        }
    };
    let task = service::update(&state.platform, caller(&who), &agent_id, &task_id, change).await?;
    Ok(AxumJson(json!({"task": task_json(&task)})))
}

#[derive(serde::Deserialize)]
struct ReattachQuery {
    since: Option<String>,
}

async fn reattach(
    State(state): State<AppState>,
    who: Caller,
    Path(task_id): Path<String>,
    Query(q): Query<ReattachQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let since = match q.since.as_deref() {
        None | Some("") => 0,
        Some(raw) => raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            invalid("invalid query parameter since: must be a non-negative integer".into())
        })?,
    };
    let found = service::reattach(&state.platform, caller(&who), &task_id, since).await?;
    let task = &found.view.task;
    Ok(AxumJson(json!({
        "task": task_json(&found.view),
        "file_writes": found.file_writes.iter().map(file_write_json).collect::<Vec<_>>(),
        "last_seq": task.last_seq,
        "since": since,
    })))
}
