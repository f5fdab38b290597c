//! Agents as the core needs them: create (the key is shown once), list,
//! get, update, rotate the key, set the monthly budget, and enable or
//! disable services (bindings with their limits).

use axum::extract::{Path, State};
use axum::routing::{get, patch, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, Json, Query, UserAuth};
use super::text;
use crate::auth;
use crate::clock::rfc3339;
use crate::governance::roles::{self, AgentChange, RoleError};
use crate::governance::trail;
use crate::model::agent::BindingSettings;
use crate::model::{Agent, AgentStatus, AuditEvent, Binding, KeyMode, Role, UserPrincipal};
use crate::money::Cents;
use crate::store::{AgentPatch, BindingUpsert, BindingWrite, BudgetChange, NewAgent};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list).post(create))
        .route("/agents/{agent_id}", get(fetch).patch(update))
        .route("/agents/{agent_id}/key", patch(rotate_key))
        .route("/agents/{agent_id}/budget", patch(set_budget))
        .route(
            "/agents/{agent_id}/services",
            post(enable_service).delete(disable_service),
        )
}

/// A name's bound in bytes before it is checked in characters.
const NAME_MAX_BYTES: usize = 4 * text::NAME_MAX_CHARS;

/// Profile keys kept as sent (camelCase where the platform uses it).
const PROFILE_KEYS: &[&str] = &[
    "icon",
    "category",
    "personality",
    "systemPrompt",
    "voiceConfig",
    "memoryMode",
];

pub(super) fn agent_json(a: &Agent) -> Value {
    let mut out = json!({
        "id": a.id,
        "name": a.name,
        "description": a.description,
        "status": a.status.as_str(),
        "mode": a.key_mode.as_str(),
        "key_mode": a.key_mode.as_str(),
        "team_id": a.team_id,
        "owner_user_id": a.owner_user_id,
        "monthly_budget_cents": a.monthly_budget.map(Cents::get),
        "daily_request_limit": a.daily_request_limit,
        "rate_limit_per_minute": a.rate_limit_per_minute,
        "default_model_id": a.default_model_id,
        "set_by_role": {
            "status": a.set_by.status.as_str(),
            "monthly_budget_cents": a.set_by.monthly_budget.as_str(),
            "daily_request_limit": a.set_by.daily_request_limit.as_str(),
            "rate_limit_per_minute": a.set_by.rate_limit.as_str(),
        },
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.updated_at),
    });
    if let (Value::Object(out), Value::Object(profile)) = (&mut out, &a.profile) {
        for (k, v) in profile {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

fn binding_json(b: &Binding) -> Value {
    json!({
        "id": b.id,
        "service_id": b.service_id,
        "operation": b.operation,
        "require_approval": b.require_approval,
        "approval_threshold_cents": b.approval_threshold.map(Cents::get),
        "max_cost_cents": b.max_cost.map(Cents::get),
        "monthly_budget_cents": b.monthly_budget.map(Cents::get),
        "daily_request_limit": b.daily_request_limit,
        "rate_limit_per_minute": b.rate_limit_per_minute,
        "set_by_role": {
            "enabled": b.set_by.enabled.as_str(),
            "require_approval": b.set_by.require_approval.as_str(),
            "approval_threshold_cents": b.set_by.approval_threshold.as_str(),
            "max_cost_cents": b.set_by.max_cost.as_str(),
            "monthly_budget_cents": b.set_by.monthly_budget.as_str(),
            "daily_request_limit": b.set_by.daily_request_limit.as_str(),
            "rate_limit_per_minute": b.set_by.rate_limit.as_str(),
        },
        "created_at": rfc3339(b.created_at),
        "updated_at": rfc3339(b.updated_at),
    })
}

// -- field readers over a JSON object, treating null as absent -------------

fn field<'a>(body: &'a Map<String, Value>, names: &[&str]) -> Option<(&'a str, &'a Value)> {
    names
        .iter()
        .find_map(|n| body.get_key_value(*n))
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str(), v))
}

fn string_field(
    body: &Map<String, Value>,
    names: &[&str],
    max: usize,
) -> Result<Option<String>, ApiError> {
    match field(body, names) {
        None => Ok(None),
        Some((_, Value::String(s))) if s.len() <= max => Ok(Some(s.clone())),
        Some((name, Value::String(_))) => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: at most {max} bytes"
        ))),
        Some((name, _)) => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: must be a string"
        ))),
    }
}

fn count_field(
    body: &Map<String, Value>,
    names: &[&str],
    min: u64,
) -> Result<Option<u32>, ApiError> {
    match field(body, names) {
        None => Ok(None),
        Some((name, v)) => v
            .as_u64()
            .filter(|n| *n >= min)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "invalid field {name}: must be an integer of at least {min}"
                ))
            }),
    }
}

fn cents_field(body: &Map<String, Value>, names: &[&str]) -> Result<Option<Cents>, ApiError> {
    match field(body, names) {
        None => Ok(None),
        Some((name, v)) => v
            .as_i64()
            .filter(|n| *n >= 0)
            .map(|n| Some(Cents::new(n)))
            .ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "invalid field {name}: must be a non-negative integer number of cents"
                ))
            }),
    }
}

fn bool_field(body: &Map<String, Value>, names: &[&str]) -> Result<Option<bool>, ApiError> {
    match field(body, names) {
        None => Ok(None),
        Some((_, Value::Bool(b))) => Ok(Some(*b)),
        Some((name, _)) => Err(ApiError::Unprocessable(format!(
            "invalid field {name}: must be a boolean"
        ))),
    }
}

fn profile_of(body: &Map<String, Value>) -> Map<String, Value> {
    PROFILE_KEYS
        .iter()
        .filter_map(|k| body.get_key_value(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

// -- access ------------------------------------------------------------------

/// The server's per-key ceiling, which counts as an admin's setting.
fn ceiling(state: &AppState) -> Option<u32> {
    state.platform.settings.key_rate_limit_per_minute
}

/// An agent of the caller's organisation that the caller may manage:
/// admins manage every agent, members the agents they own.
async fn manageable(
    state: &AppState,
    user: &UserPrincipal,
    agent_id: &str,
) -> Result<Agent, ApiError> {
    let agent = state
        .platform
        .stores
        .agents
        .agent(&user.org_id, agent_id)
        .await?
        .ok_or(ApiError::NotFound("agent"))?;
    if user.role >= Role::Admin || agent.owner_user_id.as_deref() == Some(user.user_id.as_str()) {
        Ok(agent)
    } else {
        Err(ApiError::Forbidden(
            "only an admin or the agent's owner may change it".into(),
        ))
    }
}

fn event(user: &UserPrincipal, agent_id: &str, kind: &str, details: Value) -> AuditEvent {
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(agent_id)
        .with_details(details)
}

// -- handlers ----------------------------------------------------------------

#[derive(serde::Deserialize)]
struct ListAgents {
    team_id: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListAgents>,
) -> Result<AxumJson<Value>, ApiError> {
    let agents = match caller {
        // An agent sees itself (sharing between agents comes later).
        Caller::Agent(agent) => vec![agent],
        Caller::User(user) => {
            state
                .platform
                .stores
                .agents
                .agents(&user.org_id, q.team_id.as_deref())
                .await?
        }
    };
    Ok(AxumJson(
        json!({"agents": agents.iter().map(agent_json).collect::<Vec<_>>()}),
    ))
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let name = string_field(&body, &["name"], NAME_MAX_BYTES)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field name: required".into()))?;
    text::name("name", &name)?;
    let key_mode = match string_field(&body, &["key_mode", "mode"], 10)?.as_deref() {
        None | Some("live") => KeyMode::Live,
        Some("test") => KeyMode::Test,
        Some(other) => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field key_mode: must be live or test, got {other:?}"
            )));
        }
    };
    let rate_limit_per_minute = count_field(&body, &["rate_limit_per_minute"], 1)?;
    let set_by = roles::check_new_agent(rate_limit_per_minute, user.role, ceiling(&state))?;
    let key = auth::new_agent_key(key_mode);
    let agent = state
        .platform
        .stores
        .agents
        .create_agent(NewAgent {
            org_id: user.org_id.clone(),
            team_id: string_field(&body, &["team_id"], 64)?,
            owner_user_id: Some(user.user_id.clone()),
            name,
            description: string_field(&body, &["description"], 2000)?,
            key_hash: auth::hash_token(&key),
            key_mode,
            monthly_budget: cents_field(&body, &["monthly_budget_cents", "monthly_limit_cents"])?,
            daily_request_limit: count_field(
                &body,
                &["daily_request_limit", "dailyRequestLimit"],
                0,
            )?,
            rate_limit_per_minute,
            default_model_id: string_field(&body, &["defaultModelId", "default_model_id"], 200)?,
            profile: Value::Object(profile_of(&body)),
            set_by,
            now: state.platform.clock.now(),
            actor: trail::user_actor(&user.user_id),
        })
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::NotFound("team"),
            other => other.into(),
        })?;
    Ok(AxumJson(
        json!({"agent": agent_json(&agent), "api_key": key}),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let agent = state
        .platform
        .stores
        .agents
        .agent(&user.0.org_id, &agent_id)
        .await?
        .ok_or(ApiError::NotFound("agent"))?;
    let bindings = state.platform.stores.agents.bindings(&agent.id).await?;
    Ok(AxumJson(json!({
        "agent": agent_json(&agent),
        "services": bindings.iter().map(binding_json).collect::<Vec<_>>(),
    })))
}

async fn update(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = manageable(&state, &user, &agent_id).await?;
    let status = match string_field(&body, &["status"], 20)? {
        None => None,
        Some(raw) => Some(AgentStatus::parse(&raw).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field status: must be active, paused or disabled, got {raw:?}"
            ))
        })?),
    };
    let name = string_field(&body, &["name"], NAME_MAX_BYTES)?;
    if let Some(name) = &name {
        text::name("name", name)?;
    }
    let daily_request_limit =
        count_field(&body, &["daily_request_limit", "dailyRequestLimit"], 0)?.map(Some);
    let rate_limit_per_minute = count_field(&body, &["rate_limit_per_minute"], 1)?.map(Some);
    let change = AgentChange {
        status,
        monthly_budget: None,
        daily_request_limit,
        rate_limit_per_minute,
    };
    let set_by = roles::check_agent(&agent, &change, user.role, ceiling(&state))?;
    let patch = AgentPatch {
        name,
        description: string_field(&body, &["description"], 2000)?.map(Some),
        status,
        default_model_id: string_field(&body, &["defaultModelId", "default_model_id"], 200)?
            .map(Some),
        daily_request_limit,
        rate_limit_per_minute,
        profile: profile_of(&body),
        set_by: Some(set_by),
        expect: Some(agent.rules()),
    };
    let changed: Vec<&String> = body.keys().collect();
    let now = state.platform.clock.now();
    let updated = state
        .platform
        .stores
        .agents
        .update_agent(
            &user.org_id,
            &agent.id,
            patch,
            now,
            event(
                &user,
                &agent.id,
                "agent.updated",
                json!({"fields": changed, "status": status.map(|s| s.as_str())}),
            ),
        )
        .await?;
    Ok(AxumJson(json!({"agent": agent_json(&updated)})))
}

async fn rotate_key(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = manageable(&state, &user, &agent_id).await?;
    if bool_field(&body, &["confirm"])? != Some(true) {
        return Err(ApiError::InvalidRequest(
            "rotating the key stops the old one at once; send {\"confirm\": true}".into(),
        ));
    }
    let key = auth::new_agent_key(agent.key_mode);
    let now = state.platform.clock.now();
    let updated = state
        .platform
        .stores
        .agents
        .rotate_agent_key(
            &user.org_id,
            &agent.id,
            &auth::hash_token(&key),
            agent.key_mode,
            now,
            event(&user, &agent.id, "agent.key_rotated", json!({})),
        )
        .await?;
    Ok(AxumJson(
        json!({"agent": agent_json(&updated), "api_key": key}),
    ))
}

async fn set_budget(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = manageable(&state, &user, &agent_id).await?;
    let names = ["monthly_budget_cents", "monthly_limit_cents"];
    // Here null is meaningful ("no cap"), so presence is checked first.
    if !names.iter().any(|n| body.contains_key(*n)) {
        return Err(ApiError::Unprocessable(
            "invalid field monthly_budget_cents: required (an integer, or null for no cap)".into(),
        ));
    }
    let cap = cents_field(&body, &names)?;
    let change = AgentChange {
        monthly_budget: Some(cap),
        ..AgentChange::default()
    };
    let set_by = roles::check_agent(&agent, &change, user.role, ceiling(&state))?;
    let now = state.platform.clock.now();
    let updated = state
        .platform
        .stores
        .agents
        .set_agent_budget(
            &user.org_id,
            &agent.id,
            BudgetChange {
                monthly_budget: cap,
                set_by: set_by.monthly_budget,
                expect: agent.rules(),
            },
            now,
            event(
                &user,
                &agent.id,
                "agent.budget_set",
                json!({"monthly_budget_cents": cap.map(Cents::get)}),
            ),
        )
        .await?;
    Ok(AxumJson(json!({"agent": agent_json(&updated)})))
}

async fn enable_service(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = manageable(&state, &user, &agent_id).await?;
    let raw_service = string_field(&body, &["service_id", "service"], 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field service_id: required".into()))?;
    let service_id = raw_service
        .strip_prefix("svc_")
        .unwrap_or(&raw_service)
        .to_owned();
    let catalog = &state.platform.catalog;
    let service = catalog
        .service(&service_id)
        .ok_or_else(|| ApiError::Missing {
            code: "unknown_service",
            message: format!("unknown service {raw_service:?}"),
        })?;
    let mut operations: Vec<Option<String>> = Vec::new();
    if let Some((_, op)) = field(&body, &["operation"]) {
        let op = op.as_str().ok_or_else(|| {
            ApiError::Unprocessable("invalid field operation: must be a string".into())
        })?;
        operations.push(Some(op.to_owned()));
    }
    if let Some((_, ops)) = field(&body, &["operations"]) {
        let ops = ops.as_array().ok_or_else(|| {
            ApiError::Unprocessable(
                "invalid field operations: must be a list of operation names".into(),
            )
        })?;
        for op in ops {
            let op = op.as_str().ok_or_else(|| {
                ApiError::Unprocessable(
                    "invalid field operations: must be a list of strings".into(),
                )
            })?;
            // Accept "email.send" as well as "send".
            let name = op.strip_prefix(&format!("{service_id}.")).unwrap_or(op);
            operations.push(Some(name.to_owned()));
        }
    }
    if operations.is_empty() {
        operations.push(None);
    }
    for op in operations.iter().flatten() {
        if catalog.operation(&service_id, op).is_none() {
            return Err(ApiError::Missing {
                code: "unknown_operation",
                message: format!("service {service_id:?} has no operation {op:?}"),
            });
        }
    }
    // Limits may sit at the top level or under `config`.
    let config = match body.get("config") {
        Some(Value::Object(c)) => c.clone(),
        _ => Map::new(),
    };
    let merged: Map<String, Value> = config.into_iter().chain(body.clone()).collect();
    let settings = BindingSettings {
        require_approval: bool_field(&merged, &["require_approval"])?.unwrap_or(false),
        approval_threshold: cents_field(&merged, &["approval_threshold_cents"])?,
        max_cost: cents_field(&merged, &["max_cost_cents"])?,
        monthly_budget: cents_field(&merged, &["monthly_budget_cents"])?,
        daily_request_limit: count_field(
            &merged,
            &["daily_request_limit", "dailyRequestLimit"],
            0,
        )?,
        rate_limit_per_minute: count_field(&merged, &["rate_limit_per_minute"], 1)?,
    };
    let current = state
        .platform
        .stores
        .agents
        .service_bindings(&agent.id, service.id)
        .await?;
    let writes = operations
        .iter()
        .map(|operation| {
            let row = current.iter().find(|b| b.operation == *operation);
            Ok(BindingWrite {
                operation: operation.clone(),
                set_by: roles::check_binding(&current, operation.as_deref(), &settings, user.role)?,
                expect: row.map(Binding::rules),
            })
        })
        .collect::<Result<Vec<_>, RoleError>>()?;
    let now = state.platform.clock.now();
    let details = json!({
        "service_id": service.id,
        "operations": operations,
        "require_approval": settings.require_approval,
        "approval_threshold_cents": settings.approval_threshold.map(Cents::get),
        "max_cost_cents": settings.max_cost.map(Cents::get),
        "monthly_budget_cents": settings.monthly_budget.map(Cents::get),
        "daily_request_limit": settings.daily_request_limit,
        "rate_limit_per_minute": settings.rate_limit_per_minute,
    });
    let bindings = state
        .platform
        .stores
        .agents
        .upsert_bindings(
            &user.org_id,
            &agent.id,
            BindingUpsert {
                service_id: service.id.to_owned(),
                operations: writes,
                settings,
            },
            now,
            event(&user, &agent.id, "binding.enabled", details),
        )
        .await?;
    Ok(AxumJson(json!({
        "ok": true,
        "services": bindings.iter().map(binding_json).collect::<Vec<_>>(),
    })))
}

#[derive(serde::Deserialize)]
struct DisableService {
    service_id: Option<String>,
}

async fn disable_service(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Query(q): Query<DisableService>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = manageable(&state, &user, &agent_id).await?;
    let raw = q
        .service_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("service_id query parameter is required".into()))?;
    let service_id = raw.strip_prefix("svc_").unwrap_or(&raw).to_owned();
    let now = state.platform.clock.now();
    let removed = state
        .platform
        .stores
        .agents
        .delete_bindings(
            &user.org_id,
            &agent.id,
            &service_id,
            user.role,
            now,
            event(
                &user,
                &agent.id,
                "binding.disabled",
                json!({"service_id": service_id}),
            ),
        )
        .await?;
    Ok(AxumJson(
        json!({"ok": true, "removed": removed, "service_id": service_id}),
    ))
}
