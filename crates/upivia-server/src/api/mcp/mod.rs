//! `/mcp`: the Model Context Protocol over streamable HTTP, for agents.
//! Each of the agent's enabled operations is a tool; each call is a
//! governed service request (see `calls.rs`).
//!
//! The protocol is rmcp's, run stateless with JSON answers: every POST is
//! served by a fresh handler from what it carries, so any node behind a
//! load balancer answers any request. This layer checks the agent key
//! first (401 without one), then hands the request to rmcp with the agent
//! in its extensions. A client of the `initialize` era gets an
//! `Mcp-Session-Id` that holds its session (`session.rs`); no node keeps
//! one. Host and Origin are checked against the public URL.

mod calls;
mod handler;
mod session;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

use self::handler::{McpCaller, UpiviaMcp};
use self::session::Session;
use super::AppState;
use super::error::ApiError;
use super::extract::AgentAuth;

const SESSION_HEADER: &str = "mcp-session-id";

type Mcp = StreamableHttpService<UpiviaMcp, NeverSessionManager>;

pub(super) fn router(state: &AppState) -> Router<AppState> {
    let platform = state.platform.clone();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(state.config.body_limit);
    let config = with_origin_checks(config, &state.base_url);
    let mcp: Mcp = StreamableHttpService::new(
        move || {
            Ok(UpiviaMcp {
                platform: platform.clone(),
            })
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let endpoint = post({
        let mcp = mcp.clone();
        move |state: State<AppState>, auth: Result<AgentAuth, ApiError>, request: Request| {
            let mcp = mcp.clone();
            async move {
                match auth {
                    Ok(auth) => message(mcp, state, auth, request).await,
                    Err(e) => refuse_credentials(e),
                }
            }
        }
    })
    .get({
        let mcp = mcp.clone();
        move |auth: Result<AgentAuth, ApiError>, request: Request| {
            let mcp = mcp.clone();
            async move {
                match auth {
                    Ok(auth) => pass(mcp, auth, request).await,
                    Err(e) => refuse_credentials(e),
                }
            }
        }
    })
    // Nothing to end: no node keeps a session.
    .delete(|_: AgentAuth| async { ApiError::MethodNotAllowed });
    // `/mcp` is the address MCP clients are given; the API's prefixes
    // serve it too, like every other route.
    Router::new()
        .route("/mcp", endpoint.clone())
        .route("/api/v1/mcp", endpoint.clone())
        .route("/v1/mcp", endpoint)
}

/// `Host` must name the server as its public URL does (the three loopback
/// names when that is a loopback address; any when it is unspecified, as
/// for `--listen 0.0.0.0` without `--public-url`); a browser's `Origin`,
/// when sent, must be that URL's origin.
fn with_origin_checks(
    config: StreamableHttpServerConfig,
    base_url: &str,
) -> StreamableHttpServerConfig {
    let Ok(url) = url::Url::parse(base_url) else {
        return config;
    };
    let Some(host) = url.host_str() else {
        return config;
    };
    let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
    let origin = url.origin().ascii_serialization();
    let config = config.with_allowed_origins([origin]);
    let port = url.port();
    let names: Vec<String> = match host.as_str() {
        "0.0.0.0" | "::" => return config.disable_allowed_hosts(),
        "127.0.0.1" | "localhost" | "::1" => {
            vec!["127.0.0.1".into(), "localhost".into(), "::1".into()]
        }
        _ => vec![host],
    };
    let allowed: Vec<String> = names
        .into_iter()
        .flat_map(|name| {
            let bracketed = if name.contains(':') {
                format!("[{name}]")
            } else {
                name.clone()
            };
            match port {
                Some(p) => vec![format!("{bracketed}:{p}")],
                // Without a port in the URL, clients send the bare name
                // (or the scheme's default port).
                None => vec![
                    name,
                    format!("{bracketed}:{}", url.port_or_known_default().unwrap_or(80)),
                ],
            }
        })
        .collect();
    config.with_allowed_hosts(allowed)
}

/// What `initialize` says about the client, read before rmcp sees it.
struct Initialize {
    client: Option<String>,
}

fn initialize_of(body: &[u8]) -> Option<Initialize> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "initialize" || message.get("id").is_none() {
        return None;
    }
    let client = message
        .pointer("/params/clientInfo/name")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    Some(Initialize { client })
}

/// The session the client sent back; a session id that is not ours, or
/// is another agent's, is refused (404, as for a session that ended).
fn session_of(headers: &HeaderMap, agent_id: &str) -> Result<Option<Session>, ApiError> {
    let Some(raw) = headers.get(SESSION_HEADER) else {
        return Ok(None);
    };
    let session = raw
        .to_str()
        .ok()
        .and_then(Session::parse)
        .filter(|s| s.agent_id == agent_id);
    match session {
        Some(s) => Ok(Some(s)),
        None => Err(ApiError::Missing {
            code: "not_found",
            message: "no such MCP session for this key: initialize again".into(),
        }),
    }
}

/// A request without a valid agent key: the API's answer, and on a 401
/// the `WWW-Authenticate` challenge HTTP clients (MCP's among them) look
/// for. The key is a static bearer token: there is no OAuth metadata to
/// point at.
fn refuse_credentials(e: ApiError) -> Response {
    let mut response = e.into_response();
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"upivia\""),
        );
    }
    response
}

/// A POSTed JSON-RPC message.
async fn message(
    mcp: Mcp,
    State(state): State<AppState>,
    AgentAuth(agent): AgentAuth,
    request: Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.body_limit).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge(state.config.body_limit).into_response(),
    };
    let started =
        initialize_of(&bytes).map(|init| Session::begin(&agent.id, init.client.as_deref()));
    let session = match &started {
        Some(s) => Some(s.clone()),
        None => match session_of(&parts.headers, &agent.id) {
            Ok(s) => s,
            Err(refusal) => return refusal.into_response(),
        },
    };
    parts.extensions.insert(McpCaller {
        agent: Arc::new(agent),
        session,
    });
    let mut response = serve(mcp, Request::from_parts(parts, Body::from(bytes))).await;
    if let Some(session) = started
        && response.status().is_success()
        && let Ok(id) = HeaderValue::from_str(&session.id())
    {
        response.headers_mut().insert(SESSION_HEADER, id);
    }
    response
}

/// Any other method rmcp answers (GET: no stream in stateless mode).
async fn pass(mcp: Mcp, AgentAuth(agent): AgentAuth, mut request: Request) -> Response {
    request.extensions_mut().insert(McpCaller {
        agent: Arc::new(agent),
        session: None,
    });
    serve(mcp, request).await
}

async fn serve(mcp: Mcp, request: Request) -> Response {
    let response = match mcp.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"));
    if parts.status.is_client_error() && !json {
        // rmcp's transport refusals are plain text: give them the API's
        // envelope (a request no MCP client sends: wrong Accept or
        // Content-Type, a Host or Origin from elsewhere).
        let text = axum::body::to_bytes(Body::new(body), 4096)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        return transport_refusal(parts.status, text);
    }
    Response::from_parts(parts, Body::new(body))
}

fn transport_refusal(status: StatusCode, text: String) -> Response {
    let error = match status {
        StatusCode::FORBIDDEN => ApiError::Forbidden(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge {
            code: "payload_too_large",
            message: text,
        },
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::NOT_FOUND => ApiError::Missing {
            code: "not_found",
            message: text,
        },
        _ => ApiError::InvalidRequest(text),
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_is_told_apart() {
        let init = br#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"clientInfo":{"name":"claude","version":"1"}}}"#;
        assert_eq!(
            initialize_of(init).unwrap().client.as_deref(),
            Some("claude")
        );
        let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(initialize_of(list).is_none());
        let note = br#"{"jsonrpc":"2.0","method":"initialize"}"#;
        assert!(initialize_of(note).is_none());
        assert!(initialize_of(b"not json").is_none());
    }
}
