//! Extractors that reject with [`ApiError`], so every bad input gets the
//! same envelope: JSON bodies (400 malformed, 422 wrong shape naming the
//! field, 413 too large), query strings, and the caller's credentials.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, ORIGIN, TRANSFER_ENCODING,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use super::{serde_words, strict_json};
use crate::auth::{self, SESSION_COOKIE};
use crate::model::{Agent, Role, UserPrincipal};

/// A JSON body. The content type is not checked: clients send JSON.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.body_limit;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::InvalidRequest(format!("could not read the request body: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses a body: syntax errors and duplicate keys (at any depth) are 400,
/// shape errors 422 naming the field in words, never in Rust types.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let trimmed = bytes.iter().all(u8::is_ascii_whitespace);
    let bytes: &[u8] = if trimmed { b"{}" } else { bytes };
    let value = strict_json::parse(bytes).map_err(|e| match e {
        strict_json::Error::Duplicate { key, path } => ApiError::MalformedJson(format!(
            "request body has the key {key:?} twice{}",
            if path.is_empty() {
                String::new()
            } else {
                format!(" in {path}")
            }
        )),
        strict_json::Error::Syntax(e) => {
            ApiError::MalformedJson(format!("request body is not valid JSON: {e}"))
        }
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        let (field, problem) = serde_words::describe(&field, &e.inner().to_string());
        ApiError::Unprocessable(format!("invalid field {field}: {problem}"))
    })
}

/// A query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(raw)
            .map(Query)
            .map_err(|e| ApiError::InvalidRequest(format!("invalid query string: {e}")))
    }
}

fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("malformed Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(ApiError::Unauthenticated(
            "Authorization must be a Bearer token",
        ))?
        .trim();
    if token.is_empty() {
        return Err(ApiError::Unauthenticated("empty bearer token"));
    }
    Ok(Some(token))
}

/// The session cookie's value, if the request carries one.
pub(super) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

fn is_agent_key(token: &str) -> bool {
    token.starts_with("agent_key_")
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The CSRF rule of `auth::csrf`, for every mutation a session cookie
/// authenticates: here, so no route can forget it. Without a session (a
/// login) no token can match: the request must be same-origin JSON, so a
/// foreign page cannot log a browser into another account either.
pub(super) fn check_csrf(
    headers: &HeaderMap,
    base_url: &str,
    session_token: Option<&str>,
) -> Result<(), ApiError> {
    // A header that is not text still counts as sent (and matches nothing).
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let declared_length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let signals = auth::csrf::Signals {
        origin: text(ORIGIN.as_str()),
        fetch_site: text("sec-fetch-site"),
        content_type: text(CONTENT_TYPE.as_str()),
        has_body: declared_length.is_some_and(|n| n > 0) || headers.contains_key(TRANSFER_ENCODING),
        token: session_token.and(text(auth::CSRF_HEADER)),
    };
    let session_token = session_token.unwrap_or_default();
    auth::csrf::check(signals, &auth::csrf::origin_of(base_url), session_token)
        .map_err(|refusal| ApiError::CsrfRejected(refusal.to_string()))
}

/// The client's address, for login throttling: the TCP peer, or the last
/// `X-Forwarded-For` entry (the one the proxy appended) when the server is
/// configured to trust it. `None` when the server was not started with
/// connect info (then only the per-account limit applies).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for
            && let Some(ip) = last_forwarded(&parts.headers)
        {
            return Ok(ClientIp(Some(ip)));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        if peer.is_none() {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!("no peer address on requests; login throttling is per account only")
            });
        }
        Ok(ClientIp(peer))
    }
}

fn last_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|v| !v.is_empty())?;
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// Whoever is calling.
#[derive(Clone, Debug)]
pub enum Caller {
    Agent(Box<Agent>),
    User(UserPrincipal),
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let stores = &state.platform.stores;
    if let Some(token) = bearer(parts)? {
        let hash = auth::hash_token(token);
        if is_agent_key(token) {
            return match stores.agents.agent_by_key(&hash).await? {
                Some(agent) => Ok(Some(Caller::Agent(Box::new(agent)))),
                None => Err(ApiError::Unauthenticated("invalid agent key")),
            };
        }
        return match stores
            .identity
            .user_by_pat_at(&hash, state.platform.clock.now())
            .await?
        {
            Some(user) => Ok(Some(Caller::User(user))),
            None => Err(ApiError::Unauthenticated("invalid access token")),
        };
    }
    if let Some(token) = session_cookie(&parts.headers) {
        let now = state.platform.clock.now();
        return match stores
            .identity
            .user_by_session(&auth::hash_token(token), now)
            .await?
        {
            Some(user) => {
                if !is_safe(&parts.method) {
                    check_csrf(&parts.headers, &state.base_url, Some(token))?;
                }
                Ok(Some(Caller::User(user)))
            }
            None => Err(ApiError::Unauthenticated("session expired or invalid")),
        };
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated("credentials required"))
    }
}

/// Whoever is calling, when a route also answers without credentials: a
/// credential that does not hold makes the caller anonymous, as if none
/// were sent (the route is public; what it adds for a caller is not).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match resolve(parts, state).await {
            Ok(caller) => Ok(MaybeCaller(caller)),
            Err(ApiError::Unauthenticated(_)) => Ok(MaybeCaller(None)),
            Err(e) => Err(e),
        }
    }
}

/// An agent, by its API key.
pub struct AgentAuth(pub Agent);

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Agent(agent) => Ok(AgentAuth(*agent)),
            Caller::User(_) => Err(ApiError::Forbidden(
                "this endpoint takes an agent API key, not a user credential".into(),
            )),
        }
    }
}

/// A human, by PAT or session cookie.
pub struct UserAuth(pub UserPrincipal);

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::User(user) => Ok(UserAuth(user)),
            Caller::Agent(_) => Err(ApiError::Forbidden(
                "this endpoint takes a personal access token or a session, not an agent key".into(),
            )),
        }
    }
}

impl UserAuth {
    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> Result<&UserPrincipal, ApiError> {
        if self.0.role >= role {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; you are {}",
                role.as_str(),
                self.0.role.as_str()
            )))
        }
    }
}

/// A user of at least the admin role. As an extractor it runs before the
/// body is read, so a caller without the role learns nothing about what a
/// valid body would be.
pub struct AdminAuth(pub UserPrincipal);

/// The organisation's owner.
pub struct OwnerAuth(pub UserPrincipal);

async fn user_with_role(
    parts: &mut Parts,
    state: &AppState,
    role: Role,
) -> Result<UserPrincipal, ApiError> {
    let user = UserAuth::from_request_parts(parts, state).await?;
    user.require(role)?;
    Ok(user.0)
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        user_with_role(parts, state, Role::Admin)
            .await
            .map(AdminAuth)
    }
}

impl FromRequestParts<AppState> for OwnerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        user_with_role(parts, state, Role::Owner)
            .await
            .map(OwnerAuth)
    }
}
