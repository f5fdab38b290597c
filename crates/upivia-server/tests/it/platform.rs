//! Health, readiness, self-description, metrics, request ids, both prefixes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestServer, email};

#[tokio::test]
async fn health_and_readiness_report_the_database_and_workers() {
    let s = TestServer::start().await;
    let r = s.send(Method::GET, "/api/v1/healthz", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["ok"], true);
    // The worker loop makes its first pass as the server starts.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = s
        .send(Method::GET, "/v1/health/readiness", None, None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["checks"]["worker"], "ok");
}

#[tokio::test]
async fn readiness_is_503_when_the_worker_heartbeat_goes_stale() {
    let s = TestServer::start().await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Ten worker intervals (an hour each in tests) pass with no new beat.
    s.clock.advance(time::Duration::hours(11));
    let r = s
        .send(Method::GET, "/api/v1/health/readiness", None, None)
        .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.body["status"], "degraded");
    assert_eq!(r.body["checks"]["db"], "ok");
    assert_eq!(r.body["checks"]["worker"], "stale");
    assert_eq!(r.body["error"]["code"], "unavailable");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = TestServer::start().await;
    for path in [
        "/api/v1/healthz",
        "/api/v1/nope",
        "/metrics",
        "/v1/services",
    ] {
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        let id = r
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path}: no x-request-id"));
        assert!(!id.is_empty());
    }
    let r = s
        .http
        .get(format!("{}/api/v1/healthz", s.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn the_catalog_has_the_default_operations_with_prices_and_schemas() {
    let s = TestServer::start().await;
    let r = s.send(Method::GET, "/api/v1/services", None, None).await;
    let mut names = Vec::new();
    for service in r.body["services"].as_array().unwrap() {
        for op in service["operations"].as_array().unwrap() {
            assert!(op["base_price_cents"].is_i64());
            assert_eq!(op["input_schema"]["type"], "object");
            names.push(format!(
                "{}.{}",
                service["id"].as_str().unwrap(),
                op["name"].as_str().unwrap()
            ));
        }
    }
    for required in [
        "email.send",
        "text_generation.generate",
        "web_search.search",
        "discord.send_message",
        "reddit.submit_post",
        "bluesky.post",
        "x.post",
        "mastodon.post",
        "github.create_issue",
        "notion.create_page",
        "platform.check_budget",
        "voice_call.create",
        "sms.send",
        "mms.send",
        "chat.dm",
        "chat.read",
        "notification.webhook",
    ] {
        assert!(names.iter().any(|n| n == required), "missing {required}");
    }
}

/// Fills `{placeholders}` with ids that exist nowhere.
fn concrete(path: &str) -> String {
    path.replace("{request_id}", "req_01jzzzzzzzzzzzzzzzzzzzzzzz")
        .replace("{approval_id}", "appr_01jzzzzzzzzzzzzzzzzzzzzzzz")
        .replace("{agent_id}", "agt_01jzzzzzzzzzzzzzzzzzzzzzzz")
}

#[tokio::test]
async fn agent_docs_lists_every_endpoint_and_each_one_is_routed() {
    let s = TestServer::start().await;
    let docs = s.send(Method::GET, "/api/v1/agent-docs", None, None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body["services"].as_array().unwrap().len() >= 16);
    let endpoints = docs.body["endpoints"].as_array().unwrap();
    assert!(endpoints.len() >= 25);
    for e in endpoints {
        let method = Method::from_bytes(e["method"].as_str().unwrap().as_bytes()).unwrap();
        let path = concrete(e["path"].as_str().unwrap());
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let r = s.send(method.clone(), &path, Some(&s.pat), body).await;
        assert_ne!(
            r.status, 405,
            "{method} {path} is documented but not routed"
        );
        assert!(
            !(r.status == 404
                && r.code() == "not_found"
                && r.body["error"]["message"] == "no route for this path"),
            "{method} {path} is documented but not routed"
        );
    }
}

#[tokio::test]
async fn metrics_count_requests_and_decisions() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    let text = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("upivia_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/api/v1/service-requests\""),
        "{text}"
    );
    assert!(
        text.contains("upivia_decisions_total{status=\"executed\"}"),
        "{text}"
    );
    assert!(text.contains("upivia_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn agents_can_be_read_updated_and_bound_with_camel_case_fields() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"description": "d", "icon": "🤖"})).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", agent.id),
            &s.pat,
            json!({"defaultModelId": "openai/gpt-4.1-mini", "category": "ops"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let list = s.get("/api/v1/agents", &s.pat).await;
    let row: &Value = list.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent.id.as_str())
        .unwrap();
    assert_eq!(row["default_model_id"], "openai/gpt-4.1-mini");
    assert_eq!(row["status"], "active");
    assert_eq!(row["icon"], "🤖");
    s.enable(&agent, json!({"service_id": "svc_email", "config": {"require_approval": true, "daily_request_limit": 5}})).await;
    let got = s.get(&format!("/api/v1/agents/{}", agent.id), &s.pat).await;
    assert_eq!(got.body["services"][0]["service_id"], "email");
    assert_eq!(got.body["services"][0]["require_approval"], true);
    assert_eq!(got.body["services"][0]["daily_request_limit"], 5);
    let off = s
        .send(
            Method::DELETE,
            &format!("/api/v1/agents/{}/services?service_id=email", agent.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(off.body["removed"], 1);
    let again = s
        .send(
            Method::DELETE,
            &format!("/api/v1/agents/{}/services?service_id=email", agent.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(again.status, 200, "disabling is idempotent");
    let unknown = s
        .post(
            &format!("/api/v1/agents/{}/services", agent.id),
            &s.pat,
            json!({"service_id": "fax"}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let missing = s
        .get("/api/v1/agents/agt_01jzzzzzzzzzzzzzzzzzzzzzzz", &s.pat)
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let mut slow = email();
    slow["body"] = json!("sandbox-slow");
    let in_flight = {
        let (http, url, key) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            agent.key.clone(),
        );
        let body = json!({"service": "email", "operation": "send", "payload": slow});
        tokio::spawn(async move { http.post(url).bearer_auth(key).json(&body).send().await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.begin_shutdown();
    // The request in flight still gets its answer (the provider times out
    // after 2 s in tests): a decision, not a reset connection.
    let answer = in_flight
        .await
        .unwrap()
        .expect("in-flight request answered");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason_code"], "provider_unavailable");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let refused = reqwest::Client::new()
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "new connections are refused after shutdown: {refused:?}"
    );
}
