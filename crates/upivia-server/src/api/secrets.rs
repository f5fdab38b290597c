//! Organisation secrets: `PUT /secrets/{name}` `{value}` writes the next
//! version, `GET /secrets` lists names, versions and times (never values),
//! `DELETE /secrets/{name}` removes one. Admins and the owner only.
//!
//! The webhook signing secret: `POST /webhooks/signing-secret` (the owner)
//! makes a new one and shows it in that answer only; `GET` (admins) says
//! whether one is set, its version and when it was made.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json as AxumJson, Router};
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, UserAuth};
use super::fields::field;
use crate::clock::rfc3339;
use crate::domains::secrets::service::{self, VALUE_MAX_BYTES};
use crate::domains::secrets::webhook_signing;
use crate::store::SecretMeta;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(list))
        .route("/secrets/{name}", put(write).delete(remove))
        .route(
            "/webhooks/signing-secret",
            get(signing_secret).post(rotate_signing_secret),
        )
}

fn meta_json(m: &SecretMeta) -> Value {
    json!({
        "name": m.name,
        "version": m.version,
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.updated_at),
    })
}

fn name_of(raw: &str) -> Result<&str, ApiError> {
    if service::valid_name(raw) {
        Ok(raw)
    } else {
        Err(ApiError::Unprocessable(
            "invalid secret name: a letter or _ first, then letters, digits, _, - or ., \
             at most 128 characters"
                .into(),
        ))
    }
}

async fn write(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    service::may_manage(&user.0)?;
    let name = name_of(&name)?;
    let value = match field(&body, "value") {
        Some(Value::String(v)) if !v.is_empty() && v.len() <= VALUE_MAX_BYTES => {
            SecretString::from(v.clone())
        }
        _ => {
            return Err(ApiError::Unprocessable(format!(
                "invalid field value: required, a string of 1 to {VALUE_MAX_BYTES} bytes"
            )));
        }
    };
    let meta = service::put(&state.platform, &user.0, name, value).await?;
    Ok(AxumJson(json!({"ok": true, "secret": meta_json(&meta)})))
}

async fn list(State(state): State<AppState>, user: UserAuth) -> Result<AxumJson<Value>, ApiError> {
    let secrets = service::list(&state.platform, &user.0).await?;
    Ok(AxumJson(json!({
        "secrets": secrets.iter().map(meta_json).collect::<Vec<_>>(),
    })))
}

async fn remove(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    service::may_manage(&user.0)?;
    let name = name_of(&name)?;
    service::delete(&state.platform, &user.0, name).await?;
    Ok(AxumJson(json!({"ok": true, "deleted": name})))
}

async fn signing_secret(
    State(state): State<AppState>,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let meta = webhook_signing::describe(&state.platform, &user.0).await?;
    Ok(AxumJson(match meta {
        Some(m) => json!({
            "configured": true,
            "version": m.version,
            "created_at": rfc3339(m.created_at),
            "rotated_at": rfc3339(m.updated_at),
        }),
        None => {
            json!({"configured": false, "version": null, "created_at": null, "rotated_at": null})
        }
    }))
}

async fn rotate_signing_secret(
    State(state): State<AppState>,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let rotated = webhook_signing::rotate(&state.platform, &user.0).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "secret": rotated.secret.expose_secret(),
        "version": rotated.meta.version,
        "rotated_at": rfc3339(rotated.meta.updated_at),
    })))
}
