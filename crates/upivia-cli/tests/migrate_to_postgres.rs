//! Moving a SQLite deployment to PostgreSQL with the real binary, as the
//! README's procedure does: a server on SQLite takes traffic (agents,
//! requests, approvals, credits, a session); `upivia admin export` while
//! it runs and after it stops; `upivia admin import` into new databases
//! (and refused on a used one); then the ledger check and the audit
//! verification pass on PostgreSQL, and a server on it (same data dir,
//! same audit keys) answers what the SQLite one did and goes on from
//! there. Skipped without a PostgreSQL server (outside CI).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upivia_server::store::postgres::testing::{TestDatabase, server_url};

const BIN: &str = env!("CARGO_BIN_EXE_upivia");

fn upivia() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("UPIVIA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("UPIVIA_LOG", "warn");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(data: &Path, database_url: Option<&str>) -> Server {
        let port = free_port();
        let mut cmd = upivia();
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .args(["--audit-checkpoint-interval-secs", "3600"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if let Some(url) = database_url {
            cmd.env("UPIVIA_DATABASE_URL", url);
        }
        let child = cmd.spawn().expect("upivia serve starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}/api/v1"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// What an operator and the agents see: the answers that must survive
    /// the move.
    async fn answers(&self, pat: &str, agents: &[String]) -> Value {
        let mut per_agent = Vec::new();
        for agent in agents {
            per_agent.push(self.get(&format!("/agents/{agent}"), pat).await);
        }
        json!({
            "agents": self.get("/agents", pat).await,
            "agent_details": per_agent,
            "balance": self.get("/balance", pat).await,
            "usage": self.get("/usage?limit=500", pat).await,
            "approvals": self.get("/approvals", pat).await,
            "audit": self.get("/audit-logs?limit=500", pat).await,
        })
    }

    /// A clean stop (SIGTERM), which signs the last entries.
    fn stop(mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "upivia serve exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn email(subject: &str) -> Value {
    json!({"service": "email", "operation": "send",
        "payload": {"to": "ops@example.com", "subject": subject, "body": "x"}})
}

/// Agents, executed and parked requests, a decided approval each way, an
/// idempotent replay, credits and a session: every table gets rows.
async fn traffic(s: &Server, pat: &str, password: &str) -> (Vec<String>, String, String) {
    s.post(
        "/balance/credits",
        pat,
        json!({"amount_cents": 5000, "note": "seed"}),
    )
    .await;
    let alpha = s
        .post(
            "/agents",
            pat,
            json!({"name": "alpha", "monthly_budget_cents": 3000}),
        )
        .await;
    let (alpha_id, alpha_key) = (
        alpha["agent"]["id"].as_str().unwrap().to_owned(),
        alpha["api_key"].as_str().unwrap().to_owned(),
    );
    s.post(
        &format!("/agents/{alpha_id}/services"),
        pat,
        json!({"service_id": "email", "daily_request_limit": 50}),
    )
    .await;
    for i in 0..5 {
        let r = s
            .post("/service-requests", &alpha_key, email(&format!("a{i}")))
            .await;
        assert_eq!(r["status"], "executed", "{r}");
    }
    // Money moved by transfers: a child carved out of alpha's month, a
    // team pool funded by allocation and by an approved budget request.
    let child = s
        .post(
            "/agents/spawn",
            &alpha_key,
            json!({"name": "alpha-child", "services": ["email.send"], "budget_cents": 100}),
        )
        .await;
    assert_eq!(child["ok"], true, "{child}");
    let team = s.post("/teams", pat, json!({"name": "Moved"})).await;
    let team = team["team"]["id"].as_str().unwrap().to_owned();
    let allocated = s
        .post(
            &format!("/teams/{team}/budget/allocate"),
            pat,
            json!({"amount_cents": 200}),
        )
        .await;
    assert_eq!(allocated["ok"], true, "{allocated}");
    let asked = s
        .post(
            "/budget-requests",
            pat,
            json!({"team_id": team, "amount_cents": 50}),
        )
        .await;
    let asked = asked["request"]["id"].as_str().unwrap().to_owned();
    let approved = s
        .http
        .patch(format!("{}/budget-requests/{asked}", s.base))
        .bearer_auth(pat)
        .json(&json!({"action": "approve"}))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "{}", approved.status());
    let beta = s.post("/agents", pat, json!({"name": "beta"})).await;
    let (beta_id, beta_key) = (
        beta["agent"]["id"].as_str().unwrap().to_owned(),
        beta["api_key"].as_str().unwrap().to_owned(),
    );
    s.post(
        &format!("/agents/{beta_id}/services"),
        pat,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let mut parked = Vec::new();
    for i in 0..3 {
        let r = s
            .post("/service-requests", &beta_key, email(&format!("b{i}")))
            .await;
        assert_eq!(r["status"], "approval_required", "{r}");
        parked.push(r["approval_id"].as_str().unwrap().to_owned());
    }
    let approved = s
        .post(&format!("/approvals/{}/approve", parked[0]), pat, json!({}))
        .await;
    assert_eq!(approved["status"], "executed", "{approved}");
    s.post(&format!("/approvals/{}/reject", parked[1]), pat, json!({}))
        .await;
    // An idempotent request, replayed.
    for _ in 0..2 {
        let r = s
            .http
            .post(format!("{}/service-requests", s.base))
            .bearer_auth(&alpha_key)
            .header("idempotency-key", "once-only")
            .json(&email("idem"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    // A session a browser holds.
    let login = s
        .http
        .post(format!("{}/auth/login", s.base))
        .json(&json!({"email": "owner@upivia.local", "password": password}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "{}", login.status());
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (vec![alpha_id, beta_id], alpha_key, cookie)
}

fn export(data: &Path, dump: &Path) {
    let out = upivia()
        .args(["admin", "export", "--data-dir"])
        .arg(data)
        .stdout(std::fs::File::create(dump).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "export: {}", stderr(&out));
    assert!(stderr(&out).contains("exported "), "{}", stderr(&out));
}

fn import(url: &str, dump: &Path) -> Output {
    upivia()
        .args(["admin", "import"])
        .env("UPIVIA_DATABASE_URL", url)
        .stdin(std::fs::File::open(dump).unwrap())
        .output()
        .unwrap()
}

fn check_ledger(url: &str) -> Output {
    upivia()
        .args(["admin", "check-ledger", "--database-url", url])
        .output()
        .unwrap()
}

fn verify_audit(url: &str, data: &Path) -> Output {
    upivia()
        .args(["audit", "verify", "--database-url", url, "--data-dir"])
        .arg(data)
        .output()
        .unwrap()
}

/// Counts per table of a PostgreSQL database.
async fn count(url: &str, sql: &'static str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
}

fn rows_in(dump: &Path, table: &str) -> u64 {
    let text = std::fs::read_to_string(dump).unwrap();
    let end: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    end["end"][table].as_u64().unwrap()
}

#[tokio::test]
async fn a_sqlite_deployment_moves_to_postgresql_with_every_row_and_its_audit_chain() {
    let Some(server) = server_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let live_dump = dir.path().join("live.jsonl");
    let dump = dir.path().join("dump.jsonl");

    let sqlite = Server::start(&data, None).await;
    let creds: Value =
        serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
            .unwrap();
    let pat = creds["pat"].as_str().unwrap().to_owned();
    let password = creds["password"].as_str().unwrap().to_owned();
    let (agents, alpha_key, cookie) = traffic(&sqlite, &pat, &password).await;

    // Beside the running server: one snapshot, importable as it is.
    export(&data, &live_dump);
    let live_db = TestDatabase::create_empty(&server).await.unwrap();
    let out = import(live_db.url(), &live_dump);
    assert!(
        out.status.success(),
        "import of the live export: {}",
        stderr(&out)
    );
    let out = check_ledger(live_db.url());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // The procedure: stop, export, import, start with the same keys.
    let before = sqlite.answers(&pat, &agents).await;
    sqlite.stop();
    export(&data, &dump);
    assert!(
        rows_in(&dump, "audit_checkpoints") >= 2,
        "the start's and the stop's"
    );
    assert_eq!(rows_in(&dump, "agents"), 3);
    let target = TestDatabase::create_empty(&server).await.unwrap();
    let out = import(target.url(), &dump);
    assert!(out.status.success(), "import: {}", stderr(&out));
    assert!(stdout(&out).starts_with("imported "), "{}", stdout(&out));

    // Every exported row arrived, and the derived rows with them.
    for (table, sql) in [
        ("orgs", "SELECT COUNT(*) FROM orgs"),
        ("users", "SELECT COUNT(*) FROM users"),
        ("memberships", "SELECT COUNT(*) FROM memberships"),
        ("pats", "SELECT COUNT(*) FROM pats"),
        ("sessions", "SELECT COUNT(*) FROM sessions"),
        ("agents", "SELECT COUNT(*) FROM agents"),
        ("teams", "SELECT COUNT(*) FROM teams"),
        ("budget_requests", "SELECT COUNT(*) FROM budget_requests"),
        ("bindings", "SELECT COUNT(*) FROM bindings"),
        ("service_requests", "SELECT COUNT(*) FROM service_requests"),
        ("idempotency_keys", "SELECT COUNT(*) FROM idempotency_keys"),
        ("approvals", "SELECT COUNT(*) FROM approvals"),
        ("ledger_entries", "SELECT COUNT(*) FROM ledger_entries"),
        (
            "audit_log",
            "SELECT COUNT(*) FROM audit_log WHERE chain_seq = seq",
        ),
        (
            "worker_heartbeats",
            "SELECT COUNT(*) FROM worker_heartbeats",
        ),
        (
            "audit_checkpoints",
            "SELECT COUNT(*) FROM audit_checkpoints",
        ),
    ] {
        let n = rows_in(&dump, table);
        assert!(
            n > 0 || table == "worker_heartbeats",
            "{table} is empty in the dump"
        );
        assert_eq!(count(target.url(), sql).await, n as i64, "{table}");
    }
    assert_eq!(
        count(target.url(), "SELECT COUNT(*) FROM bootstrap").await,
        1
    );
    assert!(count(target.url(), "SELECT COUNT(*) FROM account_balances").await >= 3);
    assert!(
        count(
            target.url(),
            "SELECT COUNT(*) FROM daily_counts WHERE key LIKE 'binding:%' AND count > 0"
        )
        .await
            >= 1
    );

    // A used database is refused, and left as it was.
    let again = import(target.url(), &dump);
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    assert_eq!(
        count(target.url(), "SELECT COUNT(*) FROM agents").await,
        3,
        "the refused import added nothing"
    );
    // A cut-off dump is refused, and leaves nothing.
    let text = std::fs::read_to_string(&dump).unwrap();
    let cut = dir.path().join("cut.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap();
    let scratch = TestDatabase::create_empty(&server).await.unwrap();
    let out = import(scratch.url(), &cut);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cut off"), "{}", stderr(&out));
    assert_eq!(count(scratch.url(), "SELECT COUNT(*) FROM orgs").await, 0);

    let out = check_ledger(target.url());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = verify_audit(target.url(), &data);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));

    let pg = Server::start(&data, Some(target.url())).await;
    assert_eq!(pg.answers(&pat, &agents).await, before);
    // The browser's session and the agents' keys still work, and the
    // chain goes on from the imported head.
    let who = pg
        .http
        .get(format!("{}/whoami", pg.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(who.status().is_success(), "{}", who.status());
    let r = pg
        .post("/service-requests", &alpha_key, email("after"))
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    let imported = i64::try_from(rows_in(&dump, "audit_log")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(target.url(), "SELECT head_seq FROM audit_chains").await <= imported {
        assert!(
            Instant::now() < deadline,
            "the new entries were not chained after the imported head"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.stop();
    assert_eq!(
        count(
            target.url(),
            "SELECT COUNT(*) FROM audit_log WHERE chain_seq IS NULL"
        )
        .await,
        0
    );
    assert_eq!(
        count(target.url(), "SELECT MAX(chain_seq) FROM audit_log").await,
        count(target.url(), "SELECT COUNT(*) FROM audit_log").await,
        "one chain, contiguous from 1"
    );
    let out = check_ledger(target.url());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = verify_audit(target.url(), &data);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn export_refuses_a_data_dir_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = upivia()
        .args(["admin", "export", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}
