//! Domain rules below HTTP: who may do what, and which audit event a
//! change writes. Each domain's `service.rs` takes a `&Platform`, the
//! caller and a command, so an HTTP route, a trigger, a workflow step, a
//! worker or an MCP tool run the same rules. (`governance/` is the hot
//! path's own domain layer.)

pub mod agents;
pub mod automation;
pub mod chat;
pub mod delegation;
pub mod devices;
pub mod human_input;
pub mod identity;
pub mod inbox;
pub mod knowledge;
pub mod memory;
pub mod ops;
pub mod rooms;
pub mod scheduled_tasks;
pub mod secrets;
pub mod simulation;
pub mod storage;
pub mod teams;
pub mod triggers;
pub mod workflows;

use crate::auth::{Locked, PasswordWorkError};
use crate::governance::roles::RoleError;
use crate::store::StoreError;

/// Why a domain operation was refused; `api/error.rs` maps it to the wire.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The named thing does not exist for this caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Credentials that do not hold.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A value the rules refuse; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// Too many failed attempts from this address or on this account.
    #[error(transparent)]
    Locked(#[from] Locked),
    /// The password pool is full, or hashing failed.
    #[error(transparent)]
    PasswordWork(#[from] PasswordWorkError),
    /// The caller may not act on it; the message is written for them.
    #[error("{0}")]
    Forbidden(String),
    /// A rule refuses the request (403 with `code`): a spawn past its
    /// parent's bounds.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Loosening a governance value needs a higher role.
    #[error(transparent)]
    Role(#[from] RoleError),
    /// The state refuses the change; `code` is the wire's error code.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Past a size or quota (413 with `code`).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// Once possible, no longer (410 with `code`): a restore after its
    /// window.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError {
    /// For `map_err` on a store call whose `NotFound` means `what` does
    /// not exist for this caller; every other store error stays as it is.
    pub(crate) fn missing(what: &'static str) -> impl FnOnce(StoreError) -> DomainError {
        move |e| match e {
            StoreError::NotFound => DomainError::NotFound(what),
            other => other.into(),
        }
    }
}
