//! Real `notification.webhook` delivery to a local receiver: the signed
//! wire request (checked with the Standard Webhooks reference library),
//! retries, error mapping, and the SSRF guard.

use std::time::Duration;

use serde_json::json;
use upivia_server::config::{Config, WebhookSecret};

use crate::fakes::{Canned, FakeHttp};
use crate::providers_text::test_agent;
use crate::support::TestServer;

/// 32 bytes, base64.
pub const SIGNING_SECRET: &str = "whsec_dGhpcy1pcy1hLTMyLWJ5dGUtdGVzdC1zZWNyZXQhISE=";

async fn server(hosts: &[&str], extra: impl FnOnce(&mut Config)) -> TestServer {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    TestServer::start_with(move |c| {
        c.webhook_allowed_hosts = hosts;
        c.providers.webhook_signing_secret = Some(WebhookSecret::parse(SIGNING_SECRET).unwrap());
        extra(c);
    })
    .await
}

fn verify(hit: &crate::fakes::Hit) {
    let webhook = standardwebhooks::Webhook::new(SIGNING_SECRET).unwrap();
    webhook
        .verify(&hit.body, &hit.headers)
        .unwrap_or_else(|e| panic!("signature refused: {e:?} for {hit:?}"));
}

#[tokio::test]
async fn live_webhooks_are_delivered_signed_to_listed_hosts() {
    let receiver = FakeHttp::start(vec![Canned::text(202, "accepted")]).await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    let url = receiver.url("/hooks/orders?tenant=7");
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({
                "url": url,
                "method": "PUT",
                "headers": {"X-Custom": "yes", "Authorization": "Bearer receiver-token"},
                "body": {"event": "order.paid", "id": 7},
            }),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "webhook");
    assert_eq!(r.body["cost_cents"], 1);
    assert_eq!(s.balance().await, 99);
    let result = &r.body["result"];
    assert_eq!(result["status_code"], 202);
    assert_eq!(result["attempts"], 1);
    assert_eq!(result["method"], "PUT");
    assert_eq!(result["url"], url.as_str());

    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.method, "PUT");
    assert_eq!(hit.uri, "/hooks/orders?tenant=7");
    assert_eq!(hit.header("x-custom"), "yes");
    assert_eq!(hit.header("authorization"), "Bearer receiver-token");
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("upivia/"));
    assert_eq!(hit.json(), json!({"event": "order.paid", "id": 7}));
    assert_eq!(
        hit.header("webhook-id"),
        result["delivery_id"].as_str().unwrap()
    );
    assert!(hit.header("webhook-signature").starts_with("v1,"));
    verify(hit);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_large_answer_does_not_fail_a_delivery_that_happened() {
    let receiver = FakeHttp::start(vec![Canned::text(200, &"x".repeat(2 << 20))]).await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({"url": receiver.url("/h")}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(receiver.hits().len(), 1);
    // No body was sent, so none is signed or typed.
    let hit = &receiver.hits()[0];
    assert!(hit.body.is_empty());
    assert_eq!(hit.header("content-type"), "");
    verify(hit);
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_id_until_delivered() {
    let receiver = FakeHttp::start(vec![
        Canned::text(503, "busy"),
        Canned::text(500, "oops"),
        Canned::text(200, "ok"),
    ])
    .await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({"url": receiver.url("/h"), "body": {"n": 1}}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["attempts"], 3);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3);
    for hit in &hits {
        assert_eq!(hit.header("webhook-id"), hits[0].header("webhook-id"));
        verify(hit);
    }
    // Backoff: 100 ms, then 200 ms.
    assert!(hits[1].at - hits[0].at >= Duration::from_millis(90));
    assert!(hits[2].at - hits[1].at >= Duration::from_millis(190));
    assert_eq!(s.balance().await, 99);
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_unavailable_within_the_timeout() {
    let receiver = FakeHttp::start(vec![Canned::text(502, "bad gateway")]).await;
    let s = server(&["http://127.0.0.1"], |c| {
        c.provider_timeout = Duration::from_millis(800)
    })
    .await;
    let agent = s.funded_agent("notification", 100).await;
    let started = std::time::Instant::now();
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({"url": receiver.url("/h")}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let attempts = receiver.hits().len();
    assert!((3..=5).contains(&attempts), "{attempts} attempts");
    assert!(r.body["message"].as_str().unwrap().contains("502"), "{r:?}");
    assert_eq!(s.balance().await, 100);
    s.ledger_ok().await;
}

#[tokio::test]
async fn refusals_and_redirects_are_adapter_errors_and_redirects_are_not_followed() {
    let elsewhere = FakeHttp::start(vec![]).await;
    let receiver = FakeHttp::start(vec![
        Canned::text(410, "gone"),
        Canned::text(302, "").with_header("location", elsewhere.url("/stolen")),
    ])
    .await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    for says in ["HTTP 410", "redirect"] {
        let r = s
            .request(
                &agent,
                "notification",
                "webhook",
                json!({"url": receiver.url("/h")}),
            )
            .await;
        assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
        assert!(r.body["message"].as_str().unwrap().contains(says), "{r:?}");
    }
    // 4xx is not retried; the redirect target was never called.
    assert_eq!(receiver.hits().len(), 2);
    assert!(elsewhere.hits().is_empty());
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_addresses_and_plain_http() {
    let receiver = FakeHttp::start(vec![]).await;
    let port = receiver.addr.port();
    // `localhost` is listed by name (HTTPS, guarded), 127.0.0.1 by IP
    // without http://, and the wildcard matches neither.
    let s = server(&["*.example.com", "localhost", "127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    let cases = [
        // A listed name that resolves to loopback.
        (
            format!("https://localhost:{port}/h"),
            "not a public address",
        ),
        // Plain http to entries not listed as http://.
        (format!("http://localhost:{port}/h"), "plain http"),
        (format!("http://127.0.0.1:{port}/h"), "plain http"),
        // A loopback name that is not listed at all.
        (
            format!("https://localhost.localdomain:{port}/h"),
            "allow-list",
        ),
        (format!("https://[::1]:{port}/h"), "allow-list"),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "allow-list",
        ),
    ];
    for (url, says) in cases {
        let r = s
            .request(&agent, "notification", "webhook", json!({"url": url}))
            .await;
        assert_eq!(r.body["reason_code"], "adapter_error", "{url}: {r:?}");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(says), "{url}: {message}");
    }
    assert!(receiver.hits().is_empty(), "{:?}", receiver.hits());
    assert_eq!(s.balance().await, 100);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_wildcard_alone_does_not_reach_loopback() {
    let receiver = FakeHttp::start(vec![]).await;
    let s = server(&["*.example.com"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({"url": receiver.url("/h")}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert!(receiver.hits().is_empty());
}

#[tokio::test]
async fn test_keys_deliver_nothing() {
    let receiver = FakeHttp::start(vec![]).await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    s.credit(100).await;
    let agent = test_agent(&s, "notification").await;
    let r = s
        .request(
            &agent,
            "notification",
            "webhook",
            json!({"url": receiver.url("/h")}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "sandbox");
    assert!(receiver.hits().is_empty());
}

#[tokio::test]
async fn a_signing_secret_without_hosts_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
    config.providers.webhook_signing_secret = Some(WebhookSecret::parse(SIGNING_SECRET).unwrap());
    let err = upivia_server::prepare(config, "127.0.0.1:0".parse().unwrap())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("UPIVIA_WEBHOOK_HOSTS"), "{err}");
    for bad in ["whsec_short", "nope", "whsec_!!!"] {
        assert!(WebhookSecret::parse(bad).is_err(), "{bad}");
    }
}
