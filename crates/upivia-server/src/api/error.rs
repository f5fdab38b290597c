//! The one error type of the HTTP boundary and its envelope,
//! `{"error": {"code", "message"}}`. Codes are a public contract.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::{Locked, PasswordWorkError};
use crate::domains::DomainError;
use crate::governance::GovernanceError;
use crate::governance::roles::RoleError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    MalformedJson(String),
    /// A request the route refuses as it is, with its own code (400).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A signature that does not hold (401 `invalid_signature`).
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    Unprocessable(String),
    /// A well-formed value the server cannot take, with its own code.
    #[error("{message}")]
    OutOfRange { code: &'static str, message: String },
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    /// A rule refuses what the caller asked (a spawn past its parent's
    /// bounds), with its own code.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// A governance value set by a higher role than the caller's.
    #[error(transparent)]
    RoleRequired(#[from] RoleError),
    /// A cookie-session mutation that may come from another site.
    #[error("{0}")]
    CsrfRejected(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Missing { code: &'static str, message: String },
    #[error("no route for this path")]
    NoRoute,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("{code}: {message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    Gone(String),
    /// No longer possible, with its own code (410).
    #[error("{message}")]
    Expired { code: &'static str, message: String },
    /// Past a size or quota, with its own code (413).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BadRequest { code, .. } => code,
            ApiError::BadSignature(_) => "invalid_signature",
            ApiError::Unprocessable(_) => "invalid_payload",
            ApiError::OutOfRange { code, .. } => code,
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unauthenticated(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Refused { code, .. } => code,
            ApiError::RoleRequired(_) => "insufficient_role",
            ApiError::CsrfRejected(_) => "csrf_rejected",
            ApiError::NotFound(_) => "not_found",
            ApiError::Missing { code, .. } => code,
            ApiError::NoRoute => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::Gone(_) => "gone",
            ApiError::Expired { code, .. } | ApiError::TooLarge { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::MalformedJson(_)
            | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) | ApiError::OutOfRange { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthenticated(_) | ApiError::BadSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::Refused { .. }
            | ApiError::RoleRequired(_)
            | ApiError::CsrfRejected(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Missing { .. } | ApiError::NoRoute => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone(_) | ApiError::Expired { .. } => StatusCode::GONE,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The cause of an internal error, carried to the layer that logs it once.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = json!({"error": {"code": self.code(), "message": message}});
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after, .. } = &self {
            let secs = retry_after.as_secs_f64().ceil().max(1.0);
            if let Ok(v) = HeaderValue::from_str(&format!("{secs:.0}")) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if let ApiError::Internal(cause) = &self {
            response
                .extensions_mut()
                .insert(InternalCause(format!("{cause:#}")));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Conflict(message) => ApiError::Conflict {
                code: "conflict",
                message,
            },
            // The details name tables, columns and account keys: logged
            // here, once, and kept from the client.
            StoreError::Constraint(detail) => {
                tracing::warn!(detail = %detail, "write refused by a database constraint");
                ApiError::Conflict {
                    code: "conflict",
                    message: "the change conflicts with data already stored".into(),
                }
            }
            StoreError::Overflow { account } => {
                tracing::warn!(account = %account, "ledger sum out of range");
                ApiError::OutOfRange {
                    code: "amount_out_of_range",
                    message: format!(
                        "the amount would take a balance past the largest the ledger holds ({} cents)",
                        i64::MAX
                    ),
                }
            }
            e @ StoreError::Corrupt(_) => ApiError::Internal(Box::new(e)),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                ApiError::Unavailable("the database is unavailable; retry shortly".into())
            }
            StoreError::Other(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => ApiError::NotFound(what),
            DomainError::Unauthenticated(message) => ApiError::Unauthenticated(message),
            DomainError::Invalid(message) => ApiError::Unprocessable(message),
            DomainError::Locked(e) => e.into(),
            DomainError::PasswordWork(e) => e.into(),
            DomainError::Forbidden(message) => ApiError::Forbidden(message),
            DomainError::Refused { code, message } => ApiError::Refused { code, message },
            DomainError::Role(e) => e.into(),
            DomainError::Conflict { code, message } => ApiError::Conflict { code, message },
            DomainError::TooLarge { code, message } => ApiError::TooLarge { code, message },
            DomainError::Gone { code, message } => ApiError::Expired { code, message },
            DomainError::Store(e) => e.into(),
        }
    }
}

impl From<GovernanceError> for ApiError {
    fn from(e: GovernanceError) -> Self {
        match e {
            GovernanceError::UnknownService(_) => ApiError::Missing {
                code: "unknown_service",
                message: e.to_string(),
            },
            GovernanceError::UnknownOperation { .. } => ApiError::Missing {
                code: "unknown_operation",
                message: e.to_string(),
            },
            GovernanceError::InvalidPayload { .. } => ApiError::Unprocessable(e.to_string()),
            GovernanceError::InvalidRequest(m) => ApiError::InvalidRequest(m),
            GovernanceError::IdempotencyMismatch => ApiError::Conflict {
                code: "idempotency_key_payload_mismatch",
                message: e.to_string(),
            },
            GovernanceError::IdempotencyInUse => ApiError::Conflict {
                code: "idempotency_key_in_use",
                message: e.to_string(),
            },
            GovernanceError::RateLimited { retry_after, .. } => ApiError::RateLimited {
                message: e.to_string(),
                retry_after,
            },
            GovernanceError::NotFound(what) => ApiError::NotFound(what),
            GovernanceError::Forbidden(m) => ApiError::Forbidden(m),
            GovernanceError::ApprovalDecided(_) => ApiError::Conflict {
                code: "approval_already_decided",
                message: e.to_string(),
            },
            GovernanceError::Conflict { code, message } => ApiError::Conflict { code, message },
            GovernanceError::ApprovalExpired => ApiError::Conflict {
                code: "approval_expired",
                message: e.to_string(),
            },
            GovernanceError::Store(s) => s.into(),
        }
    }
}

impl From<Locked> for ApiError {
    fn from(e: Locked) -> Self {
        ApiError::RateLimited {
            message: e.to_string(),
            retry_after: e.retry_after,
        }
    }
}

impl From<PasswordWorkError> for ApiError {
    fn from(e: PasswordWorkError) -> Self {
        match e {
            PasswordWorkError::Busy => ApiError::RateLimited {
                message: e.to_string(),
                retry_after: Duration::from_secs(1),
            },
            PasswordWorkError::Failed(cause) => ApiError::Internal(cause),
        }
    }
}
