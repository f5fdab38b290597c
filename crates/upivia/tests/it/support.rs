//! Shared helpers: a wiremock server and clients pointed at it.

use std::time::Duration;

use upivia::Client;
use upivia::retry::RetryPolicy;
use wiremock::MockServer;
use wiremock::matchers::any;
use wiremock::{Mock, Request, ResponseTemplate};

pub const API_KEY: &str = "agent_key_test";
pub const PAT: &str = "upivia_pat_test";

/// A retry policy with the reference shape but millisecond backoff, so
/// retry tests do not sleep for seconds.
pub fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::new(max_retries).with_backoff(Duration::from_millis(1), Duration::from_millis(4))
}

/// A client with both credentials and fast retries.
pub fn client(server: &MockServer) -> Client {
    Client::builder()
        .base_url(server.uri())
        .api_key(API_KEY)
        .pat(PAT)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap()
}

/// Answers every request with `template`.
pub async fn reply_all(server: &MockServer, template: ResponseTemplate) {
    Mock::given(any())
        .respond_with(template)
        .mount(server)
        .await;
}

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

pub fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn json_reply(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}
