//! Integration tests: the real server on an ephemeral port, over HTTP.

mod support;

mod approvals;
mod audit;
mod auth;
mod bad_input;
mod budget;
mod concurrency;
mod idempotency;
mod pipeline;
mod platform;
mod sessions;
mod usage;
