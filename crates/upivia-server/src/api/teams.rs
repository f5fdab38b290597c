//! Teams (API.md §2.17, without the money): create, list, switch the
//! active team, and a team's members (list, add, change role, remove).
//! Handlers read the body and call `domains::teams::service`.

use axum::extract::{Path, State};
use axum::http::header::{AUTHORIZATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json, UserAuth, session_cookie};
use super::fields::{self, string};
use super::text;
use crate::auth;
use crate::clock::rfc3339;
use crate::domains::teams::pool::{self, Pool};
use crate::domains::teams::service;
use crate::store::{Credential, MemberRef, Team, TeamListing, TeamMember, TeamRole};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/teams", get(list).post(create))
        .route("/teams/switch", post(switch))
        .route("/teams/{team_id}/members", get(members).post(add_member))
        .route("/teams/{team_id}/budget", get(budget))
        .route("/teams/{team_id}/budget/allocate", post(allocate))
        .route(
            "/teams/{team_id}/members/{membership_id}",
            patch(update_member).delete(remove_member),
        )
}

/// The cookie naming the active team, for cookie clients to read; the
/// server's own record is on the session.
const TEAM_COOKIE: &str = "upivia_team";

/// The explicit role ids of the built-in team roles (`role_id`).
fn role_id(role: TeamRole) -> &'static str {
    match role {
        TeamRole::Manager => "team_role_manager",
        TeamRole::Worker => "team_role_worker",
    }
}

fn team_json(t: &Team) -> Value {
    json!({"id": t.id, "name": t.name, "created_at": rfc3339(t.created_at)})
}

fn listing_json(l: &TeamListing, org_role: &'static str, active: Option<&str>) -> Value {
    let mut out = team_json(&l.team);
    if let Value::Object(o) = &mut out {
        // An admin sees teams they are not in: their role there is the
        // organisation role that lets them see it.
        o.insert(
            "role".into(),
            l.role.map_or(org_role, TeamRole::as_str).into(),
        );
        o.insert("team_role".into(), l.role.map(TeamRole::as_str).into());
        o.insert("role_id".into(), l.role.map(role_id).into());
        o.insert("member_count".into(), l.member_count.into());
        o.insert("active".into(), (active == Some(l.team.id.as_str())).into());
    }
    out
}

fn member_json(m: &TeamMember) -> Value {
    json!({
        "id": m.id,
        "membership_id": m.id,
        "team_id": m.team_id,
        "user_id": m.user_id,
        "email": m.email,
        "role": m.role.as_str(),
        "role_id": role_id(m.role),
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.updated_at),
    })
}

/// The field's value, with JSON null as absent.
/// `role` (`manager` | `worker`) or `role_id` (`team_role_manager` |
/// `team_role_worker`, or the bare role name).
fn role(body: &Map<String, Value>) -> Result<Option<TeamRole>, ApiError> {
    if let Some(raw) = string(body, "role_id", 100)? {
        let name = raw.strip_prefix("team_role_").unwrap_or(&raw);
        return TeamRole::parse(name).map(Some).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field role_id: unknown team role {raw:?} (team_role_manager or team_role_worker)"
            ))
        });
    }
    match string(body, "role", 100)? {
        None => Ok(None),
        Some(raw) => TeamRole::parse(&raw).map(Some).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "invalid field role: must be manager or worker, got {raw:?}"
            ))
        }),
    }
}

/// The credential the caller came with: a PAT, or a cookie session.
fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
    {
        return Some(Credential::Pat(auth::hash_token(token.trim())));
    }
    session_cookie(headers).map(|t| Credential::Session(auth::hash_token(t)))
}

/// A name's bound in bytes before it is checked in characters.
const NAME_MAX_BYTES: usize = 4 * text::NAME_MAX_CHARS;

async fn create(
    State(state): State<AppState>,
    user: AdminAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let name = string(&body, "name", NAME_MAX_BYTES)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field name: required".into()))?;
    text::name("name", &name)?;
    let (team, manager) = service::create(&state.platform, &user.0, name).await?;
    let mut out = team_json(&team);
    if let Value::Object(o) = &mut out {
        o.insert("role".into(), "manager".into());
        o.insert("member_count".into(), 1.into());
    }
    Ok(AxumJson(
        json!({"team": out, "membership": member_json(&manager)}),
    ))
}

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let user = user.0;
    let teams = service::list(&state.platform, &user).await?;
    let active = match credential(&headers) {
        Some(c) => service::active(&state.platform, &c).await?,
        None => None,
    };
    let rows: Vec<Value> = teams
        .iter()
        .map(|t| listing_json(t, user.role.as_str(), active.as_deref()))
        .collect();
    Ok(AxumJson(json!({"teams": rows, "active_team_id": active})))
}

async fn switch(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let team_id = string(&body, "team_id", 100)?.filter(|t| !t.is_empty());
    let credential =
        credential(&headers).ok_or(ApiError::Unauthenticated("credentials required"))?;
    let is_session = matches!(credential, Credential::Session(_));
    let team = service::switch(&state.platform, &user.0, credential, team_id).await?;
    let mut response = AxumJson(json!({
        "ok": true,
        "team_id": team.as_ref().map(|t| t.id.clone()),
        "team": team.as_ref().map(team_json),
    }))
    .into_response();
    if is_session {
        let secure = if auth::csrf::origin_of(&state.base_url).starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = match &team {
            Some(t) => format!(
                "{TEAM_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}",
                t.id
            ),
            None => format!("{TEAM_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        };
        let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(Box::new(e)))?;
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

/// A pool in cents: what the team's agents may still reserve, what was
/// allocated to it in all, spent and held by running requests.
pub(super) fn pool_json(pool: &Pool) -> Value {
    let t = &pool.totals;
    json!({
        "team_id": pool.team.id,
        "team": team_json(&pool.team),
        "currency": "USD",
        "pool_cents": pool.available().get(),
        "available_cents": pool.available().get(),
        "allocated_cents": t.credits.get(),
        "spent_cents": t.settled.get(),
        "reserved_cents": t.reserved.get(),
    })
}

async fn budget(
    State(state): State<AppState>,
    user: UserAuth,
    Path(team_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let pool = pool::read(&state.platform, &user.0, &team_id).await?;
    Ok(AxumJson(json!({"budget": pool_json(&pool)})))
}

async fn allocate(
    State(state): State<AppState>,
    user: UserAuth,
    Path(team_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let team = pool::allocatable(&state.platform, &user.0, &team_id).await?;
    let amount = fields::amount(&body, "amount_cents")?;
    let note = string(&body, "note", 500)?.unwrap_or_default();
    let pool = pool::allocate(&state.platform, &user.0, team, amount, note).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "allocated_cents": amount.get(),
        "budget": pool_json(&pool),
    })))
}

async fn members(
    State(state): State<AppState>,
    user: UserAuth,
    Path(team_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (team, members) = service::members(&state.platform, &user.0, &team_id).await?;
    Ok(AxumJson(json!({
        "team": team_json(&team),
        "members": members.iter().map(member_json).collect::<Vec<_>>(),
    })))
}

async fn add_member(
    State(state): State<AppState>,
    user: UserAuth,
    Path(team_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let team = service::managed(&state.platform, &user.0, &team_id).await?;
    let who = match (string(&body, "user_id", 100)?, string(&body, "email", 320)?) {
        (Some(id), _) => MemberRef::UserId(id),
        (None, Some(email)) => MemberRef::Email(email.trim().to_owned()),
        (None, None) => {
            return Err(ApiError::Unprocessable(
                "invalid field user_id: required (or email)".into(),
            ));
        }
    };
    let role = role(&body)?.unwrap_or(TeamRole::Worker);
    let member = service::add_member(&state.platform, &user.0, &team, who, role).await?;
    Ok(AxumJson(json!({"member": member_json(&member)})))
}

async fn update_member(
    State(state): State<AppState>,
    user: UserAuth,
    Path((team_id, membership_id)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let team = service::managed(&state.platform, &user.0, &team_id).await?;
    let role = role(&body)?.ok_or_else(|| {
        ApiError::Unprocessable(
            "invalid field role: required (manager or worker), or role_id".into(),
        )
    })?;
    let member = service::set_role(&state.platform, &user.0, &team, &membership_id, role).await?;
    Ok(AxumJson(
        json!({"ok": true, "member": member_json(&member)}),
    ))
}

async fn remove_member(
    State(state): State<AppState>,
    user: UserAuth,
    Path((team_id, membership_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let team = service::managed(&state.platform, &user.0, &team_id).await?;
    let member = service::remove_member(&state.platform, &user.0, &team, &membership_id).await?;
    Ok(AxumJson(
        json!({"ok": true, "removed": member.id, "member": member_json(&member)}),
    ))
}
