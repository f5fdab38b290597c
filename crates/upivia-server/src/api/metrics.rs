//! Prometheus metrics: requests by route and status, latency histograms,
//! and (recorded by governance) decisions by status. Served at `/metrics`,
//! behind a bearer token when one is configured.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// The process-wide recorder. Installed once, however many servers a test
/// process starts.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("upivia_http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0,
                    ],
                )
                .map(|b| b.build_recorder());
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    // Another recorder may exist when embedded; then ours
                    // renders empty, which is harmless.
                    let _ = metrics::set_global_recorder(recorder);
                    describe();
                    handle
                }
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// `# HELP` text for every metric the server records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "upivia_http_requests_total",
        "HTTP requests answered, by method, matched route and status."
    );
    describe_histogram!(
        "upivia_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and matched route."
    );
    describe_gauge!("upivia_http_connections_open", "HTTP connections open now.");
    describe_gauge!(
        "upivia_ws_connections_open",
        "Authenticated /ws sockets open now."
    );
    describe_counter!(
        "upivia_http_connections_refused_total",
        "Connections refused at accept, by reason (the server's cap, one address's cap)."
    );
    describe_counter!(
        "upivia_http_accept_errors_total",
        "Errors accepting a connection (the listener goes on)."
    );
    describe_counter!(
        "upivia_decisions_total",
        "Governed requests by their outcome (executed, blocked, approval_required, failed, \
         running)."
    );
    describe_counter!(
        "upivia_refused_requests_total",
        "Requests of a paused or disabled agent, or under the kill switch, refused without a \
         write, by reason code."
    );
    describe_counter!(
        "upivia_mcp_tool_calls_total",
        "MCP tool calls, by tool and outcome (private services count as tool=\"private\")."
    );
}

async fn render(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.metrics_token
        && !bearer_matches(&headers, token)
    {
        return Err(ApiError::Unauthenticated(
            "this endpoint needs the metrics bearer token",
        ));
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response())
}

/// Compares digests, so the time taken says nothing about the token, not
/// even its length.
fn bearer_matches(headers: &HeaderMap, token: &SecretString) -> bool {
    let Some(presented) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim())
    else {
        return false;
    };
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(token.expose_secret().as_bytes());
    presented.ct_eq(&expected).into()
}

pub(super) async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("upivia_http_requests_total", &labels).increment(1);
    metrics::histogram!("upivia_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}
