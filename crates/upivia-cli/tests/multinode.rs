//! Several nodes over one PostgreSQL database behave like one server: three
//! real `upivia serve` processes (each its own data dir, the same audit
//! keys) take requests spread round-robin, and every limit holds across
//! them exactly: an agent's monthly cap, the organisation's balance, one
//! idempotency key, one approval, a per-minute limit. Then one node is
//! killed with requests in flight: the others keep serving, its holds are
//! released once its lease runs out, and nothing is charged twice.
//!
//! Needs `UPIVIA_TEST_POSTGRES_URL`; skipped without it outside CI, and a
//! failure under CI=true.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::audit::AuditSigningKey;
use upivia_server::store::postgres::testing::{TestDatabase, server_url};

/// Slow sandbox requests stay in flight (budget held) this long, then fail
/// with a provider timeout: on nodes 0 and 1, and on node 2, the one
/// killed, long enough that its slow requests are surely executing then.
const PROVIDER_TIMEOUT_MS: [u64; 3] = [3000, 3000, 30_000];

struct Node {
    child: Child,
    base: String,
    data: PathBuf,
}

/// The nodes, their logs, and the database; prints each node's log tail
/// when the test fails.
struct Cluster {
    nodes: Vec<Option<Node>>,
    dir: tempfile::TempDir,
    db: TestDatabase,
    http: reqwest::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().flatten() {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
        if std::thread::panicking() {
            for i in 0..self.nodes.len() {
                let log = std::fs::read_to_string(self.dir.path().join(format!("node{i}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- node {i} (last lines) ---");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// 64 hex digits from the standard library's per-process random keys:
/// an audit key for this test only.
fn random_hex_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    (0..4)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn spawn_node(dir: &Path, i: usize, url: &str, audit_key: &str, signing: &Path) -> Node {
    let data = dir.join(format!("data{i}"));
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("node{i}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--database-url", url])
        .arg("--audit-signing-key-file")
        .arg(signing)
        .args(["--provider-timeout-ms", &PROVIDER_TIMEOUT_MS[i].to_string()])
        // Hundreds of clients at once from this one address, by design.
        .args(["--max-connections-per-ip", "0"])
        .env("UPIVIA_AUDIT_KEY", audit_key)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("upivia serve starts");
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
        data,
    }
}

async fn wait_healthy(http: &reqwest::Client, node: &mut Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http
            .get(format!("{}/api/v1/healthz", node.base))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = node.child.try_wait() {
            panic!("node {} exited: {status}", node.base);
        }
        assert!(
            Instant::now() < deadline,
            "node {} did not come up",
            node.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    replayed: bool,
    body: Value,
}

async fn send(
    http: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Result<Reply, reqwest::Error> {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = r.json().await.unwrap_or(Value::Null);
    Ok(Reply {
        status,
        replayed,
        body,
    })
}

impl Cluster {
    fn live(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.base.clone())
            .collect()
    }

    async fn call(
        &self,
        node: usize,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let base = self.nodes[node].as_ref().expect("a live node").base.clone();
        send(&self.http, method, format!("{base}{path}"), token, body)
            .await
            .unwrap_or_else(|e| panic!("{path} on node {node}: {e}"))
    }

    /// An agent enabled for email with `binding`, created through node 0.
    async fn agent(&self, pat: &str, settings: Value, binding: Value) -> (String, String) {
        let created = self
            .call(0, Method::POST, "/api/v1/agents", pat, Some(settings))
            .await;
        assert_eq!(created.status, 200, "{created:?}");
        let id = created.body["agent"]["id"].as_str().unwrap().to_owned();
        let key = created.body["api_key"].as_str().unwrap().to_owned();
        let mut binding = binding;
        binding["service_id"] = json!("email");
        let bound = self
            .call(
                1,
                Method::POST,
                &format!("/api/v1/agents/{id}/services"),
                pat,
                Some(binding),
            )
            .await;
        assert!(bound.status < 300, "{bound:?}");
        (id, key)
    }

    /// `n` concurrent service requests, request i to live node i mod
    /// (live nodes); `body(i)` builds each.
    async fn burst(&self, key: &str, n: usize, body: impl Fn(usize) -> Value) -> Vec<Reply> {
        let live = self.live();
        let mut tasks = Vec::new();
        for i in 0..n {
            let url = format!("{}/api/v1/service-requests", live[i % live.len()]);
            let (http, key, body) = (self.http.clone(), key.to_owned(), body(i));
            tasks.push(tokio::spawn(async move {
                send(&http, Method::POST, url, &key, Some(body))
                    .await
                    .unwrap()
            }));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(t.await.unwrap());
        }
        replies
    }

    async fn balance(&self, node: usize, pat: &str) -> Value {
        self.call(node, Method::GET, "/api/v1/balance", pat, None)
            .await
            .body
    }

    fn check_ledger(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
            .args(["admin", "check-ledger", "--database-url", self.db.url()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "check-ledger: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn email(subject: &str, slow: bool) -> Value {
    json!({"service": "email", "operation": "send",
        "payload": {"to": "a@example.com", "subject": subject,
                    "body": if slow { "sandbox-slow" } else { "fast" }}})
}

fn count(replies: &[Reply], f: impl Fn(&Reply) -> bool) -> usize {
    replies.iter().filter(|r| f(r)).count()
}

fn executed(r: &Reply) -> bool {
    r.status == 200 && r.body["status"] == "executed"
}

fn blocked_for(reason: &'static str) -> impl Fn(&Reply) -> bool {
    move |r| r.status == 200 && r.body["status"] == "blocked" && r.body["reason_code"] == reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_database_behave_like_one_server() {
    let Some(server) = server_url() else {
        eprintln!("skipped: UPIVIA_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TestDatabase::create(&server)
        .await
        .expect("a test database");
    let dir = tempfile::tempdir().unwrap();
    let audit_key = random_hex_key();
    let signing = dir.path().join("audit-signing.key");
    AuditSigningKey::load_or_create(&signing).expect("a signing key");

    // Three nodes starting at once on an empty database.
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| spawn_node(dir.path(), i, db.url(), &audit_key, &signing))
        .collect();
    // No pooled connections: a node closes idle ones at its own pace, and a
    // POST on a connection it just closed fails without being retried.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for node in &mut nodes {
        wait_healthy(&http, node).await;
    }
    let with_credentials: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.data.join("initial-credentials.json").exists())
        .collect();
    assert_eq!(
        with_credentials.len(),
        1,
        "exactly one node bootstraps the organisation"
    );
    let creds: Value = serde_json::from_slice(
        &std::fs::read(with_credentials[0].data.join("initial-credentials.json")).unwrap(),
    )
    .unwrap();
    let pat = creds["pat"].as_str().unwrap().to_owned();
    let cluster = Cluster {
        nodes: nodes.into_iter().map(Some).collect(),
        dir,
        db,
        http,
    };
    // The owner's PAT works on every node.
    for i in 0..3 {
        assert_eq!(
            cluster
                .call(i, Method::GET, "/api/v1/balance", &pat, None)
                .await
                .status,
            200
        );
    }

    // (b) The organisation's balance: 15 cents, 45 one-cent requests.
    let credit = |cents: i64| json!({"amount_cents": cents});
    let r = cluster
        .call(
            2,
            Method::POST,
            "/api/v1/balance/credits",
            &pat,
            Some(credit(15)),
        )
        .await;
    assert!(r.status < 300, "{r:?}");
    let (_, spender) = cluster
        .agent(&pat, json!({"name": "spender"}), json!({}))
        .await;
    let replies = cluster
        .burst(&spender, 45, |i| email(&format!("balance {i}"), false))
        .await;
    assert_eq!(count(&replies, executed), 15, "{replies:?}");
    assert_eq!(count(&replies, blocked_for("insufficient_balance")), 30);
    let balance = cluster.balance(1, &pat).await;
    assert_eq!(balance["amount_cents"], 0, "{balance}");
    assert_eq!(balance["reserved_cents"], 0, "{balance}");

    let r = cluster
        .call(
            0,
            Method::POST,
            "/api/v1/balance/credits",
            &pat,
            Some(credit(100_000)),
        )
        .await;
    assert!(r.status < 300, "{r:?}");

    // (a) An agent's monthly cap: 10 cents, 40 one-cent requests.
    let (_, capped) = cluster
        .agent(
            &pat,
            json!({"name": "capped", "monthly_budget_cents": 10}),
            json!({}),
        )
        .await;
    let replies = cluster
        .burst(&capped, 40, |i| email(&format!("cap {i}"), false))
        .await;
    assert_eq!(count(&replies, executed), 10, "{replies:?}");
    assert_eq!(count(&replies, blocked_for("budget_exceeded")), 30);

    // (c) One idempotency key. A slow first request holds it on node 0;
    // the same key on the other nodes meanwhile is 409, then replays.
    let (_, keyed) = cluster
        .agent(&pat, json!({"name": "keyed"}), json!({}))
        .await;
    let slow_keyed = {
        let mut b = email("once", true);
        b["idempotency_key"] = json!("the-one-key");
        b
    };
    let first = {
        let (http, base, key, body) = (
            cluster.http.clone(),
            cluster.live()[0].clone(),
            keyed.clone(),
            slow_keyed.clone(),
        );
        tokio::spawn(async move {
            send(
                &http,
                Method::POST,
                format!("{base}/api/v1/service-requests"),
                &key,
                Some(body),
            )
            .await
            .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in [1, 2] {
        let r = cluster
            .call(
                node,
                Method::POST,
                "/api/v1/service-requests",
                &keyed,
                Some(slow_keyed.clone()),
            )
            .await;
        assert_eq!(r.status, 409, "{r:?}");
        assert_eq!(r.body["error"]["code"], "idempotency_key_in_use", "{r:?}");
    }
    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    assert!(!first.replayed);
    let replays = cluster.burst(&keyed, 9, |_| slow_keyed.clone()).await;
    for r in &replays {
        assert!(r.replayed, "{r:?}");
        assert_eq!(r.body, first.body, "a replay returns the stored response");
    }
    // A fast key raced by all three nodes at once runs once.
    let fast_keyed = {
        let mut b = email("raced", false);
        b["idempotency_key"] = json!("the-raced-key");
        b
    };
    let raced = cluster.burst(&keyed, 30, |_| fast_keyed.clone()).await;
    let fresh: Vec<&Reply> = raced
        .iter()
        .filter(|r| r.status == 200 && !r.replayed)
        .collect();
    assert_eq!(fresh.len(), 1, "one execution of one key: {raced:?}");
    for r in &raced {
        match r.status {
            200 => assert_eq!(r.body["request_id"], fresh[0].body["request_id"]),
            409 => assert_eq!(r.body["error"]["code"], "idempotency_key_in_use"),
            other => panic!("{other}: {r:?}"),
        }
    }

    // (d) One approval decided by all three nodes at once.
    let (_, gated) = cluster
        .agent(
            &pat,
            json!({"name": "gated"}),
            json!({"require_approval": true}),
        )
        .await;
    let parked = cluster
        .call(
            1,
            Method::POST,
            "/api/v1/service-requests",
            &gated,
            Some(email("gated", false)),
        )
        .await;
    assert_eq!(parked.body["status"], "approval_required", "{parked:?}");
    let approval = parked.body["approval_id"].as_str().unwrap().to_owned();
    let mut decisions = Vec::new();
    for base in cluster.live() {
        let (http, pat, url) = (
            cluster.http.clone(),
            pat.clone(),
            format!("{base}/api/v1/approvals/{approval}/approve"),
        );
        decisions.push(tokio::spawn(async move {
            send(&http, Method::POST, url, &pat, Some(json!({})))
                .await
                .unwrap()
        }));
    }
    let mut decided = Vec::new();
    for d in decisions {
        decided.push(d.await.unwrap());
    }
    assert_eq!(count(&decided, |r| r.status == 200), 1, "{decided:?}");
    assert_eq!(
        count(&decided, |r| r.status == 409
            && r.body["error"]["code"] == "approval_already_decided"),
        2,
        "{decided:?}"
    );

    // (e) A per-minute limit of 30, 90 requests over three nodes: about 30
    // admitted in all (a token comes back every 2 s), not 90.
    let (_, limited) = cluster
        .agent(
            &pat,
            json!({"name": "limited", "rate_limit_per_minute": 30}),
            json!({}),
        )
        .await;
    let started = Instant::now();
    let replies = cluster
        .burst(&limited, 90, |i| email(&format!("rate {i}"), false))
        .await;
    let refill = (started.elapsed().as_secs_f64() / 2.0).ceil() as usize;
    let admitted = count(&replies, |r| r.status != 429);
    assert!(
        (30..=30 + refill).contains(&admitted),
        "{admitted} admitted of a limit of 30 across three nodes"
    );
    assert_eq!(count(&replies, |r| r.status == 429), 90 - admitted);
    assert!(replies.iter().filter(|r| r.status != 429).all(executed));
    cluster.check_ledger();

    // Kill -9 one node in the middle of load: slow requests executing on it
    // (a cent held each), fast ones spread over all three.
    let (loader_id, loader) = cluster
        .agent(&pat, json!({"name": "loader"}), json!({}))
        .await;
    let live = cluster.live();
    let slow_on_victim = 12;
    let mut slow = Vec::new();
    for i in 0..slow_on_victim {
        let url = format!("{}/api/v1/service-requests", live[2]);
        let mut body = email(&format!("slow {i}"), true);
        body["idempotency_key"] = json!(format!("slow-{i}"));
        let (http, key) = (cluster.http.clone(), loader.clone());
        slow.push(tokio::spawn(async move {
            send(&http, Method::POST, url, &key, Some(body)).await.ok()
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let balance = cluster.balance(0, &pat).await;
        if balance["reserved_cents"].as_i64() >= Some(slow_on_victim as i64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slow requests never executing: {balance}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut load = Vec::new();
    for i in 0..90 {
        let url = format!("{}/api/v1/service-requests", live[i % 3]);
        let mut body = email(&format!("load {i}"), false);
        body["idempotency_key"] = json!(format!("load-{i}"));
        let (http, key) = (cluster.http.clone(), loader.clone());
        load.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis((i as u64 % 30) * 10)).await;
            (
                i,
                send(&http, Method::POST, url, &key, Some(body)).await.ok(),
            )
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut cluster = cluster;
    {
        let victim = cluster.nodes[2].as_mut().unwrap();
        victim.child.kill().expect("kill -9");
        victim.child.wait().unwrap();
    }
    let killed_at = Instant::now();
    cluster.nodes[2] = None;
    for s in slow {
        assert!(
            s.await.unwrap().is_none(),
            "a slow request answered before the kill"
        );
    }
    let mut answered = Vec::new();
    let mut cut = Vec::new();
    for t in load {
        let (i, reply) = t.await.unwrap();
        match reply {
            Some(r) => answered.push((i, r)),
            None => cut.push(i),
        }
    }
    assert!(
        cut.iter().all(|i| i % 3 == 2),
        "only the killed node's requests fail: {cut:?}"
    );
    // The two others keep serving.
    let after = cluster
        .burst(&loader, 20, |i| email(&format!("after {i}"), false))
        .await;
    assert_eq!(count(&after, executed), 20, "{after:?}");

    // The killed node's holds are released once its node and job leases
    // run out.
    let released = loop {
        let balance = cluster.balance(0, &pat).await;
        if balance["reserved_cents"] == 0 {
            break killed_at.elapsed();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "holds still reserved 30 s after the kill: {balance}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("the killed node's holds were released {released:?} after the kill");
    assert!(released <= Duration::from_secs(20), "{released:?}");

    // Every load key replays what was recorded, on a node still alive:
    // an answered request its answer; a request cut off while executing
    // is failed with `interrupted` and charged nothing; one the killed node
    // never recorded runs now. None runs twice.
    let live = cluster.live();
    let mut replays = Vec::new();
    for i in 0..90 + slow_on_victim {
        let (mut body, key) = if i < 90 {
            (email(&format!("load {i}"), false), format!("load-{i}"))
        } else {
            let j = i - 90;
            (email(&format!("slow {j}"), true), format!("slow-{j}"))
        };
        body["idempotency_key"] = json!(key);
        let url = format!("{}/api/v1/service-requests", live[i % live.len()]);
        let (http, key) = (cluster.http.clone(), loader.clone());
        replays.push(tokio::spawn(async move {
            (
                i,
                send(&http, Method::POST, url, &key, Some(body))
                    .await
                    .unwrap(),
            )
        }));
    }
    let mut interrupted = 0;
    let mut loader_executed = 0;
    for replay in replays {
        let (i, r) = replay.await.unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        if let Some((_, before)) = answered.iter().find(|(j, _)| *j == i) {
            assert!(r.replayed, "load {i} ran again: {r:?}");
            assert_eq!(r.body, before.body, "load {i} changed");
        }
        if i >= 90 {
            // Executing on the killed node: failed as interrupted, free.
            assert!(r.replayed, "{r:?}");
            assert_eq!(r.body["status"], "failed", "{r:?}");
            assert_eq!(r.body["reason_code"], "interrupted", "{r:?}");
            assert_eq!(r.body["cost_cents"], 0, "{r:?}");
            interrupted += 1;
        }
        if executed(&r) {
            loader_executed += 1;
        }
    }
    eprintln!(
        "kill -9 under load: {} fast requests cut off, {interrupted} executing ones recovered as interrupted",
        cut.len()
    );
    assert_eq!(interrupted, slow_on_victim);
    let loader_usage = cluster
        .call(
            1,
            Method::GET,
            &format!("/api/v1/usage?agent_id={loader_id}&limit=500"),
            &pat,
            None,
        )
        .await
        .body;
    let rows = loader_usage["records"].as_array().map_or(0, Vec::len);
    assert_eq!(
        rows,
        loader_executed + 20,
        "the loader's charges are its executed keys plus the 20 after the kill: {loader_usage}"
    );

    let balance = cluster.balance(1, &pat).await;
    let usage = cluster
        .call(0, Method::GET, "/api/v1/usage?limit=500", &pat, None)
        .await
        .body;
    assert_eq!(balance["reserved_cents"], 0, "{balance}");
    assert_eq!(
        balance["settled_cents"], usage["total_cents"],
        "{balance} {usage}"
    );
    assert_eq!(
        balance["amount_cents"].as_i64().unwrap(),
        100_015 - usage["total_cents"].as_i64().unwrap(),
        "charged exactly what usage shows: {balance} {usage}"
    );
    cluster.check_ledger();
}
