//! `GET /services`: the catalog. Anyone sees the built-ins; an
//! organisation's caller (cookie, token or agent key) also sees which
//! provider its keys reach and the organisation's private services.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, MaybeCaller};
use crate::catalog::{Catalog, OperationSpec};
use crate::governance::resolve::custom_spec;
use crate::ids::OrgId;
use crate::model::KeyMode;
use crate::providers::Providers;
use crate::providers::custom::NAME as CUSTOM_PROVIDER;
use crate::store::CustomOperation;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/services", get(list))
}

/// `provider` is what a key of `mode` reaches (`sandbox` unless a real one
/// is configured for live keys; test keys always reach the sandbox).
fn operation_json(op: &OperationSpec, provider: &str) -> Value {
    json!({
        "id": format!("op_{}_{}", op.service, op.name),
        "name": op.name,
        "full_name": op.full_name(),
        "description": op.description,
        "base_price_cents": op.base_price_cents.get(),
        "pricing_type": op.pricing.as_str(),
        "input_schema": op.input_schema,
        "output_schema": op.output_schema,
        "asynchronous": op.asynchronous,
        "provider": provider,
    })
}

pub(super) fn catalog_json(catalog: &Catalog, providers: &Providers, mode: KeyMode) -> Value {
    let services: Vec<Value> = catalog
        .services()
        .iter()
        .map(|s| {
            let operations: Vec<Value> = s
                .operations
                .iter()
                .map(|op| {
                    let provider = match op.service.as_ref() {
                        _ if crate::governance::internal_ops::handles(&op.service, &op.name)
                            || op.service == "platform" =>
                        {
                            crate::governance::internal_ops::PROVIDER
                        }
                        _ => providers
                            .for_operation(op, mode)
                            .map_or("none", |p| p.name()),
                    };
                    operation_json(op, provider)
                })
                .collect();
            json!({
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "private": false,
                "operations": operations,
            })
        })
        .collect();
    json!({ "services": services })
}

/// The organisation's private services, one entry per service with its
/// operations in name order (the store lists them sorted).
fn private_json(custom: &[CustomOperation]) -> Vec<Value> {
    let mut services: Vec<Value> = Vec::new();
    let mut current: Option<&str> = None;
    for op in custom {
        if current != Some(op.service.as_str()) {
            current = Some(op.service.as_str());
            services.push(json!({
                "id": op.service,
                "name": op.service,
                "description": "",
                "private": true,
                "operations": [],
            }));
        }
        if let Some(Value::Array(ops)) = services.last_mut().map(|s| &mut s["operations"]) {
            ops.push(operation_json(&custom_spec(op), CUSTOM_PROVIDER));
        }
    }
    services
}

async fn list(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
) -> Result<AxumJson<Value>, ApiError> {
    let platform = &state.platform;
    let (org, mode) = match &caller {
        None => {
            return Ok(AxumJson(catalog_json(
                &platform.catalog,
                &platform.providers,
                KeyMode::Live,
            )));
        }
        Some(Caller::Agent(agent)) => (OrgId::from(&agent.org_id), agent.key_mode),
        Some(Caller::User(user)) => (OrgId::from(&user.org_id), KeyMode::Live),
    };
    let mut answer = catalog_json(&platform.catalog, &platform.providers, mode);
    let custom = platform
        .stores
        .custom_services
        .custom_operations(&org)
        .await?;
    if let Some(Value::Array(services)) = answer.get_mut("services") {
        services.extend(private_json(&custom));
    }
    Ok(AxumJson(answer))
}
