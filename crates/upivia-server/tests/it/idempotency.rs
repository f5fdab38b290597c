//! Idempotency keys: replay, mismatch, in flight, scope.

use serde_json::json;

use crate::support::{TestServer, email};

fn body(payload: serde_json::Value, key: &str) -> serde_json::Value {
    json!({"service": "email", "operation": "send", "payload": payload, "metadata": null, "idempotency_key": key})
}

#[tokio::test]
async fn the_same_key_and_request_replays_the_stored_answer_without_charging_again() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let first = s
        .request_with_key(&agent, "key-1", body(email(), "key-1"))
        .await;
    assert_eq!(first.body["status"], "executed");
    // Same request with different formatting and key order.
    let reordered: serde_json::Value = serde_json::from_str(
        r#"{"body": "Testing.", "subject": "Hello", "to": "ops@example.com"}"#,
    )
    .unwrap();
    let second = s
        .request_with_key(&agent, "key-1", body(reordered, "key-1"))
        .await;
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(s.balance().await, 99);
}

#[tokio::test]
async fn a_running_answer_is_replayed_with_its_202() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("voice_call", 1000).await;
    let b = json!({"service": "voice_call", "operation": "create",
        "payload": {"to": "+15555550123", "from": "+15555550100", "say": "hello"}});
    let first = s.request_with_key(&agent, "call-1", b.clone()).await;
    assert_eq!(first.status, 202);
    let second = s.request_with_key(&agent, "call-1", b).await;
    assert_eq!(second.status, 202);
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_a_409_mismatch() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request_with_key(&agent, "key-2", body(email(), "key-2"))
        .await;
    let mut other = email();
    other["to"] = json!("someone-else@example.com");
    let r = s
        .request_with_key(&agent, "key-2", body(other, "key-2"))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "idempotency_key_payload_mismatch");
    assert_eq!(s.balance().await, 99);
}

#[tokio::test]
async fn a_retry_while_the_first_is_in_flight_is_a_409_in_use_and_runs_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let mut slow = email();
    slow["body"] = json!("sandbox-slow");
    let b = body(slow, "key-3");
    let first = {
        let (http, url, key, b) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            agent.key.clone(),
            b.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(key)
                .header("idempotency-key", "key-3")
                .json(&b)
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = s.request_with_key(&agent, "key-3", b.clone()).await;
    assert_eq!(second.status, 409, "{second:?}");
    assert_eq!(second.code(), "idempotency_key_in_use");
    let first = crate::support::reply(first.await.unwrap()).await;
    assert_eq!(
        first.body["status"], "failed",
        "the slow call times out: {first:?}"
    );
    // Once decided, the key replays the decision.
    let third = s.request_with_key(&agent, "key-3", b).await;
    assert_eq!(third.body, first.body);
    s.ledger_ok().await;
}

#[tokio::test]
async fn keys_are_scoped_to_the_agent() {
    let s = TestServer::start().await;
    let a = s.funded_agent("email", 100).await;
    let b = s.agent(json!({})).await;
    s.enable(&b, json!({"service_id": "email"})).await;
    let ra = s
        .request_with_key(&a, "shared", body(email(), "shared"))
        .await;
    let rb = s
        .request_with_key(&b, "shared", body(email(), "shared"))
        .await;
    assert_eq!(rb.body["status"], "executed");
    assert_ne!(ra.body["request_id"], rb.body["request_id"]);
    assert_eq!(s.balance().await, 98);
}

#[tokio::test]
async fn a_request_that_fails_validation_stores_nothing_under_its_key() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let bad = s
        .request_with_key(
            &agent,
            "key-4",
            body(json!({"to": "x@example.com"}), "key-4"),
        )
        .await;
    assert_eq!(bad.status, 422);
    let good = s
        .request_with_key(&agent, "key-4", body(email(), "key-4"))
        .await;
    assert_eq!(good.body["status"], "executed", "{good:?}");
}

#[tokio::test]
async fn header_and_body_keys_must_agree_and_be_sane() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .request_with_key(&agent, "header-key", body(email(), "body-key"))
        .await;
    assert_eq!(r.status, 400);
    let long = "k".repeat(300);
    let r = s
        .request_with_key(&agent, &long, body(email(), &long))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn concurrent_duplicates_execute_exactly_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let b = body(email(), "dup");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, key, b) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            agent.key.clone(),
            b.clone(),
        );
        tasks.push(tokio::spawn(async move {
            crate::support::reply(
                http.post(url)
                    .bearer_auth(key)
                    .header("idempotency-key", "dup")
                    .json(&b)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            200 => {
                ids.insert(r.body["request_id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(r.code(), "idempotency_key_in_use"),
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(s.balance().await, 99);
    s.ledger_ok().await;
}

#[tokio::test]
async fn keys_are_forgotten_after_the_retention_and_not_before() {
    // Retention 24 h; approvals may stay open 24 h, so keys live 48 h.
    let s = TestServer::start_with(|c| {
        c.idempotency_retention = std::time::Duration::from_secs(24 * 3600);
    })
    .await;
    let agent = s.funded_agent("email", 100).await;
    let first = s
        .request_with_key(&agent, "kept", body(email(), "kept"))
        .await;
    assert_eq!(first.body["status"], "executed");

    s.clock.advance(time::Duration::hours(47));
    s.tick_workers().await;
    let replay = s
        .request_with_key(&agent, "kept", body(email(), "kept"))
        .await;
    assert_eq!(replay.body["request_id"], first.body["request_id"]);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    let changed = json!({"to": "ops@example.com", "subject": "Other", "body": "x"});
    let mismatch = s
        .request_with_key(&agent, "kept", body(changed.clone(), "kept"))
        .await;
    assert_eq!(mismatch.status, 409);

    s.clock.advance(time::Duration::hours(2));
    s.tick_workers().await;
    let fresh = s
        .request_with_key(&agent, "kept", body(changed, "kept"))
        .await;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    assert_eq!(fresh.body["status"], "executed");
    assert_ne!(fresh.body["request_id"], first.body["request_id"]);
    assert_eq!(s.balance().await, 98);
    s.ledger_ok().await;
}

#[test]
fn a_retention_under_a_day_is_refused() {
    let mut config = upivia_server::config::Config::new(
        "127.0.0.1:0".parse().unwrap(),
        std::path::PathBuf::from("unused"),
    );
    config.idempotency_retention = std::time::Duration::from_secs(23 * 3600);
    assert!(config.validate().is_err());
}
