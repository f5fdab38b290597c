//! Domain rules below HTTP: who may do what, and which audit event a
//! change writes. Each domain's `service.rs` takes a `&Platform`, the
//! caller and a command, so an HTTP route, a trigger, a workflow step, a
//! worker or an MCP tool run the same rules. (`governance/` is the hot
//! path's own domain layer.)

pub mod agents;

use crate::governance::roles::RoleError;
use crate::store::StoreError;

/// Why a domain operation was refused; `api/error.rs` maps it to the wire.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The named thing does not exist for this caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller may not act on it; the message is written for them.
    #[error("{0}")]
    Forbidden(String),
    /// Loosening a governance value needs a higher role.
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
