//! What the tests that run real `upivia serve` processes share: a free
//! port, the child that is killed when dropped, waiting for health, and
//! one HTTP call with a bearer token.

#![allow(dead_code)]

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `child`, serving on `port`, answers its health check.
pub async fn healthy(child: Child, port: u16) -> Server {
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/api/v1/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

/// One request; the status and the JSON body (`null` when not JSON).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The log without colour codes (a terminal's or not, tracing may add them).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts `command` (an `upivia serve`), reads its log until it says it
/// is serving, then kills it; the log, without colour codes.
pub fn start_up_log(command: &mut std::process::Command) -> String {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("upivia serve starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            panic!("not serving within 30 s:\n{log}");
        };
        log.push_str(&strip_ansi(&line));
        log.push('\n');
        if line.contains("upivia is serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

/// The owner's PAT from the first start's credentials file.
pub fn owner_pat(data: &std::path::Path) -> String {
    let creds: Value =
        serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
            .unwrap();
    creds["pat"].as_str().unwrap().to_owned()
}

/// Credits the organisation `cents`, then creates an agent `name` (the
/// owner's) bound to each of `services`; its id and key.
pub async fn funded_agent(
    http: &reqwest::Client,
    base: &str,
    pat: &str,
    cents: i64,
    name: &str,
    services: &[&str],
) -> (String, String) {
    let post = reqwest::Method::POST;
    let (status, body) = call(
        http,
        post.clone(),
        format!("{base}/api/v1/balance/credits"),
        pat,
        Some(serde_json::json!({"amount_cents": cents})),
    )
    .await;
    assert!(status < 300, "{body}");
    let (_, created) = call(
        http,
        post.clone(),
        format!("{base}/api/v1/agents"),
        pat,
        Some(serde_json::json!({"name": name})),
    )
    .await;
    let agent_id = created["agent"]["id"].as_str().unwrap().to_owned();
    let key = created["api_key"].as_str().unwrap().to_owned();
    for service in services {
        let (status, body) = call(
            http,
            post.clone(),
            format!("{base}/api/v1/agents/{agent_id}/services"),
            pat,
            Some(serde_json::json!({"service_id": service})),
        )
        .await;
        assert!(status < 300, "{body}");
    }
    (agent_id, key)
}

/// The `upivia` binary with no `UPIVIA_*` variable inherited from the
/// caller, quiet logs, no colour, and a config directory that does not
/// exist (so no login stored on this machine stands in for `--pat`).
pub fn upivia() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_upivia"));
    for (key, _) in std::env::vars() {
        if key.starts_with("UPIVIA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("UPIVIA_LOG", "warn")
        .env("NO_COLOR", "1")
        .env("UPIVIA_CONFIG_DIR", no_config_dir());
    cmd
}

/// A config directory no test creates.
pub fn no_config_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("upivia-cli-tests-no-config")
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a command's exit code, showing its output when it differs.
pub fn exit(out: &std::process::Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

/// The JSON a command printed, after checking its exit code.
pub fn json_of(out: &std::process::Output, code: i32) -> Value {
    exit(out, code);
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// A `upivia serve` child with its owner's PAT and its temp dir; each test
/// file adds the commands it runs against it in an `impl Cli` of its own.
pub struct Cli {
    pub server: Server,
    pub pat: String,
    pub dir: tempfile::TempDir,
}

/// Starts `upivia serve` (on `database`, else SQLite in a temp dir) with
/// the `extra` flags.
pub async fn start_cli(database: Option<&str>, extra: &[&str]) -> Cli {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut cmd = upivia();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .args(["--worker-interval-ms", "100"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(url) = database {
        cmd.args(["--database-url", url]);
    }
    let server = healthy(cmd.spawn().expect("server starts"), port).await;
    Cli {
        pat: owner_pat(&data),
        server,
        dir,
    }
}

/// A server on a fresh PostgreSQL database, or `None` (skip) without one.
/// The database outlives the server: drop the `Cli` first.
pub async fn cli_on_postgres(
    extra: &[&str],
) -> Option<(upivia_server::store::postgres::testing::TestDatabase, Cli)> {
    let url = upivia_server::store::postgres::testing::server_url()?;
    let db = upivia_server::store::postgres::testing::TestDatabase::create(&url)
        .await
        .unwrap();
    let cli = start_cli(Some(db.url()), extra).await;
    Some((db, cli))
}
