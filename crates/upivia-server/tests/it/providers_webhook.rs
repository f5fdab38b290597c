//! Real `notification.webhook` delivery to a local receiver: the signed
//! wire request (checked with the Standard Webhooks reference library),
//! retries, error mapping, and the SSRF guard.

use std::time::Duration;

use serde_json::{Value, json};
use upivia_server::config::{Config, WebhookSecret};

use crate::fakes::{Canned, FakeHttp};
use crate::providers_text::test_agent;
use crate::support::{TestAgent, TestServer};

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
    // Every attempt is in the result and in the audit trail.
    let statuses = |log: &serde_json::Value| -> Vec<i64> {
        log.as_array()
            .unwrap_or_else(|| panic!("{log}"))
            .iter()
            .map(|a| a["status_code"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(statuses(&r.body["result"]["attempt_log"]), [503, 500, 200]);
    let audit = s.get("/api/v1/audit-logs?limit=10", &s.pat).await;
    let executed = audit.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "service_request.executed")
        .cloned()
        .expect("the delivery is audited");
    assert_eq!(
        statuses(&executed["details"]["attempts"]),
        [503, 500, 200],
        "{executed}"
    );
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
    // The message, which the audit event carries, tells each attempt.
    let message = r.body["message"].as_str().unwrap();
    for n in 1..=attempts {
        assert!(message.contains(&format!("#{n} HTTP 502")), "{message}");
    }
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

fn verify_with(secret: &str, hit: &crate::fakes::Hit) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&hit.body, &hit.headers)
        .is_ok()
}

async fn deliver(s: &TestServer, agent: &TestAgent, url: String) -> Value {
    s.request(
        agent,
        "notification",
        "webhook",
        json!({"url": url, "body": {"n": 1}}),
    )
    .await
    .body
}

#[tokio::test]
async fn each_organisation_signs_with_its_own_secret_which_the_owner_rotates() {
    let receiver = FakeHttp::start(vec![]).await;
    // No configured secret: an organisation without its own sends nothing.
    let s =
        TestServer::start_with(|c| c.webhook_allowed_hosts = vec!["http://127.0.0.1".into()]).await;
    let agent = s.funded_agent("notification", 100).await;
    let path = "/api/v1/webhooks/signing-secret";

    let before = s.get(path, &s.pat).await;
    assert_eq!(before.status, 200, "{before:?}");
    assert_eq!(before.body["configured"], false);
    let unsigned = deliver(&s, &agent, receiver.url("/h")).await;
    assert_eq!(unsigned["status"], "failed", "{unsigned}");
    assert_eq!(unsigned["reason_code"], "adapter_error");
    assert!(
        unsigned["message"]
            .as_str()
            .unwrap_or_default()
            .contains("signing-secret"),
        "{unsigned}"
    );
    assert!(receiver.hits().is_empty(), "an unsigned delivery was sent");
    assert_eq!(s.balance().await, 100);

    let first = s.post(path, &s.pat, json!({})).await;
    assert_eq!(first.status, 200, "{first:?}");
    let first_secret = first.body["secret"].as_str().unwrap().to_owned();
    assert!(first_secret.starts_with("whsec_"));
    assert_eq!(first.body["version"], 1);
    let shown = s.get(path, &s.pat).await;
    assert_eq!(shown.body["configured"], true);
    assert_eq!(shown.body["version"], 1);
    assert!(!shown.body.to_string().contains(&first_secret[6..]));

    let signed = deliver(&s, &agent, receiver.url("/h")).await;
    assert_eq!(signed["status"], "executed", "{signed}");
    let hits = receiver.hits();
    assert!(verify_with(&first_secret, &hits[0]), "{:?}", hits[0]);

    let second = s.post(path, &s.pat, json!({})).await;
    let second_secret = second.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(second_secret, first_secret);
    assert_eq!(second.body["version"], 2);
    deliver(&s, &agent, receiver.url("/h")).await;
    let hits = receiver.hits();
    assert!(verify_with(&second_secret, &hits[1]));
    assert!(
        !verify_with(&first_secret, &hits[1]),
        "the old secret still signs"
    );
    assert_eq!(s.balance().await, 98);

    // Another organisation has its own (here: none yet), and the
    // reserved name stays out of the secrets API.
    let other = s.other_org("elsewhere").await;
    let theirs = s.get(path, &other.pat).await;
    assert_eq!(theirs.body["configured"], false);
    let listed = s.get("/api/v1/secrets", &s.pat).await;
    assert_eq!(listed.body["secrets"], json!([]), "{listed:?}");
    let put = s
        .send(
            reqwest::Method::PUT,
            "/api/v1/secrets/upivia.webhook_signing_secret",
            Some(&s.pat),
            Some(json!({"value": SIGNING_SECRET})),
        )
        .await;
    assert_eq!(put.status, 422, "{put:?}");

    // Rotations are audited without the value.
    let audit = s.get("/api/v1/audit-logs?limit=100", &s.pat).await;
    let text = audit.body.to_string();
    assert_eq!(text.matches("webhook.signing_secret.rotated").count(), 2);
    assert!(!text.contains(&first_secret[6..]) && !text.contains(&second_secret[6..]));
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_organisations_own_secret_wins_over_the_configured_one() {
    let receiver = FakeHttp::start(vec![]).await;
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let agent = s.funded_agent("notification", 100).await;
    deliver(&s, &agent, receiver.url("/h")).await;
    verify(&receiver.hits()[0]);

    let own = s
        .post("/api/v1/webhooks/signing-secret", &s.pat, json!({}))
        .await;
    let own = own.body["secret"].as_str().unwrap().to_owned();
    deliver(&s, &agent, receiver.url("/h")).await;
    let hit = &receiver.hits()[1];
    assert!(verify_with(&own, hit));
    assert!(!verify_with(SIGNING_SECRET, hit));
}

#[tokio::test]
async fn only_the_owner_rotates_and_admins_only_see_the_details() {
    let s = server(&["http://127.0.0.1"], |_| {}).await;
    let path = "/api/v1/webhooks/signing-secret";
    let admin = s.user_pat(upivia_server::model::Role::Admin).await;
    let member = s.user_pat(upivia_server::model::Role::Member).await;
    let refused = s.post(path, &admin, json!({})).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(s.get(path, &admin).await.status, 200);
    assert_eq!(s.get(path, &member).await.status, 403);
    assert_eq!(s.post(path, &member, json!({})).await.status, 403);
    let agent = s.agent(json!({})).await;
    assert_eq!(s.post(path, &agent.key, json!({})).await.status, 403);
    assert_eq!(s.get(path, &s.pat).await.body["configured"], false);
}
