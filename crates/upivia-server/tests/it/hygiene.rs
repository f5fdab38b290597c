//! HTTP hygiene of input and errors: serde's messages in words, no internal
//! keys in errors, no duplicate JSON keys, names a person can read.

use serde_json::json;

use crate::support::{Reply, TestServer, email, reply};

async fn raw_post(s: &TestServer, path: &str, token: &str, body: &str) -> Reply {
    let r = s
        .http
        .post(format!("{}{}", s.base, path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    reply(r).await
}

fn message(r: &Reply) -> &str {
    r.body["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn type_errors_are_told_in_words_naming_the_field() {
    let s = TestServer::start().await;
    let r = s
        .post(
            "/api/v1/balance/credits",
            &s.pat,
            json!({"amount_cents": "x"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "invalid_payload"),
        "{r:?}"
    );
    assert_eq!(
        message(&r),
        "invalid field amount_cents: must be a whole number of cents, not a string"
    );
    let r = s
        .post(
            "/api/v1/balance/credits",
            &s.pat,
            json!({"amount_cents": 2.5}),
        )
        .await;
    assert_eq!(
        message(&r),
        "invalid field amount_cents: must be a whole number of cents, not 2.5"
    );
    let r = s
        .post("/api/v1/balance/credits", &s.pat, json!({"note": "n"}))
        .await;
    assert_eq!(message(&r), "invalid field amount_cents: required");
    let agent = s.funded_agent("email", 10).await;
    let r = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": 5, "operation": "send"}),
        )
        .await;
    assert_eq!(
        message(&r),
        "invalid field service: must be a string, not 5",
        "{r:?}"
    );
    let r = s
        .patch("/api/v1/org", &s.pat, json!({"kill_switch": "on"}))
        .await;
    assert_eq!(
        message(&r),
        "invalid field kill_switch: must be true or false, not a string"
    );
}

#[tokio::test]
async fn a_ledger_overflow_is_a_precise_error_without_internal_keys() {
    let s = TestServer::start().await;
    s.credit(i64::MAX).await;
    let r = s
        .post(
            "/api/v1/balance/credits",
            &s.pat,
            json!({"amount_cents": 1}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (422, "amount_out_of_range"),
        "{r:?}"
    );
    let text = message(&r);
    assert!(!text.contains("org:") && !text.contains("org_"), "{text}");
    assert!(text.contains("largest"), "{text}");
    assert_eq!(s.balance().await, i64::MAX);
}

#[tokio::test]
async fn duplicate_json_keys_are_refused_at_any_depth() {
    let s = TestServer::start().await;
    let r = raw_post(
        &s,
        "/api/v1/balance/credits",
        &s.pat,
        r#"{"amount_cents":1,"amount_cents":7}"#,
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "malformed_json"),
        "{r:?}"
    );
    assert!(message(&r).contains("\"amount_cents\""), "{r:?}");
    assert_eq!(s.balance().await, 0);

    s.credit(100).await;
    let agent = s.funded_agent("email", 1).await;
    let body = r#"{"service": "email", "operation": "send",
        "payload": {"to": "a@example.com", "to": "b@example.com", "subject": "s", "body": "b"}}"#;
    let r = raw_post(&s, "/api/v1/service-requests", &agent.key, body).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "malformed_json"),
        "{r:?}"
    );
    assert_eq!(
        message(&r),
        "request body has the key \"to\" twice in payload"
    );
    assert_eq!(s.balance().await, 101);
    // The same request without the duplicate runs.
    let ok = s.request(&agent, "email", "send", email()).await;
    assert_eq!(ok.body["status"], "executed", "{ok:?}");
}

#[tokio::test]
async fn names_need_a_visible_character_and_no_control_characters() {
    let s = TestServer::start().await;
    for bad in [
        "\u{0}",
        "\u{200B}",
        " \u{200B} ",
        "a\u{7}b",
        "\u{202E}gnp.exe",
        &"x".repeat(201),
    ] {
        let r = s.post("/api/v1/agents", &s.pat, json!({"name": bad})).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{bad:?}: {r:?}"
        );
        assert!(message(&r).starts_with("invalid field name: "), "{r:?}");
    }
    let agent = s.agent(json!({"name": "Agent 🤖"})).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", agent.id),
            &s.pat,
            json!({"name": "\u{200B}\u{FEFF}"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(message(&r).contains("visible"), "{r:?}");
    let got = s.get(&format!("/api/v1/agents/{}", agent.id), &s.pat).await;
    assert_eq!(got.body["agent"]["name"], "Agent 🤖");
}
