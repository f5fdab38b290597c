//! The SDK's one integration-test binary: wire-level tests against a
//! wiremock server, plus the check of the endpoint table against the
//! contract's `ENDPOINTS.tsv`.

#[cfg(feature = "blocking")]
mod blocking;
mod chat;
mod endpoints_tsv;
mod env;
mod errors;
mod pagination;
mod retries;
mod service_requests;
mod storage;
mod support;
mod triggers;
mod wire;
mod workflows;
