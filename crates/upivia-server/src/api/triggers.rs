//! Triggers (API.md §2.13, §1.12): create (the secret shown once), list
//! with a cursor, get, update (`disabled`, `schedule_expr`,
//! `payload_template` only), delete (disable; `purge=true` where the
//! server allows it), and the credential-free, HMAC-signed fire.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::{field, string};
use crate::clock::rfc3339;
use crate::domains::triggers::fire::{self, FireError};
use crate::domains::triggers::service::{self, CreateTrigger, Deleted, TriggerChange};
use crate::store::{Trigger, TriggerKind};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/triggers", get(list).post(create))
        .route(
            "/triggers/{trigger_id}",
            get(fetch).patch(update).delete(remove),
        )
        .route("/triggers/{trigger_id}/fire", post(fire_route))
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
/// The largest payload template, serialised.
const TEMPLATE_MAX_BYTES: usize = 64 * 1024;

fn fire_url(base: &str, t: &Trigger) -> Option<String> {
    (t.kind == TriggerKind::Webhook).then(|| format!("{base}/api/v1/triggers/{}/fire", t.id))
}

fn trigger_json(base: &str, t: &Trigger) -> Value {
    json!({
        "id": t.id,
        "agent_id": t.agent_id,
        "kind": t.kind.as_str(),
        "operation": format!("{}.{}", t.service, t.operation),
        "schedule_expr": t.schedule_expr,
        "timezone": t.timezone,
        "payload_template": t.payload_template,
        "disabled": t.disabled,
        "fire_url": fire_url(base, t),
        "next_run_at": t.next_run_at.filter(|_| !t.disabled).map(rfc3339),
        "last_fired_at": t.last_fired_at.map(rfc3339),
        "last_request_id": t.last_request_id,
        "last_dispatch_status": t.last_dispatch_status,
        "fire_count": t.fire_count,
        "created_by": t.created_by,
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
    })
}

fn template(body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match field(body, "payload_template") {
        None => Ok(None),
        Some(v @ Value::Object(_)) => {
            let size = v.to_string().len();
            if size > TEMPLATE_MAX_BYTES {
                return Err(ApiError::Unprocessable(format!(
                    "invalid field payload_template: at most {TEMPLATE_MAX_BYTES} bytes"
                )));
            }
            if v.to_string().contains("\\u0000") {
                return Err(ApiError::Unprocessable(
                    "invalid field payload_template: must not contain NUL characters".into(),
                ));
            }
            Ok(Some(v.clone()))
        }
        Some(_) => Err(ApiError::Unprocessable(
            "invalid field payload_template: must be an object".into(),
        )),
    }
}

async fn create(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let required = |name: &str, v: Option<String>| {
        v.ok_or_else(|| ApiError::Unprocessable(format!("invalid field {name}: required")))
    };
    let agent_id = required("agent_id", string(&body, "agent_id", 100)?)?;
    let kind_raw = required("kind", string(&body, "kind", 16)?)?;
    let kind = TriggerKind::parse(&kind_raw).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "invalid field kind: must be webhook or cron, got {kind_raw:?}"
        ))
    })?;
    let c = CreateTrigger {
        agent_id,
        kind,
        operation: required("operation", string(&body, "operation", 200)?)?,
        payload_template: template(&body)?.unwrap_or_else(|| json!({})),
        schedule_expr: string(&body, "schedule_expr", 200)?,
        timezone: string(&body, "timezone", 64)?,
    };
    let (trigger, secret) = service::create(&state.platform, &user, c).await?;
    Ok(AxumJson(json!({
        "trigger": trigger_json(&state.base_url, &trigger),
        "secret": secret.expose_secret(),
        "fire_url": fire_url(&state.base_url, &trigger),
    })))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("trg:{id}"))
}

fn decode_cursor(raw: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("trg:").map(str::to_owned))
        .filter(|id| id.starts_with("trg_"))
        .ok_or_else(|| ApiError::InvalidRequest("cursor is not one this server issued".into()))
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!("limit must be 1 to {MAX_LIMIT}, got {raw:?}"))
            })?,
    };
    let before = q.cursor.as_deref().map(decode_cursor).transpose()?;
    // One more than asked tells whether another page follows.
    let mut page = service::list(&state.platform, &user, before, limit + 1).await?;
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    let next = if more {
        page.last().map(|t| encode_cursor(&t.id))
    } else {
        None
    };
    Ok(AxumJson(json!({
        "triggers": page.iter().map(|t| trigger_json(&state.base_url, t)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn fetch(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let trigger = service::get(&state.platform, &user, &id).await?;
    Ok(AxumJson(
        json!({"trigger": trigger_json(&state.base_url, &trigger)}),
    ))
}

const MUTABLE: [&str; 3] = ["disabled", "schedule_expr", "payload_template"];

async fn update(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(key) = body.keys().find(|k| !MUTABLE.contains(&k.as_str())) {
        return Err(ApiError::InvalidRequest(format!(
            "{key} cannot be changed: only disabled, schedule_expr and payload_template can \
             (delete and recreate the trigger for the rest)"
        )));
    }
    let disabled = match field(&body, "disabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field disabled: must be a boolean".into(),
            ));
        }
    };
    let change = TriggerChange {
        disabled,
        schedule_expr: string(&body, "schedule_expr", 200)?,
        payload_template: template(&body)?,
    };
    let trigger = service::update(&state.platform, &user, &id, change).await?;
    Ok(AxumJson(
        json!({"trigger": trigger_json(&state.base_url, &trigger)}),
    ))
}

#[derive(serde::Deserialize)]
struct DeleteQuery {
    purge: Option<String>,
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let purge = match q.purge.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::InvalidRequest(format!(
                "purge must be true or false, got {other:?}"
            )));
        }
    };
    match service::delete(
        &state.platform,
        &user,
        &id,
        purge,
        state.config.allow_trigger_purge,
    )
    .await?
    {
        Deleted::Disabled(t) => Ok(AxumJson(
            json!({"trigger": trigger_json(&state.base_url, &t), "deleted": false}),
        )),
        Deleted::Purged => Ok(AxumJson(json!({"deleted": true, "id": id}))),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn fire_route(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let delivery = header(&headers, "webhook-id").or_else(|| header(&headers, "idempotency-key"));
    let fired = fire::fire(
        &state.platform,
        &id,
        &body,
        header(&headers, "x-agentwallet-signature"),
        delivery,
    )
    .await
    .map_err(|e| match e {
        FireError::NotFound => ApiError::NotFound("trigger"),
        FireError::BadSignature => ApiError::BadSignature(e.to_string()),
        FireError::NotAWebhook => ApiError::BadRequest {
            code: "not_a_webhook",
            message: e.to_string(),
        },
        FireError::Disabled => ApiError::Conflict {
            code: "trigger_disabled",
            message: e.to_string(),
        },
        FireError::BadPayload => ApiError::InvalidRequest(e.to_string()),
        FireError::DeliveryMismatch => ApiError::Conflict {
            code: "idempotency_key_payload_mismatch",
            message: e.to_string(),
        },
        FireError::Store(s) => s.into(),
    })?;
    Ok((
        StatusCode::ACCEPTED,
        AxumJson(json!({
            "accepted": true,
            "dispatch_status": fired.status,
            "reason_code": fired.reason_code,
            "request_id": fired.request_id,
            "message": fired.message,
        })),
    ))
}
