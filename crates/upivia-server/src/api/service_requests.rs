//! `POST /service-requests` (the governed pipeline) and `GET
//! /service-requests/{id}`. Agents see only their own requests, and the
//! refusals they were answered (`rfs_…` ids, decoded, never stored).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::extract::{AgentAuth, Json};
use crate::governance::pipeline::{self, Submission};
use crate::governance::{outcome, refusals};
use crate::ids::RequestId;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/service-requests", post(create))
        .route("/service-requests/{request_id}", get(fetch))
}

#[derive(Deserialize)]
struct CreateServiceRequest {
    service: String,
    operation: String,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    AgentAuth(agent): AgentAuth,
    headers: HeaderMap,
    Json(body): Json<CreateServiceRequest>,
) -> Result<Response, ApiError> {
    let header_key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::InvalidRequest("Idempotency-Key must be visible ASCII".into())
                })?
                .to_owned(),
        ),
        None => None,
    };
    // The SDK sends the key twice; if they disagree the request is ambiguous.
    let idempotency_key = match (header_key, body.idempotency_key) {
        (Some(h), Some(b)) if h != b => {
            return Err(ApiError::InvalidRequest(
                "the Idempotency-Key header and the body's idempotency_key differ".into(),
            ));
        }
        (Some(h), _) => Some(h),
        (None, b) => b,
    };
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
    let answer = pipeline::submit(
        &state.platform,
        &agent,
        Submission {
            service: body.service,
            operation: body.operation,
            payload,
            metadata: body.metadata,
            idempotency_key,
            require_approval: false,
        },
    )
    .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, axum::Json(answer.body)).into_response();
    if answer.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

async fn fetch(
    State(state): State<AppState>,
    AgentAuth(agent): AgentAuth,
    Path(request_id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    if request_id.starts_with(refusals::ID_PREFIX) {
        return refusals::decode_id(&request_id, &agent.id)
            .map(|refusal| axum::Json(refusals::render(&refusal, &agent.id)))
            .ok_or(ApiError::NotFound("service request"));
    }
    let request = state
        .platform
        .stores
        .governance
        .request(&RequestId::from(&request_id))
        .await?
        .filter(|r| r.agent_id == agent.id)
        .ok_or(ApiError::NotFound("service request"))?;
    Ok(axum::Json(outcome::render(&request)))
}
