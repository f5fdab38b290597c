//! The retry policy as the server sees it (API.md §1.7): attempts counted
//! per status and method.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use upivia::models::CreateServiceRequest;
use upivia::{Client, ErrorKind};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn client_with(server: &MockServer, max_retries: u32) -> Client {
    Client::builder()
        .base_url(server.uri())
        .api_key(API_KEY)
        .pat(PAT)
        .retry_policy(fast_retries(max_retries))
        .build()
        .unwrap()
}

fn failing(status: u16) -> ResponseTemplate {
    let mut t = json_reply(status, json!({"error": {"code": "x", "message": "m"}}));
    if status == 429 {
        t = t.insert_header("retry-after", "0");
    }
    t
}

#[tokio::test]
async fn gets_are_retried_on_429_502_503_504_only() {
    let cases = [
        (429, 3),
        (502, 3),
        (503, 3),
        (504, 3),
        (500, 1),
        (400, 1),
        (404, 1),
        (401, 1),
    ];
    for (status, attempts) in cases {
        let server = MockServer::start().await;
        reply_all(&server, failing(status)).await;
        let err = client_with(&server, 2)
            .platform()
            .health()
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(requests(&server).await.len(), attempts, "status {status}");
    }
}

#[tokio::test]
async fn plain_mutations_are_never_retried() {
    for status in [429, 502, 503, 504] {
        let server = MockServer::start().await;
        reply_all(&server, failing(status)).await;
        let client = client_with(&server, 2);
        client.approvals().approve("appr_1").await.unwrap_err();
        client
            .agents()
            .update("agt_1", &json!({}))
            .await
            .unwrap_err();
        client.agents().delete("agt_1").await.unwrap_err();
        client.budget_check().check("agt_1").await.unwrap_err();
        assert_eq!(requests(&server).await.len(), 4, "status {status}");
    }
}

#[tokio::test]
async fn service_request_create_is_retried_with_the_same_key() {
    let server = MockServer::start().await;
    reply_all(&server, failing(503)).await;
    let client = client_with(&server, 2);
    let err = client
        .service_requests()
        .create(CreateServiceRequest::new("email", "send", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    let keys: Vec<&str> = sent
        .iter()
        .map(|r| header(r, "idempotency-key").unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    for r in &sent {
        let body: serde_json::Value = r.body_json().unwrap();
        assert_eq!(body["idempotency_key"], keys[0]);
    }
}

#[tokio::test]
async fn a_retry_that_succeeds_returns_the_success() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(failing(502))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    reply_all(&server, json_reply(200, json!({"ok": true}))).await;
    let value = client_with(&server, 2).platform().health().await.unwrap();
    assert_eq!(value, json!({"ok": true}));
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn max_retries_zero_sends_once() {
    let server = MockServer::start().await;
    reply_all(&server, failing(503)).await;
    let client = Client::builder()
        .base_url(server.uri())
        .max_retries(0)
        .build()
        .unwrap();
    client.platform().readiness().await.unwrap_err();
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn retry_after_on_429_sets_the_delay() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(json_reply(429, json!({})).insert_header("retry-after", "0.4"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    reply_all(&server, json_reply(200, json!({"ok": true}))).await;
    // Jitter alone would wait at most 4 ms with this policy.
    let client = client_with(&server, 1);
    let started = Instant::now();
    client.services().list().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}

/// A TCP server that accepts connections and closes them at once, counting
/// them: every request fails at the transport level.
async fn slammer() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn network_errors_are_retried_for_gets_only() {
    let (url, count) = slammer().await;
    let client = Client::builder()
        .base_url(url)
        .api_key(API_KEY)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap();
    let err = client.services().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    count.store(0, Ordering::SeqCst);
    let err = client.agents().create(&json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    // POST is not replayable, but the pool may have opened one connection only.
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn on_retry_is_told_each_wait_before_it_happens() {
    let server = MockServer::start().await;
    reply_all(&server, failing(429)).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let client = Client::builder()
        .base_url(server.uri())
        .pat(PAT)
        .retry_policy(fast_retries(2))
        .on_retry(move |n| {
            sink.lock()
                .unwrap()
                .push((n.method, n.path.clone(), n.attempt, n.status))
        })
        .build()
        .unwrap();
    client.platform().health().await.unwrap_err();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("GET", "/api/v1/healthz".to_owned(), 1, Some(429)),
            ("GET", "/api/v1/healthz".to_owned(), 2, Some(429)),
        ]
    );
}
