//! Members, personal access tokens and workspaces over HTTP. The rules
//! (who may do what, the audit events) are `domains::identity::people`'s;
//! secrets (a new member's password, a new token) appear in the one
//! response that creates them and nowhere else.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, patch, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json, UserAuth, session_cookie};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::domains::identity::people::{self, Expiry, SwitchBy};
use crate::store::{MemberRecord, PatRecord, Workspace};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_members).post(add_member))
        .route(
            "/members/{user_id}",
            patch(change_role).delete(remove_member),
        )
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{token_id}", delete(revoke_token))
        .route("/workspaces", get(list_workspaces))
        .route("/workspaces/switch", post(switch_workspace))
}

/// An id from the path that no stored id can be (too long, or with
/// control characters, which PostgreSQL text cannot hold) is not found.
fn path_id(raw: &str, what: &'static str) -> Result<String, ApiError> {
    if raw.is_empty() || raw.len() > 64 || raw.chars().any(char::is_control) {
        return Err(ApiError::NotFound(what));
    }
    Ok(raw.to_owned())
}

fn member_json(m: &MemberRecord) -> Value {
    json!({
        "id": m.user_id,
        "user_id": m.user_id,
        "email": m.email,
        "role": m.role.as_str(),
        "joined_at": rfc3339(m.joined_at),
    })
}

async fn list_members(
    State(state): State<AppState>,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let members = people::list_members(&state.platform, &user.0).await?;
    Ok(AxumJson(json!({
        "members": members.iter().map(member_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct AddMember {
    email: String,
    #[serde(default)]
    role: Option<String>,
}

async fn add_member(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Json(body): Json<AddMember>,
) -> Result<AxumJson<Value>, ApiError> {
    let role = people::parse_role(body.role.as_deref().unwrap_or("member"))?;
    let added = people::add_member(&state.platform, &admin, &body.email, role).await?;
    let existing = added.password.is_none();
    Ok(AxumJson(json!({
        "member": member_json(&added.member),
        // Shown this once; the store keeps its Argon2id hash only.
        "password": added.password.map(|p| p.0),
        "existing_user": existing,
    })))
}

/// `{role}`; a member of another organisation (or none) is not found
/// whatever the body says.
async fn change_role(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(user_id): Path<String>,
    Json(body): Json<Value>,
) -> Result<AxumJson<Value>, ApiError> {
    let user_id = path_id(&user_id, "member")?;
    people::member(&state.platform, &admin, &user_id).await?;
    let role = match body.get("role") {
        Some(Value::String(role)) => people::parse_role(role)?,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field role: must be a string".into(),
            ));
        }
        None => {
            return Err(ApiError::Unprocessable(
                "invalid field role: required".into(),
            ));
        }
    };
    let member = people::change_role(&state.platform, &admin, &user_id, role).await?;
    Ok(AxumJson(json!({"member": member_json(&member)})))
}

async fn remove_member(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(user_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let user_id = path_id(&user_id, "member")?;
    let removed = people::remove_member(&state.platform, &admin, &user_id).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "user_id": user_id,
        "sessions_ended": removed.sessions,
        "tokens_revoked": removed.pats,
    })))
}

fn token_json(t: &PatRecord, now: time::OffsetDateTime) -> Value {
    let active = t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now);
    json!({
        "id": t.id,
        "name": t.name,
        "created_at": rfc3339(t.created_at),
        "expires_at": t.expires_at.map(rfc3339),
        "revoked_at": t.revoked_at.map(rfc3339),
        "active": active,
    })
}

#[derive(Deserialize)]
struct CreateToken {
    name: String,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    expires_in_days: Option<i64>,
}

async fn create_token(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<CreateToken>,
) -> Result<AxumJson<Value>, ApiError> {
    let expiry = match (body.expires_at, body.expires_in_days) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable(
                "invalid field expires_at: send expires_at or expires_in_days, not both".into(),
            ));
        }
        (Some(at), None) => Expiry::At(parse_rfc3339(&at).ok_or_else(|| {
            ApiError::Unprocessable(
                "invalid field expires_at: an RFC 3339 time, like 2030-01-01T00:00:00Z".into(),
            )
        })?),
        (None, Some(days)) => Expiry::InDays(days),
        (None, None) => Expiry::Never,
    };
    let (record, secret) = people::create_pat(&state.platform, &user.0, &body.name, expiry).await?;
    Ok(AxumJson(json!({
        "token": token_json(&record, state.platform.clock.now()),
        // Shown this once; the store keeps its SHA-256 hash only.
        "secret": secret.0,
    })))
}

async fn list_tokens(
    State(state): State<AppState>,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let tokens = people::list_pats(&state.platform, &user.0).await?;
    let now = state.platform.clock.now();
    Ok(AxumJson(json!({
        "tokens": tokens.iter().map(|t| token_json(t, now)).collect::<Vec<_>>(),
    })))
}

async fn revoke_token(
    State(state): State<AppState>,
    user: UserAuth,
    Path(token_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let token_id = path_id(&token_id, "token")?;
    let record = people::revoke_pat(&state.platform, &user.0, &token_id).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "token": token_json(&record, state.platform.clock.now()),
    })))
}

fn workspace_json(w: &Workspace, active_org: &str) -> Value {
    json!({
        "id": w.org_id,
        "name": w.name,
        "role": w.role.as_str(),
        "active": w.org_id == active_org,
        "joined_at": rfc3339(w.joined_at),
    })
}

async fn list_workspaces(
    State(state): State<AppState>,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let all = people::workspaces(&state.platform, &user.0).await?;
    let org = &user.0.org_id;
    Ok(AxumJson(json!({
        "workspaces": all.iter().map(|w| workspace_json(w, org)).collect::<Vec<_>>(),
        "active_workspace_id": org,
    })))
}

/// The session that authenticated the request, when a cookie did (a
/// bearer credential takes precedence, as in credential resolution).
fn cookie_session(headers: &HeaderMap) -> Option<&str> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        return None;
    }
    session_cookie(headers)
}

/// `{orgId}` (the SDK) or `{workspace_id}` (the terminal client); `org_id`
/// and `id` too.
async fn switch_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: UserAuth,
    Json(body): Json<Value>,
) -> Result<AxumJson<Value>, ApiError> {
    let org_id = ["orgId", "workspace_id", "org_id", "workspaceId", "id"]
        .iter()
        .find_map(|k| body.get(*k))
        .ok_or_else(|| ApiError::Unprocessable("missing field orgId (or workspace_id)".into()))?
        .as_str()
        .ok_or_else(|| ApiError::Unprocessable("invalid field orgId: must be a string".into()))?;
    let org_id = path_id(org_id, "workspace")?;
    let by = match cookie_session(&headers) {
        Some(token) => SwitchBy::Session(token),
        None => SwitchBy::Pat,
    };
    let target = people::switch_workspace(&state.platform, &user.0, &org_id, by).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "workspace": workspace_json(&target, &target.org_id),
        "active_workspace_id": target.org_id,
    })))
}
