//! The operator's web console: a small single-page app of plain HTML,
//! CSS and ES modules (`crates/upivia-server/console/`), embedded in the
//! binary at build time and served at `/` and `/console/…`. It holds no
//! rules of its own; it signs in with the cookie session and calls the
//! JSON API under `/api/v1` like any other client.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles
//! and connections from this origin only, no inline script, no framing),
//! and `no-store` like the rest of the API: the assets are not
//! fingerprinted, so a cached copy could outlive an upgrade.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CONTENT_TYPE, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiError;

/// One embedded file: its path under `/console/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the console is made of. `index.html` is also `/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("money.js", JS),
    asset!("approvals.js", JS),
    asset!("audit.js", JS),
    asset!("usage.js", JS),
    asset!("agents.js", JS),
    asset!("teams.js", JS),
    asset!("workflows.js", JS),
    asset!("automation.js", JS),
    asset!("storage.js", JS),
    asset!("chats.js", JS),
];

/// Scripts, styles, images and API calls from this origin only; nothing
/// inline, no plugins, no `<base>` rewriting, and no page may frame this one.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
}

async fn index() -> Response {
    serve(&ASSETS[0])
}

async fn asset(Path(path): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.path == path)
        .map(serve)
        .ok_or(ApiError::NoRoute)
}

fn serve(asset: &Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        HeaderName::from_static("content-security-policy"),
        HeaderValue::from_static(CSP),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
