//! Cookie sessions: login with email and password, logout, whoami.

use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, UserAuth, session_cookie};
use crate::auth::{self, SESSION_COOKIE};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/whoami", get(whoami))
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

fn cookie(value: &str, max_age: StdDuration) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    ))
    .map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn login(
    State(state): State<AppState>,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let found = state
        .platform
        .store
        .user_by_email(body.email.trim())
        .await?;
    // Verify against a dummy hash when the user is unknown, so timing does
    // not reveal which emails exist.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = body.password.clone();
    let stored = match &found {
        Some((hash, _)) => hash.clone(),
        None => DUMMY
            .get_or_init(|| auth::hash_password("not a real password").unwrap_or_default())
            .clone(),
    };
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let principal = match found {
        Some((_, principal)) if ok => principal,
        _ => return Err(ApiError::Unauthenticated("wrong email or password")),
    };
    let token = auth::new_session_token();
    let now = state.platform.clock.now();
    let ttl = state.config.session_ttl;
    let expires = now + time::Duration::try_from(ttl).unwrap_or(time::Duration::WEEK);
    state
        .platform
        .store
        .create_session(&principal, &auth::hash_token(&token), now, expires)
        .await?;
    let mut response = AxumJson(json!({
        "ok": true,
        "user": {"id": principal.user_id, "email": principal.email, "role": principal.role.as_str()},
        "org_id": principal.org_id,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&token, ttl)?);
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _user: UserAuth,
) -> Result<Response, ApiError> {
    let token = session_cookie(&headers);
    if let Some(token) = token {
        state
            .platform
            .store
            .delete_session(&auth::hash_token(token))
            .await?;
    }
    let mut response = AxumJson(json!({"ok": true})).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie("", StdDuration::ZERO)?);
    Ok(response)
}

async fn whoami(user: UserAuth) -> AxumJson<Value> {
    let u = user.0;
    AxumJson(json!({
        "email": u.email,
        "user": {"id": u.user_id, "email": u.email, "role": u.role.as_str()},
        "org_id": u.org_id,
    }))
}
