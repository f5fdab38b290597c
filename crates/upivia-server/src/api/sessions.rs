//! Cookie sessions: login with email and password (throttled, hashed in a
//! bounded pool), logout, whoami, the session's CSRF token, and changing
//! one's password. The rules are `domains::identity::service`'s; this
//! module reads requests and sets the cookie.

use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientIp, Json, UserAuth, check_csrf, session_cookie};
use crate::auth::{self, SESSION_COOKIE};
use crate::domains::identity::service;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/csrf", get(csrf))
        .route("/auth/password", post(change_password))
        .route("/whoami", get(whoami))
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

/// `Secure` whenever the public URL is https, so the browser never sends
/// the cookie over plain http to the same host.
fn cookie(state: &AppState, value: &str, max_age: StdDuration) -> Result<HeaderValue, ApiError> {
    let secure = if auth::csrf::origin_of(&state.base_url).starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    ))
    .map_err(|e| ApiError::Internal(Box::new(e)))
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    check_csrf(&headers, &state.base_url, None)?;
    let ttl = state.config.session_ttl;
    let login = service::Login {
        email: body.email,
        password: body.password,
        address: ip,
        ttl,
    };
    let session = service::login(&state.platform, state.logins(), login).await?;
    let principal = &session.principal;
    let mut response = AxumJson(json!({
        "ok": true,
        "user": {"id": principal.user_id, "email": principal.email, "role": principal.role.as_str()},
        "org_id": principal.org_id,
        "csrf_token": auth::csrf_token(&session.token),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&state, &session.token, ttl)?);
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _user: UserAuth,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers) {
        service::logout(&state.platform, token).await?;
    }
    let mut response = AxumJson(json!({"ok": true})).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&state, "", StdDuration::ZERO)?);
    Ok(response)
}

/// The session that authenticated this request, if a cookie did (a bearer
/// credential takes precedence, as in credential resolution).
fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(AUTHORIZATION) {
        return None;
    }
    session_cookie(headers)
}

/// The CSRF token of the caller's session, for clients that cannot send
/// JSON (the same value login returned).
async fn csrf(headers: HeaderMap, _user: UserAuth) -> Result<AxumJson<Value>, ApiError> {
    let token = cookie_session(&headers).ok_or_else(|| {
        ApiError::InvalidRequest(
            "CSRF tokens belong to cookie sessions; a bearer credential needs none".into(),
        )
    })?;
    Ok(AxumJson(json!({"csrf_token": auth::csrf_token(token)})))
}

#[derive(Deserialize)]
struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password (see `domains::identity::service`);
/// a cookie session's own session stays valid.
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    user: UserAuth,
    Json(body): Json<ChangePassword>,
) -> Result<AxumJson<Value>, ApiError> {
    let change = service::NewPassword {
        current_password: body.current_password,
        new_password: body.new_password,
        address: ip,
        keep_session: cookie_session(&headers).map(str::to_owned),
        data_dir: state.config.data_dir.clone(),
    };
    let ended = service::change_password(&state.platform, state.logins(), &user.0, change).await?;
    Ok(AxumJson(json!({"ok": true, "sessions_revoked": ended})))
}

/// Who the caller is, in which workspace, by which credential: `email`
/// (what the terminal client reads) and the rest for everyone else.
async fn whoami(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let u = user.0;
    let org = state
        .platform
        .stores
        .identity
        .org(&crate::ids::OrgId::from(u.org_id.clone()))
        .await?;
    let credential = if cookie_session(&headers).is_some() {
        "session"
    } else {
        "pat"
    };
    Ok(AxumJson(json!({
        "email": u.email,
        "user": {"id": u.user_id, "email": u.email, "role": u.role.as_str()},
        "role": u.role.as_str(),
        "org_id": u.org_id,
        "workspace": {"id": u.org_id, "name": org.map(|o| o.name)},
        "credential": credential,
    })))
}
