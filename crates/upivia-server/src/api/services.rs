//! `GET /services`: the public catalog.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Value, json};

use super::AppState;
use crate::catalog::{Catalog, OperationSpec};
use crate::model::KeyMode;
use crate::providers::Providers;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/services", get(list))
}

/// `provider` is what a live key reaches (`sandbox` unless a real one is
/// configured); test keys always reach the sandbox.
pub(super) fn operation_json(op: &OperationSpec, providers: &Providers) -> Value {
    let provider = providers
        .for_operation(op, KeyMode::Live)
        .map_or("none", |p| p.name());
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

pub(super) fn catalog_json(catalog: &Catalog, providers: &Providers) -> Value {
    let services: Vec<Value> = catalog
        .services()
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "operations": s.operations.iter().map(|op| operation_json(op, providers)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "services": services })
}

async fn list(State(state): State<AppState>) -> AxumJson<Value> {
    AxumJson(catalog_json(
        &state.platform.catalog,
        &state.platform.providers,
    ))
}
