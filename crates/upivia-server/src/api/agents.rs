//! Agents (API.md §2.5): create (the key is shown once), list, get,
//! update, delete, clone, transfer, rotate the key, set the monthly budget,
//! enable or disable services (bindings with their limits), health (one
//! agent, the fleet), activity (the accountability ledger) and skills.
//! Handlers read the body and call `domains::agents`, which holds the
//! rules.

use axum::extract::{Path, State};
use axum::routing::{get, patch, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, Json, Query, UserAuth};
use super::text;
use crate::clock::rfc3339;
use crate::domains::agents::health::Health;
use crate::domains::agents::service::{self, CreateAgent, EnableService, UpdateAgent};
use crate::domains::agents::{activity as ledger, health as fitness, lifecycle};
use crate::governance::resolve;
use crate::ids::{AgentId, OrgId};
use crate::model::agent::BindingSettings;
use crate::model::{Agent, AgentStatus, Binding, KeyMode};
use crate::money::Cents;
use crate::store::{NewOwner, RequestSample};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list).post(create))
        .route("/agents/health", get(fleet_health))
        .route(
            "/agents/{agent_id}",
            get(fetch).patch(update).delete(delete),
        )
        .route("/agents/{agent_id}/clone", post(clone))
        .route("/agents/{agent_id}/transfer", patch(transfer))
        .route("/agents/{agent_id}/health", get(health))
        .route("/agents/{agent_id}/activity", get(activity))
        .route(
            "/agents/{agent_id}/skills",
            get(skills).delete(remove_skill),
        )
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
        "parent_agent_id": a.parent_agent_id,
        "spawn_depth": a.spawn_depth,
        "monthly_budget_cents": a.monthly_budget.map(Cents::get),
        "daily_request_limit": a.daily_request_limit,
        "rate_limit_per_minute": a.rate_limit_per_minute,
        "default_model_id": a.default_model_id,
        "protected": crate::store::is_protected(a),
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
        // PostgreSQL text cannot hold a NUL: refused on every backend alike.
        Some((name, Value::String(s))) if s.contains('\0') => Err(ApiError::Unprocessable(
            format!("invalid field {name}: must not contain NUL characters"),
        )),
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

/// The profile keys of a body, checked: text keys are strings (or null,
/// which clears them), `voiceConfig` an object, `personality` either;
/// `protected` (a boolean) becomes the profile's flag, cleared by false.
fn profile_of(body: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for key in PROFILE_KEYS {
        let Some(value) = body.get(*key) else {
            continue;
        };
        let fits = match (*key, value) {
            (_, Value::Null) => true,
            ("voiceConfig", Value::Object(_)) | ("personality", Value::Object(_)) => true,
            ("voiceConfig", _) => false,
            (_, Value::String(s)) => s.len() <= PROFILE_TEXT_MAX_BYTES,
            _ => false,
        };
        if !fits {
            let shape = match *key {
                "voiceConfig" => "an object",
                "personality" => "a string or an object",
                _ => "a string",
            };
            return Err(ApiError::Unprocessable(format!(
                "invalid field {key}: must be {shape} (at most {PROFILE_TEXT_MAX_BYTES} bytes of text), or null"
            )));
        }
        out.insert((*key).to_owned(), value.clone());
    }
    match bool_field(body, &["protected"])? {
        Some(true) => {
            out.insert("protected".into(), Value::Bool(true));
        }
        Some(false) => {
            out.insert("protected".into(), Value::Null);
        }
        None => {}
    }
    Ok(out)
}

/// The bound on one profile text (a system prompt is the longest).
const PROFILE_TEXT_MAX_BYTES: usize = 32 * 1024;

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
        Caller::Agent(agent) => vec![*agent],
        Caller::User(user) => service::list(&state.platform, &user, q.team_id.as_deref()).await?,
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
    let new = CreateAgent {
        rate_limit_per_minute: count_field(&body, &["rate_limit_per_minute"], 1)?,
        team_id: string_field(&body, &["team_id"], 64)?,
        name,
        description: string_field(&body, &["description"], 2000)?,
        key_mode,
        monthly_budget: cents_field(&body, &["monthly_budget_cents", "monthly_limit_cents"])?,
        daily_request_limit: count_field(&body, &["daily_request_limit", "dailyRequestLimit"], 0)?,
        default_model_id: string_field(&body, &["defaultModelId", "default_model_id"], 200)?,
        profile: Value::Object(
            profile_of(&body)?
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
        ),
    };
    let (agent, key) = service::create(&state.platform, &user, new).await?;
    Ok(AxumJson(
        json!({"agent": agent_json(&agent), "api_key": key}),
    ))
}

async fn fetch(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (agent, bindings) =
        service::get(&state.platform, &user.0, &AgentId::from(agent_id)).await?;
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
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
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
    let update = UpdateAgent {
        name,
        status,
        daily_request_limit: count_field(&body, &["daily_request_limit", "dailyRequestLimit"], 0)?,
        rate_limit_per_minute: count_field(&body, &["rate_limit_per_minute"], 1)?,
        description: string_field(&body, &["description"], 2000)?,
        default_model_id: string_field(&body, &["defaultModelId", "default_model_id"], 200)?,
        profile: profile_of(&body)?,
        fields: body.keys().cloned().collect(),
    };
    let updated = service::update(&state.platform, &user, &agent, update).await?;
    Ok(AxumJson(json!({"agent": agent_json(&updated)})))
}

async fn rotate_key(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    if bool_field(&body, &["confirm"])? != Some(true) {
        return Err(ApiError::InvalidRequest(
            "rotating the key stops the old one at once; send {\"confirm\": true}".into(),
        ));
    }
    let (updated, key) = service::rotate_key(&state.platform, &user, &agent).await?;
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
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let names = ["monthly_budget_cents", "monthly_limit_cents"];
    // Here null is meaningful ("no cap"), so presence is checked first.
    if !names.iter().any(|n| body.contains_key(*n)) {
        return Err(ApiError::Unprocessable(
            "invalid field monthly_budget_cents: required (an integer, or null for no cap)".into(),
        ));
    }
    let cap = cents_field(&body, &names)?;
    let updated = service::set_budget(&state.platform, &user, &agent, cap).await?;
    Ok(AxumJson(json!({"agent": agent_json(&updated)})))
}

async fn enable_service(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let raw_service = string_field(&body, &["service_id", "service"], 100)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field service_id: required".into()))?;
    let service_id = raw_service
        .strip_prefix("svc_")
        .unwrap_or(&raw_service)
        .to_owned();
    let known = resolve::operations_of(
        &state.platform,
        &OrgId::from(&agent.agent().org_id),
        &service_id,
    )
    .await?
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
        if !known.iter().any(|k| k == op) {
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
    let enable = EnableService {
        service_id: service_id.clone(),
        operations,
        settings,
    };
    let bindings = service::enable_service(&state.platform, &user, &agent, enable).await?;
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
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let raw = q
        .service_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("service_id query parameter is required".into()))?;
    let service_id = raw.strip_prefix("svc_").unwrap_or(&raw).to_owned();
    let removed =
        service::disable_service(&state.platform, &user, &agent, service_id.clone()).await?;
    Ok(AxumJson(
        json!({"ok": true, "removed": removed, "service_id": service_id}),
    ))
}

async fn delete(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let removed = lifecycle::delete(&state.platform, &user, &agent).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "deleted": true,
        "id": agent.agent().id,
        "bindings_removed": removed,
    })))
}

async fn clone(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let name = string_field(&body, &["name"], NAME_MAX_BYTES)?;
    if let Some(name) = &name {
        text::name("name", name)?;
    }
    let (source, _) = service::get(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let (agent, key) = lifecycle::clone(&state.platform, &user, &source, name).await?;
    let bindings = state
        .platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    Ok(AxumJson(json!({
        "ok": true,
        "agent": agent_json(&agent),
        "api_key": key,
        "cloned_from": source.id,
        "services": bindings.iter().map(binding_json).collect::<Vec<_>>(),
    })))
}

/// The fields that may name the new owner, by id then by email.
const OWNER_ID_FIELDS: &[&str] = &[
    "new_owner_user_id",
    "new_owner_id",
    "owner_user_id",
    "to_user_id",
    "user_id",
];
const OWNER_EMAIL_FIELDS: &[&str] = &["new_owner_email", "email"];

async fn transfer(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    let to = match (
        string_field(&body, OWNER_ID_FIELDS, 64)?,
        string_field(&body, OWNER_EMAIL_FIELDS, 320)?,
    ) {
        (Some(id), _) => NewOwner::UserId(id),
        (None, Some(email)) => NewOwner::Email(email.trim().to_owned()),
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "invalid field new_owner_user_id: required (a member's user id), or new_owner_email"
                    .into(),
            ));
        }
    };
    let (moved, key) = lifecycle::transfer(&state.platform, &user, &agent, to).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "agent": agent_json(&moved),
        "api_key": key,
        "previous_owner_user_id": agent.agent().owner_user_id,
    })))
}

#[derive(serde::Deserialize)]
struct HealthQuery {
    window: Option<String>,
}

fn health_json(h: &Health) -> Value {
    json!({
        "agent_id": h.agent_id,
        "health": h.class.as_str(),
        "window": h.window,
        "error_rate": h.error_rate,
        "p50_latency_ms": h.p50_latency_ms,
        "p95_latency_ms": h.p95_latency_ms,
        "last_activity_at": h.last_activity_at.map(rfc3339),
        "requests": h.requests,
        "executed": h.executed,
        "failed": h.failed,
        "blocked": h.blocked,
    })
}

async fn health(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Query(q): Query<HealthQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let window = fitness::window(q.window.as_deref())?;
    let h = fitness::get(&state.platform, &user.0, &AgentId::from(agent_id), window).await?;
    Ok(AxumJson(health_json(&h)))
}

async fn fleet_health(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<HealthQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let window = fitness::window(q.window.as_deref())?;
    let fleet = fitness::fleet(&state.platform, &user.0, window).await?;
    let mut counts = json!({"healthy": 0, "degraded": 0, "failing": 0, "idle": 0});
    let mut agents = Vec::with_capacity(fleet.len());
    for (agent, h) in &fleet {
        if let Some(n) = counts.get_mut(h.class.as_str()) {
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
        let mut row = health_json(h);
        row["name"] = json!(agent.name);
        row["status"] = json!(agent.status.as_str());
        agents.push(row);
    }
    counts["total"] = json!(fleet.len());
    Ok(AxumJson(
        json!({"agents": agents, "counts": counts, "window": window.0}),
    ))
}

#[derive(serde::Deserialize)]
struct ActivityParams {
    limit: Option<String>,
    cursor: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    verify: Option<String>,
}

/// The sections `type` may name (comma-separated); all of them by default.
const SECTIONS: &[&str] = &["audit", "service_requests", "delegations", "stats"];

fn request_json(r: &RequestSample) -> Value {
    json!({
        "id": r.id,
        "service": r.service,
        "operation": r.operation,
        "status": r.status,
        "reason_code": r.reason_code,
        "cost_cents": r.cost.get(),
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
    })
}

async fn activity(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Query(q): Query<ActivityParams>,
) -> Result<AxumJson<Value>, ApiError> {
    let sections: Vec<&str> = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        None => SECTIONS.to_vec(),
        Some(raw) => raw
            .split(',')
            .map(|k| {
                SECTIONS
                    .iter()
                    .copied()
                    .find(|s| *s == k.trim())
                    .ok_or_else(|| {
                        ApiError::InvalidRequest(format!(
                            "type must name sections among {}",
                            SECTIONS.join(", ")
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let verify = match q.verify.as_deref() {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(_) => return Err(ApiError::InvalidRequest("verify must be 1 or 0".into())),
    };
    let query = ledger::ActivityQuery {
        limit: super::audit_logs::parse_limit(q.limit.as_deref())?,
        before_seq: q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(super::audit_logs::decode_cursor)
            .transpose()?,
    };
    let user = user.0;
    let act = ledger::get(&state.platform, &user, &AgentId::from(agent_id), query).await?;
    let show = |s: &str| sections.contains(&s);
    let (logs, next) = if show("audit") {
        let next = if act.more {
            act.entries
                .last()
                .map(|e| super::audit_logs::encode_cursor(e.seq))
        } else {
            None
        };
        (
            act.entries
                .iter()
                .map(super::audit_logs::row)
                .collect::<Vec<_>>(),
            next,
        )
    } else {
        (Vec::new(), None)
    };
    let spend = &act.spend;
    let mut out = json!({
        "agent": {"id": act.agent.id, "name": act.agent.name, "status": act.agent.status.as_str()},
        "logs": logs,
        "nextCursor": next,
        "hasMore": next.is_some(),
    });
    if show("service_requests") {
        out["service_requests"] = act.requests.iter().map(request_json).collect();
    }
    if show("delegations") {
        out["delegations"] = act
            .delegations
            .iter()
            .map(|t| super::delegation::activity_json(t, &act.agent.id))
            .collect();
    }
    if show("stats") {
        out["stats"] = json!({
            "requests": spend.requests,
            "executed": spend.executed,
            "blocked": spend.blocked,
            "failed": spend.failed,
            "total_spent_cents": spend.total.get(),
            "month_spent_cents": spend.month.get(),
            "monthly_budget_cents": act.agent.monthly_budget.map(Cents::get),
            "last_activity_at": spend.last_request_at.map(rfc3339),
        });
    }
    if verify {
        let report = state
            .sealer
            .verify(state.platform.stores.governance.as_ref())
            .await
            .map_err(super::admin::audit_error)?;
        // The chain holds every organisation's entries: the answer says
        // whether it holds, and where it breaks by seq alone, never whose
        // entry broke.
        out["verification"] = json!({
            "ok": report.ok(),
            "scope": "chain",
            "entries_checked": report.entries_checked,
            "agent_entries_on_page": act.entries.len(),
            "keyed": report.keyed,
            "checkpoints_checked": report.checkpoints_checked,
            "first_break_seq": report.first_break.as_ref().map(|b| b.seq),
        });
    }
    Ok(AxumJson(out))
}

fn skills_json(agent: &Agent, bindings: &[Binding], granted: &[crate::store::Workflow]) -> Value {
    let mut services: Vec<Value> = Vec::new();
    for b in bindings {
        let op = b.operation.clone();
        match services
            .iter_mut()
            .find(|s| s["service_id"] == b.service_id.as_str())
        {
            Some(s) => {
                if let Some(ops) = s["operations"].as_array_mut() {
                    ops.push(json!(op));
                }
            }
            None => services.push(json!({
                "type": "service",
                "service_id": b.service_id,
                "operations": [op],
            })),
        }
    }
    json!({
        "agent_id": agent.id,
        "skills": services,
        "services": services,
        "workflows": granted.iter().map(|w| json!({
            "type": "workflow",
            "workflow_id": w.id,
            "name": w.name,
            "description": w.description,
            "skill": "run_workflow",
        })).collect::<Vec<_>>(),
    })
}

/// The workflows granted to `agent`.
async fn granted(state: &AppState, agent: &Agent) -> Result<Vec<crate::store::Workflow>, ApiError> {
    Ok(state
        .platform
        .stores
        .workflows
        .granted_workflows(
            &crate::ids::OrgId::from(&agent.org_id),
            &AgentId::from(&agent.id),
        )
        .await?)
}

async fn skills(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (agent, bindings) =
        service::get(&state.platform, &user.0, &AgentId::from(agent_id)).await?;
    let granted = granted(&state, &agent).await?;
    Ok(AxumJson(skills_json(&agent, &bindings, &granted)))
}

#[derive(serde::Deserialize)]
struct RemoveSkill {
    workflow_id: Option<String>,
    service_id: Option<String>,
}

async fn remove_skill(
    State(state): State<AppState>,
    user: UserAuth,
    Path(agent_id): Path<String>,
    Query(q): Query<RemoveSkill>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let agent = service::manageable(&state.platform, &user, &AgentId::from(agent_id)).await?;
    if let Some(workflow) = q.workflow_id.filter(|w| !w.is_empty()) {
        crate::domains::workflows::service::set_grant(
            &state.platform,
            &user,
            &workflow,
            &agent.agent().id,
            false,
        )
        .await?;
        let bindings = state
            .platform
            .stores
            .agents
            .bindings(&AgentId::from(&agent.agent().id))
            .await?;
        let granted = granted(&state, agent.agent()).await?;
        let mut out = skills_json(agent.agent(), &bindings, &granted);
        out["ok"] = json!(true);
        out["removed"] = json!(workflow);
        return Ok(AxumJson(out));
    }
    let raw = q.service_id.filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::InvalidRequest("workflow_id (or service_id) query parameter is required".into())
    })?;
    let service_id = raw.strip_prefix("svc_").unwrap_or(&raw).to_owned();
    let removed =
        service::disable_service(&state.platform, &user, &agent, service_id.clone()).await?;
    let bindings = state
        .platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.agent().id))
        .await?;
    let granted = granted(&state, agent.agent()).await?;
    let mut out = skills_json(agent.agent(), &bindings, &granted);
    out["ok"] = json!(true);
    out["removed"] = json!(removed);
    Ok(AxumJson(out))
}
