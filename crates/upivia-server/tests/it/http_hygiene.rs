//! Headers every response carries, the metrics token and listener, and
//! what becomes of an incoming request id.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestServer;

const METRICS_TOKEN: &str = "metrics-token-for-tests-0123456789";

fn assert_hygiene(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(
        headers
            .get("x-content-type-options")
            .map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}: {headers:?}"
    );
    assert_eq!(
        headers.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}: {headers:?}"
    );
}

#[tokio::test]
async fn every_response_says_nosniff_and_no_store_secrets_above_all() {
    let s = TestServer::start().await;
    // The responses that carry a secret: a new agent's key, a rotated key,
    // a session cookie.
    let created = s.post("/api/v1/agents", &s.pat, json!({"name": "a"})).await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_hygiene("agent create", &created.headers);
    let id = created.body["agent"]["id"].as_str().unwrap();
    let rotated = s
        .patch(
            &format!("/v1/agents/{id}/key"),
            &s.pat,
            json!({"confirm": true}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_hygiene("key rotation", &rotated.headers);
    let login = s
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "owner@upivia.local", "password": s.password})),
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_hygiene("login", &login.headers);
    // And everything else, errors included.
    for (what, reply) in [
        ("balance", s.get("/api/v1/balance", &s.pat).await),
        (
            "healthz",
            s.send(Method::GET, "/v1/healthz", None, None).await,
        ),
        (
            "401",
            s.get("/api/v1/balance", "upivia_pat_live_nope").await,
        ),
        ("404", s.send(Method::GET, "/nowhere", None, None).await),
    ] {
        assert_hygiene(what, &reply.headers);
    }
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_hygiene("metrics", metrics.headers());
    // Every metric says what it counts.
    let text = metrics.text().await.unwrap();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no # HELP line:\n{text}"
        );
    }
    assert!(
        text.contains("# HELP upivia_http_requests_total "),
        "{text}"
    );
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_only_when_short_and_plain() {
    let s = TestServer::start().await;
    let url = format!("{}/api/v1/healthz", s.base);
    let echoed = |id: String| {
        let http = s.http.clone();
        let url = url.clone();
        async move {
            let r = http
                .get(url)
                .header("x-request-id", id)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.headers()["x-request-id"].to_str().unwrap().to_owned()
        }
    };
    let plain = "req-123_abc.def:9".to_owned();
    assert_eq!(echoed(plain.clone()).await, plain);
    let longest = "a".repeat(128);
    assert_eq!(echoed(longest.clone()).await, longest);
    for bad in [
        "a".repeat(100 * 1024),
        "b".repeat(129),
        "has space".into(),
        "<script>".into(),
        "quote\"d".into(),
    ] {
        let got = echoed(bad.clone()).await;
        assert_ne!(got, bad);
        assert!(
            !got.is_empty()
                && got.len() <= 128
                && got
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)),
            "replacement {got:?}"
        );
    }
}

#[tokio::test]
async fn metrics_need_the_bearer_token_when_one_is_set() {
    let s = TestServer::start_with(|c| c.metrics_token = Some(METRICS_TOKEN.into())).await;
    let url = format!("{}/metrics", s.base);
    for presented in [
        None,
        Some("wrong"),
        Some(&METRICS_TOKEN[..METRICS_TOKEN.len() - 1]),
    ] {
        let mut req = s.http.get(&url);
        if let Some(t) = presented {
            req = req.bearer_auth(t);
        }
        let r = crate::support::reply(req.send().await.unwrap()).await;
        assert_eq!(r.status, 401, "{presented:?}: {r:?}");
        assert_eq!(r.code(), "unauthorized");
    }
    let r = s
        .http
        .get(&url)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("upivia_http_requests_total")
    );
}

#[tokio::test]
async fn a_short_metrics_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let mut config = upivia_server::config::Config::new(addr, dir.path().join("data"));
    config.metrics_token = Some("short".into());
    let err = upivia_server::prepare(config, addr)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("metrics token"), "{err}");
}

#[tokio::test]
async fn a_separate_metrics_address_serves_metrics_and_the_api_address_does_not() {
    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = TestServer::start_with(|c| c.metrics_listen = Some(metrics_addr)).await;
    let on_api = s.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(on_api.status, 404, "{on_api:?}");
    assert_eq!(on_api.code(), "not_found");
    // A request the API counted, then seen on the metrics address.
    assert_eq!(
        s.send(Method::GET, "/api/v1/healthz", None, None)
            .await
            .status,
        200
    );
    let r = s
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .expect("the metrics listener answers");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("upivia_http_requests_total")
    );
    // It serves nothing but /metrics.
    let r = s
        .http
        .get(format!("http://{metrics_addr}/api/v1/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
