//! `POST /simulations/policy-check` (API.md §2.22): what a request of an
//! agent would meet, judged by the pipeline's own steps
//! (`governance::simulate`) with nothing executed, held or recorded.

use axum::extract::State;
use axum::routing::post;
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, UserAuth};
use crate::domains::simulation::service;
use crate::governance::simulate::{Refusal, Simulation, Verdict};
use crate::ids::AgentId;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/simulations/policy-check", post(policy_check))
}

#[derive(Deserialize)]
struct PolicyCheck {
    agent_id: String,
    service: String,
    operation: String,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
}

async fn policy_check(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<PolicyCheck>,
) -> Result<AxumJson<Value>, ApiError> {
    // The shape rules of `POST /service-requests`, so both refuse alike.
    let payload = match body.payload {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field payload: must be an object".into(),
            ));
        }
    };
    if body
        .metadata
        .as_ref()
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(ApiError::Unprocessable(
            "invalid field metadata: must be an object or null".into(),
        ));
    }
    let simulation = Simulation {
        service: body.service,
        operation: body.operation,
        payload,
        metadata: body.metadata,
    };
    let verdict = service::policy_check(
        &state.platform,
        &user,
        &AgentId::from(body.agent_id),
        &simulation,
    )
    .await?;
    Ok(AxumJson(verdict_json(verdict)))
}

fn verdict_json(verdict: Verdict) -> Value {
    let reason_code = verdict.refusal.map(|refusal| match refusal {
        Refusal::Reason(reason) => reason.as_str(),
        // Refused before any outcome: the error code the request would get.
        Refusal::Error(error) => ApiError::from(error).code(),
    });
    let checks: Vec<Value> = verdict
        .checks
        .into_iter()
        .map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix}))
        .collect();
    json!({
        "decision": verdict.decision.as_str(),
        "reason_code": reason_code,
        "estimated_cost_cents": verdict.estimate.get(),
        "checks": checks,
    })
}
