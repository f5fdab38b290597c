//! `upivia mcp`, the stdio bridge, against real `upivia serve` processes:
//! newline-delimited JSON-RPC on its stdin and stdout, relayed to `/mcp`.
//! Then one MCP session whose requests go to two nodes on one PostgreSQL
//! database by turns (skipped without `UPIVIA_TEST_POSTGRES_URL`).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use upivia_server::audit::AuditSigningKey;
use upivia_server::store::postgres::testing::{TestDatabase, server_url};

use support::{free_port, funded_agent, owner_pat};

fn serve(data: &std::path::Path, port: u16, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upivia"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data)
    .args(["--worker-interval-ms", "100"])
    .args(extra)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

/// The bridge, as an MCP client launches it.
struct Bridge {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bridge {
    fn start(base: &str, key: &str) -> Bridge {
        let mut child = support::upivia()
            .arg("mcp")
            .env("UPIVIA_BASE_URL", base)
            .env("UPIVIA_API_KEY", key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("upivia mcp starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Bridge {
            child,
            stdin,
            stdout,
            next_id: 0,
        }
    }

    fn send(&mut self, message: &Value) {
        self.line(&message.to_string());
    }

    fn line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin, as a client that quits does, and waits for the exit.
    fn close(&mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(line.ends_with('\n'), "one message a line: {line:?}");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
    }

    fn rpc(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        self.send(
            &json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}),
        );
        let answer = self.read();
        assert_eq!(answer["id"], self.next_id, "{answer}");
        answer
    }

    fn initialize(&mut self) -> Value {
        let answer = self.rpc(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bridge-test", "version": "1"}}),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        answer
    }

    /// The STATUS line's word and the JSON after it.
    fn call(&mut self, tool: &str, arguments: Value) -> (String, Value) {
        let answer = self.rpc("tools/call", json!({"name": tool, "arguments": arguments}));
        let text = answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        let (first, rest) = text.split_once('\n').unwrap();
        let word = first.strip_prefix("STATUS: ").unwrap_or(first).to_owned();
        (word, serde_json::from_str(rest).unwrap())
    }
}

fn email() -> Value {
    json!({"to": "ops@example.com", "subject": "Hello", "body": "Testing."})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stdio_bridge_relays_a_session_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = support::healthy(serve(&data, port, &[]).spawn().unwrap(), port).await;
    let http = reqwest::Client::new();
    let pat = owner_pat(&data);
    let (_, key) = funded_agent(&http, &server.base, &pat, 1_000, "bridged", &["email"]).await;

    let base = server.base.clone();
    let key2 = key.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Bridge::start(&base, &key2);
        let init = b.initialize();
        assert_eq!(init["result"]["serverInfo"]["name"], "upivia", "{init}");
        let list = b.rpc("tools/list", json!({}));
        let names: Vec<&str> = list["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"email_send"), "{names:?}");
        assert!(!names.contains(&"sms_send"), "{names:?}");
        let (status, body) = b.call("email_send", email());
        assert_eq!(status, "executed", "{body}");
        let (status, body) = b.call(
            "sms_send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "x"}),
        );
        assert_eq!(status, "blocked", "{body}");
        assert_eq!(body["reason_code"], "service_not_enabled");
        // A line that is not JSON is answered as a parse error.
        b.line("not json");
        let answer = b.read();
        assert_eq!(answer["error"]["code"], -32700, "{answer}");
        // Closing stdin ends the bridge.
        let status = b.close();
        assert!(status.success(), "{status}");
    })
    .await
    .unwrap();

    // A bad key: every request is answered with an error naming the 401.
    let base = server.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut b = Bridge::start(&base, "agent_key_live_0000000000000000");
        let answer = b.rpc(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "x", "version": "1"}}),
        );
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(message.contains("401"), "{message}");
    })
    .await
    .unwrap();

    // Without a key the bridge does not start.
    let out = support::upivia()
        .arg("mcp")
        .env("UPIVIA_BASE_URL", &server.base)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    support::exit(&out, 2);
    assert!(support::stderr(&out).contains("UPIVIA_API_KEY"));
}

/// Two nodes on one database answer one session's requests by turns:
/// the session id from node 0's `initialize` works on node 1, a call
/// sent again to the other node is answered once (the idempotency key
/// is in the database), and an approval parked through one node is
/// decided and read back through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_answer_one_session_by_turns() {
    let Some(pg) = server_url() else {
        eprintln!("skipped: UPIVIA_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = TestDatabase::create(&pg).await.expect("a test database");
    let dir = tempfile::tempdir().unwrap();
    let signing = dir.path().join("audit-signing.key");
    AuditSigningKey::load_or_create(&signing).unwrap();
    let audit_key = "ab".repeat(32);
    let mut servers = Vec::new();
    for i in 0..2 {
        let port = free_port();
        let data = dir.path().join(format!("data{i}"));
        let mut cmd = serve(&data, port, &["--database-url", db.url()]);
        cmd.arg("--audit-signing-key-file")
            .arg(&signing)
            .env("UPIVIA_AUDIT_KEY", &audit_key);
        servers.push((support::healthy(cmd.spawn().unwrap(), port).await, data));
        // One node bootstraps at a time, so the second finds the first's org.
    }
    let data = servers
        .iter()
        .map(|(_, d)| d)
        .find(|d| d.join("initial-credentials.json").exists())
        .unwrap()
        .clone();
    let pat = owner_pat(&data);
    let bases: Vec<String> = servers.iter().map(|(s, _)| s.base.clone()).collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (agent_id, key) = funded_agent(&http, &bases[0], &pat, 1_000, "two", &["email"]).await;

    let post = |node: usize, message: Value, session: Option<String>| {
        let (http, url, key) = (http.clone(), format!("{}/mcp", bases[node]), key.clone());
        async move {
            let mut req = http
                .post(url)
                .bearer_auth(key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .json(&message);
            if let Some(s) = session {
                req = req.header("mcp-session-id", s);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let session = r
                .headers()
                .get("mcp-session-id")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body, session)
        }
    };
    let (status, _, session) = post(
        0,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "lb-client", "version": "1"}}}),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let session = session.expect("a session id");
    let (status, _, _) = post(
        1,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(session.clone()),
    )
    .await;
    assert_eq!(status, 202);
    for (i, node) in [1usize, 0, 1].into_iter().enumerate() {
        let (status, body, _) = post(
            node,
            json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/list"}),
            Some(session.clone()),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == "email_send")
        );
    }
    // Request 20 to node 0, then the same again to node 1: answered once.
    let call = json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call",
                      "params": {"name": "email_send", "arguments": email()}});
    let (_, first, _) = post(0, call.clone(), Some(session.clone())).await;
    let (_, again, _) = post(1, call, Some(session.clone())).await;
    let first = &first["result"]["structuredContent"];
    let again = &again["result"]["structuredContent"];
    assert_eq!(first["status"], "executed", "{first}");
    assert_eq!(first["request_id"], again["request_id"], "{again}");
    let (_, balance) = support::call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/balance", bases[1]),
        &pat,
        None,
    )
    .await;
    assert_eq!(
        balance["amount_cents"].as_i64().unwrap(),
        1_000 - first["cost_cents"].as_i64().unwrap(),
        "charged once: {balance}"
    );

    // An approval parked through node 1, approved and read through node 0.
    let (status, body) = support::call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/agents/{agent_id}/services", bases[0]),
        &pat,
        Some(json!({"service_id": "email", "require_approval": true})),
    )
    .await;
    assert!(status < 300, "{body}");
    let call = json!({"jsonrpc": "2.0", "id": 21, "method": "tools/call",
                      "params": {"name": "email_send", "arguments": email()}});
    let (_, parked, _) = post(1, call, Some(session.clone())).await;
    let parked = &parked["result"]["structuredContent"];
    assert_eq!(parked["status"], "approval_required", "{parked}");
    let approval = parked["approval_id"].as_str().unwrap();
    let (status, body) = support::call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/approvals/{approval}/approve", bases[0]),
        &pat,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let poll = json!({"jsonrpc": "2.0", "id": 22, "method": "tools/call",
                      "params": {"name": "request_status",
                                 "arguments": {"request_id": parked["request_id"]}}});
    let (_, status_now, _) = post(0, poll, Some(session.clone())).await;
    assert_eq!(
        status_now["result"]["structuredContent"]["status"], "executed",
        "{status_now}"
    );
    drop(servers);
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(db);
}
