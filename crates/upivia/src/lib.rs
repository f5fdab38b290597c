//! Rust SDK for the Upivia v1 HTTP API, a governed service-execution
//! platform for AI agents.
//!
//! The SDK speaks the same wire contract as the reference Python SDK 0.2.0:
//! the same paths, auth modes, bodies, retry policy and error kinds.
//!
//! # Quick start (async)
//!
//! ```no_run
//! use serde_json::json;
//! use upivia::models::{CreateServiceRequest, ServiceRequestOutcome};
//!
//! # #[cfg(feature = "client")]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Or `upivia::Client::from_env()` (UPIVIA_BASE_URL, UPIVIA_API_KEY, UPIVIA_PAT).
//! let client = upivia::Client::builder()
//!     .base_url("http://localhost:3000")
//!     .api_key("agent_key_...")
//!     .build()?;
//!
//! let request = CreateServiceRequest::new("email", "send", json!({"to": "a@example.com"}));
//! match client.service_requests().create(request).await? {
//!     ServiceRequestOutcome::Executed(done) => println!("done, cost {:?}", done.cost_cents),
//!     ServiceRequestOutcome::ApprovalRequired(gate) => println!("approve {}", gate.approval_id),
//!     other => println!("status {:?}", other.status()),
//! }
//! # Ok(()) }
//! ```
//!
//! # Quick start (blocking)
//!
//! With the `blocking` feature:
//!
//! ```no_run
//! # #[cfg(feature = "blocking")]
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = upivia::blocking::Client::from_env()?;
//! let balance = client.balance().get(None)?;
//! println!("{} cents", balance.amount_cents);
//! for row in client.audit_logs().list_all(Default::default()) {
//!     println!("{:?}", row?.event_type);
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every failure is an [`Error`]; branch on [`Error::kind`] (`Network`,
//! `Http`, `InvalidResponse`, `Unauthorized`, `RateLimited`,
//! `IdempotencyConflict`). Governance decisions are not errors: a blocked
//! request or an approval gate is a [`models::ServiceRequestOutcome`].
//!
//! # Features
//!
//! - `client` (default): the async [`Client`] over `reqwest` and `tokio`.
//! - `rustls` (default): TLS through rustls.
//! - `blocking`: [`blocking::Client`], the same surface without `async`.
//! - `tools` (default): [`tools::Toolkit`], the catalog as governed tools
//!   for LLM agents, each answer rendered as `STATUS: <status>` text.
//! - With `default-features = false` only [`models`], [`endpoints`] and
//!   [`sse`] are built, with no HTTP stack: that is how the server shares
//!   the wire types.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod endpoints;
pub mod models;
pub mod sse;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod pagination;
#[cfg(feature = "client")]
pub mod resources;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
pub mod transfer;

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "tools")]
pub mod tools;

#[cfg(feature = "client")]
pub use client::{
    Body, BuildError, Client, ClientBuilder, DEFAULT_TIMEOUT, MultipartBody, Reply, RequestSpec,
    RetryNotice, USER_AGENT,
};
pub use endpoints::{AuthMode, Endpoint, HttpMethod};
#[cfg(feature = "client")]
pub use error::{ApiError, Error, ErrorKind, Result};
#[cfg(feature = "client")]
pub use resources::WaitOptions;
