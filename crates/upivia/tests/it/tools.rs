//! The governed tools over the wire: catalog discovery and its fallback,
//! what a call sends, and every answer (errors included) as status text.

use serde_json::json;
use upivia::tools::{DEFAULT_OPERATIONS, Toolkit};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn catalog() -> serde_json::Value {
    json!({"services": [
        {"id": "email", "description": "Send email.", "operations": [
            {"name": "send", "base_price_cents": 1, "pricing_type": "flat",
             "input_schema": {"type": "object", "properties": {"to": {"type": "string"}}}}
        ]},
        {"id": "web_search", "operations": [{"name": "search", "base_price_cents": 2}]}
    ]})
}

async fn serve_catalog(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v1/services"))
        .respond_with(json_reply(200, catalog()))
        .mount(server)
        .await;
}

#[tokio::test]
async fn tools_come_from_the_public_catalog() {
    let server = MockServer::start().await;
    serve_catalog(&server).await;
    let toolkit = Toolkit::from_catalog(client(&server)).await;
    let names: Vec<&str> = toolkit.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["email_send", "web_search_search"]);
    assert!(toolkit.tools()[0].description.contains("1 cents"));
    let catalog_call = &requests(&server).await[0];
    assert_eq!(
        header(catalog_call, "authorization"),
        None,
        "the catalog is public"
    );
}

#[tokio::test]
async fn an_unreachable_or_empty_catalog_falls_back_to_the_defaults() {
    let failing = MockServer::start().await;
    reply_all(
        &failing,
        json_reply(
            500,
            json!({"error": {"code": "internal_error", "message": "x"}}),
        ),
    )
    .await;
    let empty = MockServer::start().await;
    reply_all(&empty, json_reply(200, json!({"services": []}))).await;
    let not_json = MockServer::start().await;
    reply_all(
        &not_json,
        ResponseTemplate::new(200).set_body_string("<html>"),
    )
    .await;

    for server in [&failing, &empty, &not_json] {
        let toolkit = Toolkit::from_catalog(client(server)).await;
        let names: Vec<String> = toolkit.tools().iter().map(|t| t.name.clone()).collect();
        let expected: Vec<String> = DEFAULT_OPERATIONS
            .iter()
            .map(|(s, o, _)| format!("{s}_{o}"))
            .collect();
        assert_eq!(names, expected);
    }
    let nowhere = upivia::Client::builder()
        .base_url("http://127.0.0.1:9")
        .max_retries(0)
        .build()
        .unwrap();
    assert_eq!(Toolkit::from_catalog(nowhere).await.tools().len(), 11);
}

#[tokio::test]
async fn a_call_is_a_governed_service_request_with_the_args_as_payload() {
    let server = MockServer::start().await;
    serve_catalog(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v1/service-requests"))
        .respond_with(json_reply(
            200,
            json!({"status": "executed", "request_id": "r1", "result": {"ok": 1}, "cost_cents": 1}),
        ))
        .mount(&server)
        .await;
    let toolkit = Toolkit::from_catalog(client(&server)).await;
    let text = toolkit
        .invoke(
            "email_send",
            json!({"to": "a@b.co", "subject": "S", "body": "B"}),
        )
        .await;
    assert_eq!(text, "STATUS: executed\ncost_cents: 1\nresult: {\"ok\":1}");

    let sent = requests(&server).await;
    let post = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["service"], "email");
    assert_eq!(body["operation"], "send");
    assert_eq!(
        body["payload"],
        json!({"to": "a@b.co", "subject": "S", "body": "B"})
    );
    assert_eq!(header(post, "authorization"), Some("Bearer agent_key_test"));
    assert!(header(post, "idempotency-key").is_some());
}

#[tokio::test]
async fn governance_answers_and_http_errors_are_status_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_reply(
            200,
            json!({"status": "approval_required", "request_id": "r", "approval_id": "appr_7", "estimated_cost_cents": 25}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_reply(
            402,
            json!({"error": {"code": "payment_required", "message": "top up"}}),
        ))
        .mount(&server)
        .await;
    let toolkit = Toolkit::offline(client(&server));

    let gated = toolkit.invoke("email_send", json!({"to": "a@b.co"})).await;
    assert!(gated.starts_with("STATUS: approval_required\n"), "{gated}");
    assert!(gated.contains("approval_id: appr_7"));
    assert!(gated.contains("estimated_cost_cents: 25"));

    let error = toolkit.call("email_send", json!({"to": "a@b.co"})).await;
    assert_eq!(error["status"], "error");
    assert_eq!(error["kind"], "http");
    assert_eq!(error["code"], "payment_required");
    assert_eq!(error["http_status"], 402);
    let text = toolkit.invoke("email_send", json!({"to": "a@b.co"})).await;
    assert!(text.starts_with("STATUS: error\n"), "{text}");
}

#[tokio::test]
async fn a_network_failure_is_status_error_with_kind_network() {
    let client = upivia::Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_key(API_KEY)
        .max_retries(0)
        .build()
        .unwrap();
    let toolkit = Toolkit::offline(client);
    let out = toolkit
        .call("web_search_search", json!({"query": "x"}))
        .await;
    assert_eq!(out["status"], "error");
    assert_eq!(out["kind"], "network");
}
