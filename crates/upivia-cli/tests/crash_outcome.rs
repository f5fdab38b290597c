//! A crash after a provider was called must not turn a side effect that
//! may have happened into a free `failed`. Real `upivia serve` processes
//! call a local fake of two providers that takes each call and does not
//! answer; the server is killed with `kill -9` while the calls hang, and
//! restarted on the same database:
//!
//! - the webhook (no idempotency upstream) ends `failed` / `outcome_unknown`
//!   with its estimate still held and an outcome review in the approvals
//!   inbox; one is settled (charged, once, the race's loser gets 409), one
//!   released (nothing charged), and both decisions are audited;
//! - the Mastodon post (which honours `Idempotency-Key`), and a private
//!   service registered as `idempotent`, are repeated with the same key and
//!   settle as executed, charged once;
//! - a sandbox request cut at the same moment stays `interrupted`, free.
//!
//! On SQLite, and on PostgreSQL when `UPIVIA_TEST_POSTGRES_URL` is set.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use upivia_server::store::postgres::testing::{TestDatabase, server_url};

mod support;
use support::{Server, call, free_port};

/// What the fake was sent: path, idempotency key, body.
type Seen = Arc<Mutex<Vec<(String, Option<String>, Value)>>>;

#[derive(Clone)]
struct Fake {
    seen: Seen,
    /// Until set, every call is taken and never answered.
    answer: Arc<AtomicBool>,
}

async fn take(fake: &Fake, path: &str, headers: &HeaderMap, body: Value) {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    fake.seen.lock().unwrap().push((path.to_owned(), key, body));
    if !fake.answer.load(Ordering::SeqCst) {
        // Long past the kill; the connection dies with the server.
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
}

async fn hook(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> &'static str {
    take(&fake, "/hook", &headers, body.0).await;
    "ok"
}

async fn statuses(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> axum::Json<Value> {
    take(&fake, "/api/v1/statuses", &headers, body.0).await;
    axum::Json(json!({
        "id": "109",
        "uri": "https://social.example/users/bot/statuses/109",
        "url": "https://social.example/@bot/109",
        "visibility": "public",
        "content": "<p>posted</p>",
        "created_at": "2026-12-03T10:00:00.000Z",
    }))
}

async fn private(
    State(fake): State<Fake>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> axum::Json<Value> {
    take(&fake, "/private", &headers, body.0).await;
    axum::Json(json!({"charged": true}))
}

async fn fake_upstream() -> (Fake, String) {
    let fake = Fake {
        seen: Arc::default(),
        answer: Arc::default(),
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/api/v1/statuses", post(statuses))
        .route("/private", post(private))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, base)
}

async fn start(data: &Path, database: Option<&str>, upstream: &str) -> Server {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upivia"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        // The fake never answers: the calls hang until the kill.
        .args(["--provider-timeout-ms", "60000"])
        // A dead node's lease runs out soon (PostgreSQL).
        .args(["--worker-interval-ms", "200"])
        .env("UPIVIA_WEBHOOK_HOSTS", "http://127.0.0.1")
        .env(
            "UPIVIA_WEBHOOK_SIGNING_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .env("UPIVIA_MASTODON_BASE_URL", upstream)
        .env("UPIVIA_MASTODON_ACCESS_TOKEN", "mastodon-token")
        // The same audit key across restarts (and on PostgreSQL, where the
        // data dir does not keep it).
        .env("UPIVIA_AUDIT_KEY", "7f".repeat(32))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database {
        cmd.args(["--database-url", url]);
    }
    let child = cmd.spawn().expect("server starts");
    support::healthy(child, port).await
}

async fn get(http: &reqwest::Client, base: &str, path: &str, token: &str) -> Value {
    let (status, body) = call(
        http,
        reqwest::Method::GET,
        format!("{base}{path}"),
        token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// `upivia <args>` as an operator with the PAT.
fn cli(base: &str, pat: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(args)
        .args(["--base-url", base])
        .env("UPIVIA_PAT", pat)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn webhook(upstream: &str, n: u32) -> Value {
    json!({"service": "notification", "operation": "webhook",
        "payload": {"url": format!("{upstream}/hook"), "method": "POST", "body": {"n": n}}})
}

async fn wait_seen(fake: &Fake, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.seen.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "the fake saw {:?}",
            fake.seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(database: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (fake, upstream) = fake_upstream().await;
    let mut server = start(&data, database, &upstream).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let post = reqwest::Method::POST;
    let (agent_id, key) = support::funded_agent(
        &http,
        &base,
        &pat,
        10_000,
        "crash-outcome",
        &["notification", "mastodon", "email", "platform"],
    )
    .await;

    // The organisation's own API, declared to honour Idempotency-Key.
    let (status, body) = call(
        &http,
        reqwest::Method::PUT,
        format!("{base}/api/v1/secrets/API_TOKEN"),
        &pat,
        Some(json!({"value": "private-api-token-5e"})),
    )
    .await;
    assert!(status < 300, "{body}");
    let (_, registered) = call(
        &http,
        post.clone(),
        format!("{base}/api/v1/service-requests"),
        &key,
        Some(
            json!({"service": "platform", "operation": "register_service", "payload": {
            "key": "billing.charge", "endpoint": format!("{upstream}/private"),
            "auth": {"type": "bearer", "secret_ref": "API_TOKEN"},
            "request_schema": {"type": "object"}, "cost_estimate_cents": 7, "idempotent": true}}),
        ),
    )
    .await;
    assert_eq!(registered["status"], "executed", "{registered}");
    let (status, body) = call(
        &http,
        post.clone(),
        format!("{base}/api/v1/agents/{agent_id}/services"),
        &pat,
        Some(json!({"service_id": "billing", "operation": "charge"})),
    )
    .await;
    assert!(status < 300, "{body}");

    // In flight at the kill: two webhooks, a Mastodon post and a private
    // call, each taken
    // by the fake and never answered, and a slow sandbox email.
    let requests = [
        (webhook(&upstream, 1), "hook-1"),
        (webhook(&upstream, 2), "hook-2"),
        (
            json!({"service": "mastodon", "operation": "post",
                "payload": {"status": "deployed", "visibility": "public"}}),
            "toot",
        ),
        (
            json!({"service": "billing", "operation": "charge", "payload": {"amount": 1}}),
            "charge",
        ),
        (
            json!({"service": "email", "operation": "send",
                "payload": {"to": "a@example.com", "subject": "s", "body": "sandbox-slow"}}),
            "mail",
        ),
    ];
    for (body, idem) in &requests {
        let (http, base, key, body, idem) = (
            http.clone(),
            base.clone(),
            key.clone(),
            body.clone(),
            idem.to_string(),
        );
        tokio::spawn(async move {
            let _ = http
                .post(format!("{base}/api/v1/service-requests"))
                .bearer_auth(&key)
                .header("idempotency-key", idem)
                .json(&body)
                .send()
                .await;
        });
    }
    wait_seen(&fake, 4).await;
    // The sandbox email is slow for a few seconds: it is executing too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = get(&http, &base, "/api/v1/balance", &pat).await;
    assert!(held["reserved_cents"].as_i64().unwrap() > 0, "{held}");
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // Restarted: the fake answers now.
    fake.answer.store(true, Ordering::SeqCst);
    let server = start(&data, database, &upstream).await;
    let base = server.base.clone();
    // On PostgreSQL the killed node's requests are taken over once its
    // lease runs out; until then their keys are still in use.
    let replay = |idem: &'static str| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        let body = requests.iter().find(|(_, i)| *i == idem).unwrap().0.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let r = http
                    .post(format!("{base}/api/v1/service-requests"))
                    .bearer_auth(&key)
                    .header("idempotency-key", idem)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let answer = r.json::<Value>().await.unwrap();
                if answer["error"]["code"] != "idempotency_key_in_use" {
                    return answer;
                }
                assert!(Instant::now() < deadline, "{idem} was never recovered");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };

    // The Mastodon post was asked again with the same key: executed, once.
    let toot = replay("toot").await;
    assert_eq!(toot["status"], "executed", "{toot}");
    assert_eq!(toot["result"]["id"], "109", "{toot}");
    let toot_cost = toot["cost_cents"].as_i64().unwrap();
    assert!(toot_cost > 0, "{toot}");
    let keys: Vec<Option<String>> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _, _)| path == "/api/v1/statuses")
        .map(|(_, k, _)| k.clone())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");

    // So was the private call that declared itself idempotent.
    let charge = replay("charge").await;
    assert_eq!(charge["status"], "executed", "{charge}");
    assert_eq!(charge["result"], json!({"charged": true}));
    assert_eq!(charge["cost_cents"], 7);
    let keys: Vec<Option<String>> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _, _)| path == "/private")
        .map(|(_, k, _)| k.clone())
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");

    // The sandbox email never left: interrupted, free.
    let mail = replay("mail").await;
    assert_eq!(mail["status"], "failed", "{mail}");
    assert_eq!(mail["reason_code"], "interrupted", "{mail}");

    // The webhooks may have been delivered: unknown, estimate held, and
    // not sent again.
    let hook1 = replay("hook-1").await;
    let hook2 = replay("hook-2").await;
    for hook in [&hook1, &hook2] {
        assert_eq!(hook["status"], "failed", "{hook}");
        assert_eq!(hook["reason_code"], "outcome_unknown", "{hook}");
        assert_eq!(hook["cost_cents"], 0, "{hook}");
    }
    let hooks_sent = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(path, _, _)| path == "/hook")
        .count();
    assert_eq!(hooks_sent, 2, "a webhook was sent again");
    let inbox = get(&http, &base, "/api/v1/approvals?status=pending", &pat).await;
    let reviews: Vec<&Value> = inbox["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "outcome_unknown")
        .collect();
    assert_eq!(reviews.len(), 2, "{inbox}");
    let held_total: i64 = reviews
        .iter()
        .map(|r| r["held_cents"].as_i64().unwrap())
        .sum();
    let balance = get(&http, &base, "/api/v1/balance", &pat).await;
    assert_eq!(balance["reserved_cents"], held_total, "{balance}");
    assert!(held_total > 0);
    let review_of = |request: &Value| {
        reviews
            .iter()
            .find(|r| r["request_id"] == request["request_id"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (settle_id, release_id) = (review_of(&hook1), review_of(&hook2));
    // Money held under a pending review is no leak to the ledger check.
    check_ledger(&data, database);

    // The operator's CLI shows them, and settles at most what is held.
    let table = cli(&base, &pat, &["approvals", "list"]);
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.contains("outcome unknown") && table.contains(&settle_id),
        "{table}"
    );
    let too_much = cli(
        &base,
        &pat,
        &[
            "approvals",
            "approve",
            &settle_id,
            "--amount-cents",
            "1000000",
        ],
    );
    assert!(!too_much.status.success());
    let err = String::from_utf8_lossy(&too_much.stderr).into_owned();
    assert!(err.contains("amount_cents"), "{err}");

    // Two operators settle at once: one wins, the other is told.
    let settle = |http: reqwest::Client| {
        let (base, pat, id) = (base.clone(), pat.clone(), settle_id.clone());
        async move {
            call(
                &http,
                reqwest::Method::POST,
                format!("{base}/api/v1/approvals/{id}/approve"),
                &pat,
                Some(json!({"note": "the receiver logged it"})),
            )
            .await
        }
    };
    let (a, b) = tokio::join!(settle(http.clone()), settle(http.clone()));
    let (won, lost) = if a.0 == 200 { (a, b) } else { (b, a) };
    assert_eq!(won.0, 200, "{won:?}");
    assert_eq!(won.1["status"], "executed", "{won:?}");
    assert_eq!(lost.0, 409, "{lost:?}");
    assert_eq!(
        lost.1["error"]["code"], "approval_already_decided",
        "{lost:?}"
    );
    let settled_cost = won.1["cost_cents"].as_i64().unwrap();
    assert!(settled_cost > 0);

    let out = cli(&base, &pat, &["approvals", "reject", &release_id, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let released: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(released["status"], "failed", "{released}");
    assert_eq!(released["reason_code"], "outcome_unknown");
    assert_eq!(released["cost_cents"], 0);

    // The replays now tell the decisions; GET agrees.
    let again = replay("hook-1").await;
    assert_eq!(again["status"], "executed", "{again}");
    assert_eq!(again["cost_cents"], settled_cost);
    let id = hook2["request_id"].as_str().unwrap();
    let read = get(
        &http,
        &base,
        &format!("/api/v1/service-requests/{id}"),
        &key,
    )
    .await;
    assert_eq!(read["status"], "failed", "{read}");

    // The books: nothing held, charged = the post + the settlement.
    let balance = get(&http, &base, "/api/v1/balance", &pat).await;
    assert_eq!(balance["reserved_cents"], 0, "{balance}");
    assert_eq!(
        balance["amount_cents"].as_i64().unwrap(),
        10_000 - toot_cost - settled_cost - 7,
        "{balance}"
    );
    let audit = get(&http, &base, "/api/v1/audit-logs?limit=200", &pat).await;
    let types: Vec<&str> = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    for expected in [
        "service_request.outcome_unknown",
        "service_request.reconciled",
        "outcome_review.settled",
        "outcome_review.released",
        "service_request.outcome_settled",
        "service_request.outcome_released",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let inbox = get(&http, &base, "/api/v1/approvals?status=pending", &pat).await;
    assert!(
        !inbox["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "outcome_unknown"),
        "{inbox}"
    );
    drop(server);
    check_ledger(&data, database);
}

/// `upivia admin check-ledger` passes (it only reads: safe beside a server).
fn check_ledger(data: &Path, database: Option<&str>) {
    let mut check = Command::new(env!("CARGO_BIN_EXE_upivia"));
    check
        .args(["admin", "check-ledger", "--data-dir"])
        .arg(data);
    if let Some(url) = database {
        check.args(["--database-url", url]);
    }
    let out = check.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_minus_nine_after_the_provider_call_leaves_the_outcome_to_an_operator_on_sqlite() {
    run(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_minus_nine_after_the_provider_call_leaves_the_outcome_to_an_operator_on_postgres() {
    let Some(server) = server_url() else {
        return;
    };
    let db = TestDatabase::create(&server).await.unwrap();
    run(Some(db.url())).await;
}
