//! The SDK's one error type and its mapping from HTTP replies (API.md §1.6).
//!
//! Every failure is an [`Error`]; callers branch on [`Error::kind`], the six
//! kinds of the reference SDK. The mapping from a reply is fixed, first
//! match wins: transport failure → `Network`; a non-empty body that is not
//! JSON → `InvalidResponse`; 401/403 → `Unauthorized`; 429 → `RateLimited`;
//! `error.code == "idempotency_key_payload_mismatch"` → `IdempotencyConflict`;
//! any other non-2xx → `Http`. The status is checked before the code.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is (the reference SDK's `kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Transport failure: DNS, connect, reset, timeout.
    Network,
    /// Any other non-2xx reply, and SDK-side waits that timed out.
    Http,
    /// A body that is not JSON, or JSON of the wrong shape.
    InvalidResponse,
    /// 401 or 403, or no agent key for an agent endpoint.
    Unauthorized,
    /// 429.
    RateLimited,
    /// 409 `idempotency_key_payload_mismatch`: the key was used for a
    /// different request.
    IdempotencyConflict,
    /// A local file could not be read or written (uploads, downloads).
    Io,
}

impl ErrorKind {
    /// The kind as the contract spells it (`network`, `http`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Network => "network",
            ErrorKind::Http => "http",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::Io => "io",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-2xx reply from the server.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// How this reply was classified.
    pub kind: ErrorKind,
    /// HTTP status.
    pub status: u16,
    /// `error.code`, when it is a string.
    pub code: Option<String>,
    /// `error.message`, when it is a string, otherwise `HTTP <status>`.
    pub message: String,
    /// The parsed body (a JSON string holding the raw text when the body
    /// was not JSON on a path that tolerates that).
    pub body: Option<Value>,
    /// `Retry-After`, in seconds (numeric form only).
    pub retry_after: Option<Duration>,
    /// `x-request-id`.
    pub request_id: Option<String>,
}

/// Every failure the SDK reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request never got a reply (kind `Network`).
    #[error("network error calling {method} {path}: {source}")]
    Network {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status (kind by status and code).
    #[error("{} {}: {}", .0.status, .0.kind, .0.message)]
    Api(Box<ApiError>),
    /// The reply could not be read as what the endpoint promises (kind
    /// `InvalidResponse`).
    #[error("invalid response from {request}: {reason}")]
    InvalidResponse {
        /// Method and path, e.g. `GET /api/v1/balance`.
        request: String,
        /// What was wrong.
        reason: String,
        /// HTTP status, when there was a reply.
        status: Option<u16>,
        /// The raw body as a JSON string, or the parsed JSON.
        body: Option<Value>,
        /// `x-request-id`.
        request_id: Option<String>,
    },
    /// An agent endpoint was called with no agent key; nothing was sent
    /// (kind `Unauthorized`).
    #[error("an agent API key is required for {method} {path}")]
    MissingApiKey {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// A polling helper gave up (kind `Http`, like the reference SDK).
    #[error("timed out waiting for {what} to reach a terminal state after {after:?}")]
    WaitTimeout {
        /// What was being waited for, e.g. `service request req_1`.
        what: String,
        /// The configured timeout.
        after: Duration,
    },
    /// `run_and_wait` found no published version (kind `Http`).
    #[error(
        "workflow {workflow_id} has no published version to run (pass a version id or publish one)"
    )]
    NoPublishedVersion {
        /// The workflow.
        workflow_id: String,
    },
    /// An argument could not be put on the wire, e.g. a malformed MIME type
    /// (kind `InvalidResponse`, as the reference SDK reports bad arguments).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A local file or stream failed (kind `Io`).
    #[error("{path}: {source}")]
    Io {
        /// The file, or what was being read or written.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Network { .. } => ErrorKind::Network,
            Error::Api(api) => api.kind,
            Error::InvalidResponse { .. } | Error::InvalidArgument(_) => ErrorKind::InvalidResponse,
            Error::MissingApiKey { .. } => ErrorKind::Unauthorized,
            Error::WaitTimeout { .. } | Error::NoPublishedVersion { .. } => ErrorKind::Http,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// HTTP status, when there was a reply.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::InvalidResponse { status, .. } => *status,
            _ => None,
        }
    }

    /// The server's `error.code`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.code.as_deref(),
            _ => None,
        }
    }

    /// The server's `error.message` (or `HTTP <status>` when it had none).
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Error::Api(api) => Some(&api.message),
            _ => None,
        }
    }

    /// The reply body: parsed JSON, or the raw text as a JSON string.
    pub fn body(&self) -> Option<&Value> {
        match self {
            Error::Api(api) => api.body.as_ref(),
            Error::InvalidResponse { body, .. } => body.as_ref(),
            _ => None,
        }
    }

    /// `Retry-After` of the reply, when it had a numeric one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(api) => api.retry_after,
            _ => None,
        }
    }

    /// `x-request-id` of the reply.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            Error::InvalidResponse { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// `true` for the failures the SDK's retry policy retries (network
    /// errors and 429/502/503/504), whether or not the request was
    /// replayable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { .. } => true,
            Error::Api(api) => crate::retry::RETRYABLE_STATUSES.contains(&api.status),
            _ => false,
        }
    }
}

/// Parses `Retry-After` as seconds (integer or decimal); the HTTP-date form
/// and negative values are ignored.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = raw.trim().parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Classifies a non-2xx reply whose body was already parsed (rules 3–6).
pub(crate) fn api_error(status: StatusCode, headers: &HeaderMap, body: Option<Value>) -> Error {
    let error_obj = body
        .as_ref()
        .and_then(|b| b.get("error"))
        .filter(|e| e.is_object());
    let code = error_obj
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let message = error_obj
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map_or_else(|| format!("HTTP {}", status.as_u16()), str::to_owned);
    let kind = match status.as_u16() {
        401 | 403 => ErrorKind::Unauthorized,
        429 => ErrorKind::RateLimited,
        _ if code.as_deref() == Some("idempotency_key_payload_mismatch") => {
            ErrorKind::IdempotencyConflict
        }
        _ => ErrorKind::Http,
    };
    Error::Api(Box::new(ApiError {
        kind,
        status: status.as_u16(),
        code,
        message,
        body,
        retry_after: parse_retry_after(headers),
        request_id: request_id(headers),
    }))
}

/// How a non-2xx reply with a body that is not JSON is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NonJsonErrors {
    /// Rule 2: it is an `InvalidResponse` (ordinary JSON calls).
    Reject,
    /// Decide by status alone, keeping the text as a JSON string (chat turn,
    /// storage download).
    ByStatus,
}

/// Maps a complete error reply (status, headers, raw body) to an [`Error`].
pub(crate) fn from_reply(
    method: &str,
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    non_json: NonJsonErrors,
) -> Error {
    if body.is_empty() {
        return api_error(status, headers, None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(parsed) => api_error(status, headers, Some(parsed)),
        Err(_) => {
            let text = Value::String(String::from_utf8_lossy(body).into_owned());
            match non_json {
                NonJsonErrors::Reject => Error::InvalidResponse {
                    request: format!("{method} {path}"),
                    reason: "non-JSON body".to_owned(),
                    status: Some(status.as_u16()),
                    body: Some(text),
                    request_id: request_id(headers),
                },
                NonJsonErrors::ByStatus => api_error(status, headers, Some(text)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
