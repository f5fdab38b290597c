//! Spawn (API.md §2.6): `POST /agents/spawn` with the parent's key creates
//! a bounded child and answers its key once; `GET /agents/spawn?operations=`
//! estimates what a child with those operations needs.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::agents::agent_json;
use super::error::ApiError;
use super::extract::{AgentAuth, Json, Query};
use super::fields::{MAX_MOVE_CENTS, field, string};
use super::text;
use crate::domains::agents::spawn::{self, SpawnRequest};
use crate::money::Cents;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/agents/spawn", get(estimate).post(create))
}

const DESCRIPTION_MAX_BYTES: usize = 4096;
const PROFILE_MAX_BYTES: usize = 200;
/// Operations one spawn (or estimate) may name.
const MAX_OPERATIONS: usize = 100;
const OPERATION_MAX_BYTES: usize = 200;

fn services(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let Some(Value::Array(items)) = field(body, "services") else {
        return Err(ApiError::Unprocessable(
            "invalid field services: required, a list of operation names such as email.send".into(),
        ));
    };
    if items.is_empty() || items.len() > MAX_OPERATIONS {
        return Err(ApiError::Unprocessable(format!(
            "invalid field services: from 1 to {MAX_OPERATIONS} entries"
        )));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if !s.is_empty() && s.len() <= OPERATION_MAX_BYTES => Ok(s.clone()),
            _ => Err(ApiError::Unprocessable(format!(
                "invalid field services: each entry is an operation name of 1 to \
                 {OPERATION_MAX_BYTES} bytes"
            ))),
        })
        .collect()
}

fn budget(body: &Map<String, Value>) -> Result<Cents, ApiError> {
    match field(body, "budget_cents") {
        None => Ok(Cents::ZERO),
        Some(v) => v
            .as_i64()
            .filter(|n| (0..=MAX_MOVE_CENTS).contains(n))
            .map(Cents::new)
            .ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "invalid field budget_cents: an integer number of cents from 0 to {MAX_MOVE_CENTS}"
                ))
            }),
    }
}

async fn create(
    State(state): State<AppState>,
    AgentAuth(parent): AgentAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let name = string(&body, "name", 4 * text::NAME_MAX_CHARS)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field name: required".into()))?;
    text::name("name", &name)?;
    let description = string(&body, "description", DESCRIPTION_MAX_BYTES)?;
    let mut profile = Map::new();
    for key in ["category", "icon"] {
        if let Some(value) = string(&body, key, PROFILE_MAX_BYTES)? {
            profile.insert(key.to_owned(), Value::String(value));
        }
    }
    let request = SpawnRequest {
        name,
        description,
        services: services(&body)?,
        budget: budget(&body)?,
        profile,
    };
    let (child, key) = spawn::spawn(&state.platform, &parent, request).await?;
    let mut agent = agent_json(&child);
    if let Value::Object(o) = &mut agent {
        o.insert(
            "budget_cents".into(),
            child.monthly_budget.map(Cents::get).into(),
        );
    }
    Ok(AxumJson(
        json!({"ok": true, "agent": agent, "api_key": key}),
    ))
}

#[derive(Deserialize)]
struct EstimateQuery {
    operations: Option<String>,
}

async fn estimate(
    State(state): State<AppState>,
    AgentAuth(parent): AgentAuth,
    Query(q): Query<EstimateQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let names: Vec<String> = q
        .operations
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() || names.len() > MAX_OPERATIONS {
        return Err(ApiError::Unprocessable(format!(
            "invalid query operations: from 1 to {MAX_OPERATIONS} comma-separated operation names"
        )));
    }
    let (total, lines) = spawn::estimate(&state.platform, &parent, &names).await?;
    let breakdown: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "operation": l.operation,
                "base_price_cents": l.base_price_cents.get(),
                "pricing": l.pricing,
                "enabled_for_parent": l.enabled_for_parent,
            })
        })
        .collect();
    Ok(AxumJson(json!({
        "estimated_budget_cents": total.get(),
        "breakdown": breakdown,
        "parent_agent_id": parent.id,
    })))
}
