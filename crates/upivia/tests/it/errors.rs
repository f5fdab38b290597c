//! Error mapping of real replies (API.md §1.6).

use serde_json::json;
use upivia::{Client, ErrorKind};
use wiremock::{MockServer, ResponseTemplate};

use crate::support::*;

async fn error_for(template: ResponseTemplate) -> upivia::Error {
    let server = MockServer::start().await;
    reply_all(&server, template).await;
    let client = Client::builder()
        .base_url(server.uri())
        .pat(PAT)
        .max_retries(0)
        .build()
        .unwrap();
    client.teams().list().await.unwrap_err()
}

fn envelope(code: &str, message: &str) -> serde_json::Value {
    json!({"error": {"code": code, "message": message}})
}

#[tokio::test]
async fn each_status_maps_to_its_kind() {
    let cases = [
        (401, "unauthorized", ErrorKind::Unauthorized),
        (403, "forbidden", ErrorKind::Unauthorized),
        (429, "rate_limited", ErrorKind::RateLimited),
        (
            409,
            "idempotency_key_payload_mismatch",
            ErrorKind::IdempotencyConflict,
        ),
        (409, "conflict", ErrorKind::Http),
        (404, "not_found", ErrorKind::Http),
        (400, "invalid_request", ErrorKind::Http),
        (500, "internal_error", ErrorKind::Http),
        (503, "unavailable", ErrorKind::Http),
    ];
    for (status, code, kind) in cases {
        let err = error_for(json_reply(status, envelope(code, "Human text"))).await;
        assert_eq!(err.kind(), kind, "{status} {code}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.server_message(), Some("Human text"));
        assert_eq!(err.body(), Some(&envelope(code, "Human text")));
    }
}

#[tokio::test]
async fn request_id_and_retry_after_are_exposed() {
    let err = error_for(
        json_reply(429, envelope("rate_limited", "slow down"))
            .insert_header("retry-after", "3")
            .insert_header("x-request-id", "rid_42"),
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
    assert_eq!(err.request_id(), Some("rid_42"));
}

#[tokio::test]
async fn non_json_bodies_are_invalid_responses_even_on_success() {
    for status in [200, 500] {
        let err =
            error_for(ResponseTemplate::new(status).set_body_string("<html>proxy</html>")).await;
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{status}");
        assert_eq!(err.status(), Some(status));
    }
}

#[tokio::test]
async fn a_redirect_on_a_json_route_is_an_http_error_and_is_not_followed() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        ResponseTemplate::new(307).insert_header("location", "/api/v1/elsewhere"),
    )
    .await;
    let client = client(&server);
    let err = client.teams().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.status(), Some(307));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn agent_endpoints_without_a_key_fail_before_sending() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({}))).await;
    let client = Client::builder()
        .base_url(server.uri())
        .pat(PAT)
        .build()
        .unwrap();
    let err = client.agents().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.status(), None);
    let err = client.budget_check().check("agt_1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn transport_failure_is_a_network_error() {
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::builder()
        .base_url(format!("http://{addr}"))
        .max_retries(0)
        .build()
        .unwrap();
    let err = client.services().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_retryable());
}
