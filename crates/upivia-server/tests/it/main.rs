//! Integration tests: the real server on an ephemeral port, over HTTP.

mod fakes;
mod support;

mod agents_lifecycle;
mod approvals;
mod audit;
mod auth;
mod auth_matrix;
mod bad_input;
mod budget;
mod concurrency;
mod connections;
mod coordination;
#[cfg(unix)]
mod data_at_rest;
mod delegation;
mod http_hygiene;
mod hygiene;
mod idempotency;
mod inbox;
mod people;
mod pipeline;
mod platform;
mod pools;
mod postgres;
mod postgres_audit;
mod postgres_coordination;
mod postgres_governance;
mod postgres_identity;
mod postgres_import;
mod private_services;
mod providers_apis;
mod providers_email;
mod providers_logs;
mod providers_text;
mod providers_twilio;
mod providers_webhook;
mod refusals;
mod roles;
mod scheduled_tasks;
mod secrets;
mod sessions;
mod spawn;
mod teams;
mod triggers;
mod usage;
