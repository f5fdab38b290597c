//! Cookie sessions: login with email and password (throttled, hashed in a
//! bounded pool), logout, whoami, the session's CSRF token, and changing
//! one's password.

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
use crate::bootstrap;
use crate::governance::trail;
use crate::model::AuditEvent;
use crate::store::PasswordChange;

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
    let email = body.email.trim();
    let guard = state.logins();
    let clock = &state.platform.clock;
    guard.throttle.check(ip, email, clock.now())?;
    let slot = guard.passwords.slot().await?;
    // The wait for a slot may have been long: a lock set meanwhile applies.
    guard.throttle.check(ip, email, clock.now())?;
    let (stored, principal) = match state.platform.stores.identity.user_by_email(email).await? {
        Some((hash, principal)) => (Some(hash), Some(principal)),
        None => (None, None),
    };
    let ok = slot.verify(body.password, stored).await?;
    let principal = match principal {
        Some(principal) if ok => principal,
        _ => {
            guard.throttle.failed(ip, email, clock.now());
            return Err(ApiError::Unauthenticated("wrong email or password"));
        }
    };
    guard.throttle.succeeded(email);
    let token = auth::new_session_token();
    let now = clock.now();
    let ttl = state.config.session_ttl;
    let expires = now + time::Duration::try_from(ttl).unwrap_or(time::Duration::WEEK);
    state
        .platform
        .stores
        .identity
        .create_session(&principal, &auth::hash_token(&token), now, expires)
        .await?;
    let mut response = AxumJson(json!({
        "ok": true,
        "user": {"id": principal.user_id, "email": principal.email, "role": principal.role.as_str()},
        "org_id": principal.org_id,
        "csrf_token": auth::csrf_token(&token),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&state, &token, ttl)?);
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
            .stores
            .identity
            .delete_session(&auth::hash_token(token))
            .await?;
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

/// Checks the current password (throttled like a login), sets the new one,
/// ends the user's other sessions and, for the bootstrap owner, drops the
/// plaintext from the credentials file.
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    user: UserAuth,
    Json(body): Json<ChangePassword>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    auth::check_new_password(&body.new_password, &body.current_password, &user.email)
        .map_err(|rule| ApiError::Unprocessable(format!("invalid field new_password: {rule}")))?;
    let guard = state.logins();
    let clock = &state.platform.clock;
    guard.throttle.check(ip, &user.email, clock.now())?;
    let slot = guard.passwords.slot().await?;
    guard.throttle.check(ip, &user.email, clock.now())?;
    let (stored, _) = state
        .platform
        .stores
        .identity
        .user_by_email(&user.email)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let Some(new_hash) = slot
        .verify_and_hash(body.current_password, stored, body.new_password)
        .await?
    else {
        guard.throttle.failed(ip, &user.email, clock.now());
        return Err(ApiError::Forbidden(
            "current_password is not this user's password".into(),
        ));
    };
    guard.throttle.succeeded(&user.email);
    let keep_session = cookie_session(&headers).map(auth::hash_token);
    let via = if keep_session.is_some() {
        "session"
    } else {
        "token"
    };
    let now = clock.now();
    let ended = state
        .platform
        .stores
        .identity
        .change_password(PasswordChange {
            user_id: user.user_id.clone(),
            password_hash: new_hash,
            keep_session,
            now,
            audit: AuditEvent::new(
                &user.org_id,
                "user.password_changed",
                trail::user_actor(&user.user_id),
            )
            .with_details(json!({"user_id": user.user_id, "via": via})),
        })
        .await?;
    let data_dir = state.config.data_dir.clone();
    let email = user.email.clone();
    let forgot =
        tokio::task::spawn_blocking(move || bootstrap::forget_initial_password(&data_dir, &email))
            .await;
    match forgot {
        Ok(Ok(true)) => tracing::info!("removed the initial password from the credentials file"),
        Ok(Ok(false)) => {}
        // The password has changed; the file's copy no longer opens anything.
        Ok(Err(e)) => tracing::warn!(error = %e, "could not update the credentials file"),
        Err(e) => tracing::warn!(error = %e, "could not update the credentials file"),
    }
    Ok(AxumJson(json!({"ok": true, "sessions_revoked": ended})))
}

async fn whoami(user: UserAuth) -> AxumJson<Value> {
    let u = user.0;
    AxumJson(json!({
        "email": u.email,
        "user": {"id": u.user_id, "email": u.email, "role": u.role.as_str()},
        "org_id": u.org_id,
    }))
}
