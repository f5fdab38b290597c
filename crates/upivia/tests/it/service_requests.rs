//! Service-request create/get and `create_and_wait` (API.md §1.8, §1.15, §2.1).

use std::time::Duration;

use serde_json::json;
use upivia::models::{CreateServiceRequest, ServiceRequestOutcome};
use upivia::{Client, ErrorKind, WaitOptions};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::*;

fn fast_wait() -> WaitOptions {
    WaitOptions::default().with_poll_interval(Duration::from_millis(5))
}

#[tokio::test]
async fn generated_key_goes_in_header_and_body() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"status": "blocked", "request_id": "r", "reason_code": "policy_block", "message": "no"}))).await;
    let client = Client::builder()
        .base_url(server.uri())
        .api_key(API_KEY)
        .idempotency_key_generator(|| "fixed-key".to_owned())
        .build()
        .unwrap();
    let outcome = client
        .service_requests()
        .create(CreateServiceRequest::new(
            "email",
            "send",
            json!({"to": "x"}),
        ))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("policy_block"));
    let sent = requests(&server).await;
    assert_eq!(header(&sent[0], "idempotency-key"), Some("fixed-key"));
    let body: serde_json::Value = sent[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({"service": "email", "operation": "send", "payload": {"to": "x"}, "metadata": null, "idempotency_key": "fixed-key"})
    );
}

#[tokio::test]
async fn default_keys_are_fresh_uuid_hex() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(200, json!({"status": "executed", "request_id": "r"})),
    )
    .await;
    let client = client(&server);
    for _ in 0..2 {
        client
            .service_requests()
            .create(CreateServiceRequest::new("email", "send", json!({})))
            .await
            .unwrap();
    }
    let sent = requests(&server).await;
    let keys: Vec<&str> = sent
        .iter()
        .map(|r| header(r, "idempotency-key").unwrap())
        .collect();
    assert_ne!(keys[0], keys[1]);
    for key in keys {
        assert_eq!(key.len(), 32);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{key}"
        );
    }
}

#[tokio::test]
async fn an_approval_gate_is_an_answer_not_an_error() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(200, json!({"status": "approval_required", "request_id": "r", "approval_id": "appr_1", "estimated_cost_cents": 50, "expires_at": "2026-01-01T00:00:00Z"})),
    )
    .await;
    let outcome = client(&server)
        .service_requests()
        .create(CreateServiceRequest::new("voice_call", "create", json!({})))
        .await
        .unwrap();
    let ServiceRequestOutcome::ApprovalRequired(gate) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(gate.approval_id, "appr_1");
    assert_eq!(
        gate.estimated_cost_cents,
        Some(upivia::models::Cents::new(50))
    );
}

#[tokio::test]
async fn idempotency_conflict_has_its_own_kind() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            409,
            json!({"error": {"code": "idempotency_key_payload_mismatch", "message": "m"}}),
        ),
    )
    .await;
    let err = client(&server)
        .service_requests()
        .create(CreateServiceRequest::new("email", "send", json!({})).with_idempotency_key("k"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn create_and_wait_polls_running_through_approval_to_terminal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_reply(202, json!({"status": "running", "request_id": "req_9", "initial_cost_cents": 5, "provider": "p", "external_id": "e"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/service-requests/req_9"))
        .respond_with(json_reply(
            200,
            json!({"status": "running", "request_id": "req_9"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_reply(
            200,
            json!({"status": "approval_required", "request_id": "req_9", "approval_id": "a"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_reply(200, json!({"status": "executed", "request_id": "req_9", "result": {"ok": 1}, "cost_cents": 7})))
        .mount(&server)
        .await;
    let outcome = client(&server)
        .service_requests()
        .create_and_wait(
            CreateServiceRequest::new("voice_call", "create", json!({})),
            fast_wait(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.status(), Some("executed"));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 4);
    assert!(sent[1..].iter().all(|r| r.method.as_str() == "GET"));
}

#[tokio::test]
async fn create_and_wait_returns_a_non_running_outcome_at_once() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"status": "failed", "request_id": "r", "reason_code": "adapter_error", "message": "x"}))).await;
    let outcome = client(&server)
        .service_requests()
        .create_and_wait(
            CreateServiceRequest::new("email", "send", json!({})),
            fast_wait(),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, ServiceRequestOutcome::Failed(_)));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn create_and_wait_times_out_with_kind_http() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_reply(
            202,
            json!({"status": "running", "request_id": "req_1"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_reply(
            200,
            json!({"status": "running", "request_id": "req_1"}),
        ))
        .mount(&server)
        .await;
    let wait = WaitOptions::default()
        .with_poll_interval(Duration::from_millis(10))
        .with_timeout(Duration::from_millis(60));
    let err = client(&server)
        .service_requests()
        .create_and_wait(CreateServiceRequest::new("email", "send", json!({})), wait)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert!(matches!(err, upivia::Error::WaitTimeout { .. }), "{err:?}");
    assert!(requests(&server).await.len() >= 2);
}

#[test]
fn poll_interval_grows_by_half_up_to_ten_seconds() {
    let mut interval = WaitOptions::default().poll_interval;
    let mut seen = Vec::new();
    for _ in 0..8 {
        seen.push(interval.as_millis());
        interval = WaitOptions::next_interval(interval);
    }
    assert_eq!(seen, [2000, 3000, 4500, 6750, 10000, 10000, 10000, 10000]);
}
