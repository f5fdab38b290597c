//! The SDK's one integration-test binary: wire-level tests against a
//! wiremock server, the check of the endpoint table against the
//! contract's `ENDPOINTS.tsv`, and end-to-end tests (`e2e_*`) against the
//! real server started in-process.

#[cfg(feature = "blocking")]
mod blocking;
mod chat;
mod e2e_agents;
mod e2e_approvals;
mod e2e_audit_logs;
mod e2e_automation;
#[cfg(feature = "blocking")]
mod e2e_blocking;
mod e2e_chat;
mod e2e_delegation;
mod e2e_money;
mod e2e_platform;
mod e2e_races;
mod e2e_secrets;
mod e2e_service_requests;
mod e2e_storage;
mod e2e_support;
#[cfg(feature = "tools")]
mod e2e_teams;
mod e2e_tools;
mod e2e_workflows;
mod endpoints_tsv;
mod env;
mod errors;
mod pagination;
mod retries;
mod service_requests;
mod storage;
mod support;
#[cfg(feature = "tools")]
mod tools;
mod triggers;
mod wire;
mod workflows;
