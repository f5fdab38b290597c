//! Why governance could not answer a request with an outcome. A denial
//! (blocked, approval required) is an outcome, not an error; these are the
//! cases the caller must fix or retry.

use std::time::Duration;

use crate::model::ApprovalStatus;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error("unknown service {0:?}")]
    UnknownService(String),
    #[error("service {service:?} has no operation {operation:?}")]
    UnknownOperation { service: String, operation: String },
    #[error("invalid payload at {field}: {message}")]
    InvalidPayload { field: String, message: String },
    #[error("{0}")]
    InvalidRequest(String),
    #[error("this idempotency key was already used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInUse,
    #[error("rate limit of {limit} requests per minute exceeded")]
    RateLimited { limit: u32, retry_after: Duration },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("the approval was already {}", .0.as_str())]
    ApprovalDecided(ApprovalStatus),
    /// The state refuses the change; `code` is the wire's error code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the approval expired before it was decided")]
    ApprovalExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
}
