//! Governance: every decision the platform makes about a service request,
//! in the order `pipeline.rs` applies them. Nothing here knows about HTTP;
//! `api/` translates [`GovernanceError`] into statuses and codes.

pub mod approvals;
pub mod budget;
pub mod delegation;
pub mod error;
pub mod execute;
pub mod idempotency;
pub mod internal_ops;
pub mod lineage;
pub mod metered;
pub mod outcome;
pub mod outcome_review;
pub mod pipeline;
pub mod policy;
pub mod private_services;
pub mod rate_limit;
pub mod reconcile;
pub mod record;
pub mod recovery;
pub mod refusals;
pub mod resolve;
pub mod roles;
pub mod room_budget;
pub mod secrets;
pub mod simulate;
pub mod trail;
pub mod validation;
pub mod workflow_budget;

pub use error::GovernanceError;
