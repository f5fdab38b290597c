//! The HTTP boundary. Each resource module owns its routes with its
//! handlers just below them; this module merges them, serves them under
//! both `/api/v1` and `/v1`, and adds the layers once: request ids,
//! tracing, metrics, timeout, body limit, panic catching, JSON envelopes
//! for unknown routes and methods, the failed-authentication budget per
//! address, and the headers every response carries.

pub mod error;
pub mod extract;

mod address_limits;
mod admin;
mod agent_requests;
mod agents;
mod approvals;
mod audit_logs;
mod balance;
mod budget_requests;
mod chat;
mod console;
mod delegation;
mod devices;
mod fields;
mod human_input;
mod knowledge;
mod mcp;
mod memories;
mod metrics;
mod ops;

pub use metrics::handle as metrics_handle;
mod people;
mod platform;
mod provider_callbacks;
mod rooms;
mod scheduled_tasks;
mod secrets;
mod serde_words;
mod service_requests;
mod services;
mod sessions;
mod simulations;
mod spawn;
mod storage;
mod strict_json;
mod teams;
mod text;
mod triggers;
mod usage;
mod workflows;
pub mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use self::error::{ApiError, InternalCause};
use crate::auth::LoginGuard;
use crate::config::Config;
use crate::platform::Platform;
use crate::workers::WorkerHealth;

/// What every handler shares. Axum clones the state for each request, so
/// it is one `Arc` to the parts rather than a clone of each.
#[derive(Clone)]
pub struct AppState(Arc<Shared>, Arc<LoginGuard>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared), Arc::new(LoginGuard::default()))
    }

    /// Login throttling and the password-hashing pool: one per server, so
    /// both route prefixes share them.
    pub fn logins(&self) -> &LoginGuard {
        &self.1
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub platform: Platform,
    pub config: Arc<Config>,
    pub base_url: Arc<str>,
    pub metrics: PrometheusHandle,
    pub workers: WorkerHealth,
    /// The audit trail's signing side: checkpoints and verification.
    pub sealer: Arc<crate::audit::Sealer>,
    /// The sockets of `/ws`, by chat session.
    pub ws: Arc<ws::Hub>,
}

fn v1() -> Router<AppState> {
    Router::new()
        .merge(platform::router())
        .merge(services::router())
        .merge(provider_callbacks::router())
        .merge(sessions::router())
        .merge(people::router())
        .merge(service_requests::router())
        .merge(approvals::router())
        .merge(balance::router())
        .merge(budget_requests::router())
        .merge(secrets::router())
        .merge(usage::router())
        .merge(audit_logs::router())
        .merge(spawn::router())
        .merge(agents::router())
        .merge(teams::router())
        .merge(agent_requests::router())
        .merge(delegation::router())
        .merge(memories::router())
        .merge(chat::router())
        .merge(devices::router())
        .merge(triggers::router())
        .merge(scheduled_tasks::router())
        .merge(workflows::router())
        .merge(storage::router())
        .merge(knowledge::router())
        .merge(admin::router())
        .merge(simulations::router())
        .merge(ops::router())
        .merge(human_input::router())
        .merge(rooms::router())
        .route_layer(middleware::from_fn(metrics::track))
        .method_not_allowed_fallback(method_not_allowed)
}

/// The routes whose bodies stream (uploads, downloads): they skip the
/// API's body limit and request timeout for limits of their own.
fn v1_streaming(upload_max: u64, presign_max: u64) -> Router<AppState> {
    Router::new()
        .merge(storage::streaming_router(upload_max, presign_max))
        .merge(knowledge::streaming_router(upload_max))
        .route_layer(middleware::from_fn(metrics::track))
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let body_limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    let auth_failures = state.config.auth_failures_per_minute;
    let mut routes = Router::new()
        .nest("/api/v1", v1())
        .nest("/v1", v1())
        .merge(mcp::router(&state).route_layer(middleware::from_fn(metrics::track)));
    // With a metrics address of its own, the API's listener does not
    // serve /metrics at all.
    if state.config.metrics_listen.is_none() {
        routes = routes.merge(metrics::router());
    }
    let routes = routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(RequestBodyLimitLayer::new(body_limit))
        // axum's own extractor limit (2 MiB by default) follows the setting.
        .layer(axum::extract::DefaultBodyLimit::max(body_limit));
    let settings = &state.platform.storage.settings;
    let (upload_max, presign_max) = (settings.upload_max_bytes, settings.presign_max_bytes);
    let streaming = Router::new()
        .nest("/api/v1", v1_streaming(upload_max, presign_max))
        .nest("/v1", v1_streaming(upload_max, presign_max))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.config.upload_timeout,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable());
    routes
        .merge(streaming)
        // The upgrade answers at once; the socket then watches its own time.
        .merge(ws::router().route_layer(middleware::from_fn(metrics::track)))
        .merge(console::router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_internal_errors))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".into()).into_response()
        }))
        .layer(middleware::from_fn(move |req, next| {
            envelope_for_bare_errors(body_limit, req, next)
        }))
        .layer(auth_failure_layer(auth_failures))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(drop_unsafe_request_id))
        .layer(middleware::map_response(with_hygiene_headers))
        .with_state(state)
}

/// The router of the separate metrics listener (`metrics_listen`).
pub fn metrics_router(state: AppState) -> Router {
    let auth_failures = state.config.auth_failures_per_minute;
    metrics::router()
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(auth_failure_layer(auth_failures))
        .layer(middleware::map_response(with_hygiene_headers))
        .with_state(state)
}

/// The failed-authentication gate, one budget table per router.
fn auth_failure_layer(
    per_minute: Option<u32>,
) -> middleware::FromFnLayer<
    impl Fn(Request, Next) -> address_limits::Guarded + Clone,
    (),
    (Request,),
> {
    let limiter = per_minute.map(|n| Arc::new(address_limits::AuthFailures::new(n)));
    middleware::from_fn(move |req: Request, next: Next| {
        address_limits::guard(limiter.clone(), req, next)
    })
}

/// Headers every response carries, whatever answered it: browsers must
/// not guess content types, and nothing this API returns (keys, tokens,
/// balances) may sit in a cache.
pub fn hygiene_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(axum::http::header::CACHE_CONTROL)
        .or_insert(axum::http::HeaderValue::from_static("no-store"));
}

async fn with_hygiene_headers(mut response: Response) -> Response {
    hygiene_headers(response.headers_mut());
    response
}

/// The longest incoming `x-request-id` kept. Ids are echoed into every
/// response and log line, so only short ids of safe characters are.
const MAX_REQUEST_ID: usize = 128;

fn is_safe_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Drops an incoming request id that is too long or has other characters,
/// so the next layer gives the request a fresh one.
async fn drop_unsafe_request_id(mut req: Request, next: Next) -> Response {
    let ids = req.headers().get_all("x-request-id");
    let mut ids = ids.iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => is_safe_request_id(id.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Logs the cause of a 500 once, where the response leaves.
async fn log_internal_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(cause = %cause, "internal error");
    }
    response
}

/// Layers below the router (body limit, timeout) answer with empty bodies;
/// give those the JSON envelope too.
async fn envelope_for_bare_errors(body_limit: usize, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.is_success() || is_json {
        return response;
    }
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(body_limit),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::Unavailable("the request took too long and was cancelled".into())
        }
        _ => return response,
    };
    let mut fresh = error.into_response();
    *fresh.status_mut() = status;
    fresh
}
