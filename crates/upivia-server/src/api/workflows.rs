//! Workflows (API.md §2.9): the workflow, its versions (publishing goes
//! through the approvals inbox), runs and their step actions, agent
//! grants, sharing, export and the templates catalogue. The terminal
//! client's list of recent runs (`GET /ops/runs`) is `api/ops.rs`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::{field, string};
use super::text;
use crate::clock::rfc3339;
use crate::domains::workflows::definition::Definition;
use crate::domains::workflows::service::{self, SHARE_SCOPES, STATUSES, StartRun, WorkflowFields};
use crate::domains::workflows::{state, templates};
use crate::ids::OrgId;
use crate::model::Account;
use crate::store::{Workflow, WorkflowGrant, WorkflowRun, WorkflowVersion};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list).post(create))
        .route(
            "/workflows/from-template",
            get(templates_list).post(from_template),
        )
        .route(
            "/workflows/{workflow_id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/workflows/{workflow_id}/versions", post(create_version))
        .route(
            "/workflows/{workflow_id}/versions/{version_id}/publish",
            post(publish),
        )
        .route(
            "/workflows/{workflow_id}/versions/{version_id}/unpublish",
            post(unpublish),
        )
        .route("/workflows/{workflow_id}/share", post(share))
        .route("/workflows/{workflow_id}/export", get(export))
        .route("/workflows/{workflow_id}/runs", get(runs).post(start))
        .route("/workflows/{workflow_id}/runs/{run_id}", get(run))
        .route(
            "/workflows/{workflow_id}/runs/{run_id}/cancel",
            post(cancel),
        )
        .route(
            "/workflows/{workflow_id}/runs/{run_id}/rerun-failed",
            post(rerun_failed),
        )
        .route(
            "/workflows/{workflow_id}/runs/{run_id}/steps/{step_id}/retry",
            post(retry_step),
        )
        .route(
            "/workflows/{workflow_id}/runs/{run_id}/steps/{step_id}/skip",
            post(skip_step),
        )
        .route(
            "/workflows/{workflow_id}/agents",
            get(grants).post(grant).delete(revoke),
        )
}

const DESCRIPTION_MAX: usize = 4096;
const INPUT_MAX_BYTES: usize = 64 * 1024;
const DEFINITION_MAX_BYTES: usize = 256 * 1024;

fn workflow_json(w: &Workflow) -> Value {
    json!({
        "id": w.id,
        "agent_id": w.agent_id,
        "name": w.name,
        "description": w.description,
        "category": w.category,
        "icon": w.icon,
        "status": w.status,
        "share_scope": w.share_scope,
        "created_by": w.created_by,
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
    })
}

fn version_json(v: &WorkflowVersion) -> Value {
    json!({
        "id": v.id,
        "workflow_id": v.workflow_id,
        "version": v.number,
        "status": v.status.as_str(),
        "steps": v.definition["steps"],
        "edges": v.definition["edges"],
        "created_by": v.created_by,
        "created_at": rfc3339(v.created_at),
        "published_at": v.published_at.map(rfc3339),
    })
}

pub(super) fn run_json(r: &WorkflowRun, workflow_name: Option<&str>, spent: Option<i64>) -> Value {
    let steps = state::parse(&r.steps).unwrap_or_default();
    let triggered_by_type = r.triggered_by.split(':').next().unwrap_or("user");
    json!({
        "id": r.id,
        "workflow_id": r.workflow_id,
        "workflow_name": workflow_name,
        "workflow_version_id": r.version_id,
        "agent_id": r.agent_id,
        "status": r.status.as_str(),
        "error": r.error,
        "input": r.input,
        "budget_cents": r.budget_cents,
        "spent_cents": spent,
        "test_run": r.test_run,
        "triggered_by": r.triggered_by,
        "triggered_by_type": triggered_by_type,
        "steps": steps.iter().map(|s| json!({
            "step_id": s.step_id,
            "label": s.label,
            "step_type": s.step_type,
            "status": s.status.as_str(),
            "error": s.error,
            "attempt": s.attempt,
            "result": s.result,
            "service_request_id": s.request_id,
            "approval_id": s.gate_id,
            "human_input_id": s.human_input_id,
            "skip_reason": s.skip_reason,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
        })).collect::<Vec<_>>(),
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "finished_at": r.finished_at.map(rfc3339),
    })
}

fn grant_json(g: &WorkflowGrant) -> Value {
    json!({
        "agent_id": g.agent_id,
        "agent_name": g.agent_name,
        "workflow_id": g.workflow_id,
        "granted_by": g.granted_by,
        "created_at": rfc3339(g.created_at),
        "skill": "run_workflow",
    })
}

/// `name`, `description`, `category`, `icon`, `status` of a body.
fn fields(body: &Map<String, Value>) -> Result<WorkflowFields, ApiError> {
    let name = string(body, "name", 4 * text::NAME_MAX_CHARS)?;
    if let Some(n) = &name {
        text::name("name", n)?;
    }
    let nullable = |key: &str, max: usize| -> Result<Option<Option<String>>, ApiError> {
        if !body.contains_key(key) {
            return Ok(None);
        }
        let v = string(body, key, max)?;
        if let Some(v) = &v
            && v.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ApiError::Unprocessable(format!(
                "invalid field {key}: must not contain control characters"
            )));
        }
        Ok(Some(v))
    };
    let status = string(body, "status", 32)?;
    if let Some(s) = &status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::Unprocessable(format!(
            "invalid field status: must be active or archived, got {s:?}"
        )));
    }
    Ok(WorkflowFields {
        name,
        description: nullable("description", DESCRIPTION_MAX)?,
        category: nullable("category", 100)?,
        icon: nullable("icon", 100)?,
        status,
    })
}

#[derive(serde::Deserialize)]
struct ListQuery {
    category: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let all = service::list(&state.platform, &user, q.category.filter(|c| !c.is_empty())).await?;
    Ok(AxumJson(
        json!({"workflows": all.iter().map(workflow_json).collect::<Vec<_>>()}),
    ))
}

async fn create(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let agent_id = string(&body, "agent_id", 100)?.ok_or_else(|| {
        ApiError::Unprocessable("invalid field agent_id: required (the workflow's agent)".into())
    })?;
    let f = fields(&body)?;
    if f.name.is_none() {
        return Err(ApiError::Unprocessable(
            "invalid field name: required".into(),
        ));
    }
    let w = service::create(&state.platform, &user, &agent_id, f).await?;
    Ok(AxumJson(json!({"workflow": workflow_json(&w)})))
}

async fn fetch(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::get(&state.platform, &user, &id).await?;
    let versions = service::versions(&state.platform, &user, &w).await?;
    Ok(AxumJson(json!({
        "workflow": workflow_json(&w),
        "versions": versions.iter().map(version_json).collect::<Vec<_>>(),
    })))
}

async fn update(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    const MUTABLE: [&str; 5] = ["name", "description", "status", "icon", "category"];
    if let Some(key) = body.keys().find(|k| !MUTABLE.contains(&k.as_str())) {
        return Err(ApiError::InvalidRequest(format!(
            "{key} cannot be changed here: name, description, status, icon and category can"
        )));
    }
    let w = service::update(&state.platform, &user, &id, fields(&body)?).await?;
    Ok(AxumJson(json!({"workflow": workflow_json(&w)})))
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state.platform, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_version(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<AxumJson<Value>, ApiError> {
    if body.to_string().len() > DEFINITION_MAX_BYTES {
        return Err(ApiError::Unprocessable(format!(
            "a version is at most {DEFINITION_MAX_BYTES} bytes"
        )));
    }
    let v = service::create_version(&state.platform, &user, &id, body).await?;
    Ok(AxumJson(json!({"version": version_json(&v)})))
}

async fn publish(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, version_id)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let note = string(&body, "note", 1000)?;
    let p = service::request_publish(&state.platform, &user, &id, &version_id, note).await?;
    Ok(AxumJson(json!({"publish_request": {
        "id": p.id,
        "status": p.status.as_str(),
        "version_id": p.version_id,
        "workflow_id": p.workflow_id,
        "requested_by": p.requested_by,
        "created_at": rfc3339(p.created_at),
    }})))
}

async fn unpublish(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, version_id)): Path<(String, String)>,
    Json(_): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let v = service::unpublish(&state.platform, &user, &id, &version_id).await?;
    Ok(AxumJson(json!({"version": version_json(&v)})))
}

async fn share(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Who may share it is decided before what they asked for.
    service::managed(&state.platform, &user, &id).await?;
    let scope = string(&body, "scope", 16)?.unwrap_or_default();
    if !SHARE_SCOPES.contains(&scope.as_str()) {
        return Err(ApiError::Unprocessable(format!(
            "invalid field scope: must be team, org or private, got {scope:?}"
        )));
    }
    let w = service::share(&state.platform, &user, &id, &scope).await?;
    Ok(AxumJson(
        json!({"workflow": workflow_json(&w), "scope": scope}),
    ))
}

/// The latest version as a skill manifest: what an agent framework needs
/// to offer the workflow as a tool.
async fn export(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::get(&state.platform, &user, &id).await?;
    let versions = service::versions(&state.platform, &user, &w).await?;
    let latest = versions
        .iter()
        .find(|v| v.status == crate::store::VersionStatus::Published)
        .or(versions.first())
        .ok_or_else(|| ApiError::Conflict {
            code: "no_version",
            message: "the workflow has no version to export yet".into(),
        })?;
    let def = Definition::parse(&latest.definition)
        .map_err(|e| ApiError::Internal(Box::new(std::io::Error::other(e.0))))?;
    Ok(AxumJson(json!({
        "manifest_version": 1,
        "kind": "upivia.skill",
        "name": w.name,
        "description": w.description,
        "workflow_id": w.id,
        "version_id": latest.id,
        "version": latest.number,
        "status": latest.status.as_str(),
        "input_schema": def.input_schema(),
        "steps": latest.definition["steps"],
        "edges": latest.definition["edges"],
    })))
}

async fn spent(state: &AppState, run: &WorkflowRun) -> Option<i64> {
    state
        .platform
        .stores
        .governance
        .totals(Account::WorkflowRun(run.id.clone()))
        .await
        .ok()
        .map(|t| t.settled.get())
}

async fn runs(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::get(&state.platform, &user, &id).await?;
    let runs = state
        .platform
        .stores
        .workflows
        .runs(&OrgId::from(&user.org_id), Some(w.id.clone()), None, 100)
        .await?;
    Ok(AxumJson(json!({
        "runs": runs.iter().map(|r| run_json(r, Some(&w.name), None)).collect::<Vec<_>>(),
    })))
}

async fn start(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let w = service::managed(&state.platform, &user, &id).await?;
    let input = match field(&body, "input") {
        None => json!({}),
        Some(v @ Value::Object(_)) if v.to_string().len() <= INPUT_MAX_BYTES => v.clone(),
        Some(Value::Object(_)) => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field input: at most {INPUT_MAX_BYTES} bytes"
            )));
        }
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field input: must be an object".into(),
            ));
        }
    };
    let budget_cents = match field(&body, "budget_cents") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| (0..=1_000_000_000).contains(n))
                .ok_or_else(|| {
                    ApiError::Unprocessable(
                        "invalid field budget_cents: a whole number of cents, 0 or more".into(),
                    )
                })?,
        ),
    };
    let test_run = match field(&body, "test_run") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field test_run: must be a boolean".into(),
            ));
        }
    };
    let start = StartRun {
        version_id: string(&body, "workflow_version_id", 100)?,
        input,
        budget_cents,
        test_run,
        run_id: None,
    };
    let actor = crate::governance::trail::user_actor(&user.user_id);
    let run = service::start_run(&state.platform, &w, start, actor.clone(), actor).await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({"run": run_json(&run, Some(&w.name), Some(0))})),
    ))
}

async fn run(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::get(&state.platform, &user, &id).await?;
    let r = service::run_of(&state.platform, &user, &w, &run_id).await?;
    let spent = spent(&state, &r).await;
    Ok(AxumJson(json!({"run": run_json(&r, Some(&w.name), spent)})))
}

/// What a run action answers: `{ok, run}`.
fn acted(w: &Workflow, r: &WorkflowRun) -> AxumJson<Value> {
    AxumJson(json!({"ok": true, "run": run_json(r, Some(&w.name), None)}))
}

async fn cancel(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::managed(&state.platform, &user, &id).await?;
    Ok(acted(
        &w,
        &service::cancel_run(&state.platform, &user, &w, &run_id).await?,
    ))
}

async fn rerun_failed(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::managed(&state.platform, &user, &id).await?;
    Ok(acted(
        &w,
        &service::rerun_failed(&state.platform, &user, &w, &run_id).await?,
    ))
}

async fn retry_step(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, run_id, step_id)): Path<(String, String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::managed(&state.platform, &user, &id).await?;
    let r = service::retry_step(&state.platform, &user, &w, &run_id, &step_id).await?;
    Ok(acted(&w, &r))
}

async fn skip_step(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((id, run_id, step_id)): Path<(String, String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::managed(&state.platform, &user, &id).await?;
    let r = service::skip_step(&state.platform, &user, &w, &run_id, &step_id).await?;
    Ok(acted(&w, &r))
}

async fn grants(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let w = service::get(&state.platform, &user, &id).await?;
    let g = service::grants(&state.platform, &user, &w).await?;
    Ok(AxumJson(
        json!({"agents": g.iter().map(grant_json).collect::<Vec<_>>()}),
    ))
}

async fn grant(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    service::managed(&state.platform, &user, &id).await?;
    let agent_id = string(&body, "agent_id", 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field agent_id: required".into()))?;
    service::set_grant(&state.platform, &user, &id, &agent_id, true).await?;
    Ok(AxumJson(
        json!({"ok": true, "workflow_id": id, "agent_id": agent_id}),
    ))
}

#[derive(serde::Deserialize)]
struct RevokeQuery {
    agent_id: Option<String>,
}

async fn revoke(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Query(q): Query<RevokeQuery>,
) -> Result<StatusCode, ApiError> {
    service::managed(&state.platform, &user, &id).await?;
    let agent_id = q
        .agent_id
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("agent_id is required in the query".into()))?;
    service::set_grant(&state.platform, &user, &id, &agent_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn templates_list(UserAuth(_): UserAuth) -> AxumJson<Value> {
    AxumJson(json!({"templates": templates::TEMPLATES.iter().map(|t| {
        let def = (t.definition)();
        json!({
            "id": t.id,
            "name": t.name,
            "description": t.description,
            "category": t.category,
            "preview": {"steps": def["steps"], "edges": def["edges"]},
            "step_count": def["steps"].as_array().map_or(0, Vec::len),
        })
    }).collect::<Vec<_>>()}))
}

/// Makes a real workflow (and its first draft version) from a template
/// and grants it to the agent it belongs to.
async fn from_template(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let template_id = string(&body, "template_id", 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field template_id: required".into()))?;
    let t = templates::find(&template_id).ok_or(ApiError::NotFound("template"))?;
    let agent_id = string(&body, "agent_id", 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field agent_id: required".into()))?;
    let mut f = fields(&body)?;
    f.name = Some(f.name.unwrap_or_else(|| t.name.to_owned()));
    f.description = Some(Some(t.description.to_owned()));
    f.category = Some(Some(t.category.to_owned()));
    let w = service::create(&state.platform, &user, &agent_id, f).await?;
    let v = service::create_version(&state.platform, &user, &w.id, (t.definition)()).await?;
    service::set_grant(&state.platform, &user, &w.id, &agent_id, true).await?;
    Ok(AxumJson(json!({
        "workflow": workflow_json(&w),
        "version": version_json(&v),
        "template_id": t.id,
    })))
}
