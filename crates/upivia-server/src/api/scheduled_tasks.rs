//! Scheduled tasks (API.md §2.10): create (one-time `run_at` or cron
//! `schedule`, with a `timezone`), list with filters and offset paging,
//! get with recent runs, update, delete, and the run history, each run
//! with the live status of its service request.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::{field, string};
use super::text;
use crate::clock::rfc3339;
use crate::domains::scheduled_tasks::service::{self, CreateTask, TaskChange, When};
use crate::domains::triggers::service::split_operation;
use crate::governance::outcome::wire_status;
use crate::ids::{AgentId, OrgId};
use crate::model::RequestStatus;
use crate::store::{RunState, ScheduledTask, ScheduledTaskQuery, ScheduledTaskStatus, TaskRun};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/scheduled-tasks", get(list).post(create))
        .route(
            "/scheduled-tasks/{task_id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/scheduled-tasks/{task_id}/runs", get(runs))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
const RECENT_RUNS: u32 = 20;
const PAYLOAD_MAX_BYTES: usize = 64 * 1024;
const DESCRIPTION_MAX_BYTES: usize = 4096;

fn task_json(t: &ScheduledTask) -> Value {
    json!({
        "id": t.id,
        "agent_id": t.agent_id,
        "name": t.name,
        "description": t.description,
        "category": t.category,
        "service": t.service,
        "operation": t.operation,
        "payload": t.payload,
        "schedule": t.schedule,
        "run_at": t.run_at.map(rfc3339),
        "timezone": t.timezone,
        "recurring": t.schedule.is_some(),
        "status": t.status.as_str(),
        "next_run_at": t.next_run_at.map(rfc3339),
        "last_run_at": t.last_run_at.map(rfc3339),
        "run_count": t.run_count,
        "created_by": t.created_by,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
    })
}

/// The request's status in the words of `POST /service-requests`: read
/// live, so a run that waited for approval shows `executed` once approved.
fn request_status(r: &TaskRun) -> Option<String> {
    match r.request_status.as_deref().and_then(RequestStatus::parse) {
        Some(s) => Some(wire_status(s).to_owned()),
        None => r.dispatch_status.clone(),
    }
}

/// A run's status: `pending` until dispatched, then what its request came
/// to (`completed` for executed).
fn run_status(r: &TaskRun) -> String {
    if r.state == RunState::Pending {
        return "pending".into();
    }
    match request_status(r).as_deref() {
        Some("executed") => "completed".into(),
        Some("approval_required") => "approval_required".into(),
        Some("running") => "running".into(),
        Some("blocked") => "blocked".into(),
        _ => "failed".into(),
    }
}

fn run_json(r: &TaskRun) -> Value {
    json!({
        "id": r.id,
        "task_id": r.task_id,
        "status": run_status(r),
        "service_request_id": r.service_request_id,
        "service_request_status": request_status(r),
        "reason_code": r.reason_code,
        "error": r.error,
        "scheduled_for": rfc3339(r.scheduled_for),
        "started_at": rfc3339(r.started_at),
        "finished_at": r.finished_at.map(rfc3339),
    })
}

fn payload(body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match field(body, "payload") {
        None => Ok(None),
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > PAYLOAD_MAX_BYTES {
                return Err(ApiError::Unprocessable(format!(
                    "invalid field payload: at most {PAYLOAD_MAX_BYTES} bytes"
                )));
            }
            if text.contains("\\u0000") {
                return Err(ApiError::Unprocessable(
                    "invalid field payload: must not contain NUL characters".into(),
                ));
            }
            Ok(Some(v.clone()))
        }
        Some(_) => Err(ApiError::Unprocessable(
            "invalid field payload: must be an object".into(),
        )),
    }
}

/// `run_at` or `schedule`, not both.
fn when(body: &Map<String, Value>) -> Result<Option<When>, ApiError> {
    let run_at = string(body, "run_at", 64)?;
    let schedule = string(body, "schedule", 200)?;
    match (run_at, schedule) {
        (Some(_), Some(_)) => Err(ApiError::Unprocessable(
            "invalid field schedule: give run_at (one time) or schedule (cron), not both".into(),
        )),
        (Some(at), None) => Ok(Some(When::Once(at))),
        (None, Some(expr)) => Ok(Some(When::Cron(expr))),
        (None, None) => Ok(None),
    }
}

fn optional_text(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let v = string(body, name, max)?;
    if let Some(v) = &v
        && v.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::Unprocessable(format!(
            "invalid field {name}: must not contain control characters"
        )));
    }
    Ok(v)
}

async fn create(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let agent_id = string(&body, "agent_id", 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field agent_id: required".into()))?;
    let operation = string(&body, "operation", 200)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field operation: required".into()))?;
    let (service, operation) = match string(&body, "service", 100)? {
        Some(service) => (service, operation),
        None => split_operation(&operation)?,
    };
    let when = when(&body)?.ok_or_else(|| {
        ApiError::Unprocessable(
            "invalid field run_at: a task needs run_at (one time) or schedule (cron)".into(),
        )
    })?;
    let name = string(&body, "name", 4 * text::NAME_MAX_CHARS)?
        .unwrap_or_else(|| format!("{service}.{operation}"));
    text::name("name", &name)?;
    let category = optional_text(&body, "category", 100)?;
    let c = CreateTask {
        agent_id,
        name,
        description: optional_text(&body, "description", DESCRIPTION_MAX_BYTES)?,
        category,
        service,
        operation,
        payload: payload(&body)?.unwrap_or_else(|| json!({})),
        when,
        timezone: string(&body, "timezone", 64)?,
    };
    let task = service::create(&state.platform, &user, c).await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({"task": task_json(&task)})),
    ))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
    agent_id: Option<String>,
    category: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn number(
    raw: Option<&str>,
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "{name} must be {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(raw) => Some(ScheduledTaskStatus::parse(raw).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "status must be one of active, paused, completed, cancelled, got {raw:?}"
            ))
        })?),
    };
    let query = ScheduledTaskQuery {
        org_id: OrgId::from(&user.org_id),
        status,
        agent_id: q.agent_id.filter(|a| !a.is_empty()).map(AgentId::from),
        category: q.category.filter(|c| !c.is_empty()),
        limit: number(q.limit.as_deref(), "limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?,
        offset: number(q.offset.as_deref(), "offset", 0, 0..=1_000_000)?,
    };
    let (tasks, total) = service::list(&state.platform, query).await?;
    Ok(AxumJson(json!({
        "tasks": tasks.iter().map(task_json).collect::<Vec<_>>(),
        "total": total,
    })))
}

async fn fetch(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let task = service::get(&state.platform, &user, &id).await?;
    let (runs, total) = service::runs(&state.platform, &user, &id, RECENT_RUNS, 0).await?;
    Ok(AxumJson(json!({
        "task": task_json(&task),
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "runs_total": total,
    })))
}

const MUTABLE: [&str; 8] = [
    "name",
    "description",
    "category",
    "payload",
    "run_at",
    "schedule",
    "timezone",
    "status",
];

async fn update(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(key) = body.keys().find(|k| !MUTABLE.contains(&k.as_str())) {
        return Err(ApiError::InvalidRequest(format!(
            "{key} cannot be changed; a task's name, description, category, payload, run_at, \
             schedule, timezone and status can"
        )));
    }
    let name = string(&body, "name", 4 * text::NAME_MAX_CHARS)?;
    if let Some(name) = &name {
        text::name("name", name)?;
    }
    let status = match string(&body, "status", 32)? {
        None => None,
        Some(raw) => Some(ScheduledTaskStatus::parse(&raw).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field status: must be active, paused, completed or cancelled, got {raw:?}"
            ))
        })?),
    };
    let nullable = |name: &str, max: usize| -> Result<Option<Option<String>>, ApiError> {
        if body.contains_key(name) {
            Ok(Some(optional_text(&body, name, max)?))
        } else {
            Ok(None)
        }
    };
    let change = TaskChange {
        name,
        description: nullable("description", DESCRIPTION_MAX_BYTES)?,
        category: nullable("category", 100)?,
        payload: payload(&body)?,
        when: when(&body)?,
        timezone: string(&body, "timezone", 64)?,
        status,
    };
    let task = service::update(&state.platform, &user, &id, change).await?;
    Ok(AxumJson(json!({"task": task_json(&task)})))
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state.platform, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
struct RunsQuery {
    limit: Option<String>,
    offset: Option<String>,
}

async fn runs(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = number(q.limit.as_deref(), "limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
    let offset = number(q.offset.as_deref(), "offset", 0, 0..=1_000_000)?;
    let (runs, total) = service::runs(&state.platform, &user, &id, limit, offset).await?;
    Ok(AxumJson(json!({
        "runs": runs.iter().map(run_json).collect::<Vec<_>>(),
        "total": total,
    })))
}
