//! The client commands (`request`, `services`, `approvals`, `audit`,
//! `agents`, `balance`, `password`, `tokens`, `members`) against a real `upivia serve` child process,
//! asserting on their `--json` output and exit codes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upivia::{AuthMode, HttpMethod, RequestSpec};

const BIN: &str = env!("CARGO_BIN_EXE_upivia");

struct Server {
    child: Child,
    base: String,
    pat: String,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command with no `UPIVIA_*` variable inherited from the caller, and
/// no login stored on this machine.
fn upivia() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("UPIVIA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("UPIVIA_LOG", "warn").env(
        "UPIVIA_CONFIG_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("upivia-cli-tests-no-config"),
    );
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let child = upivia()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .args(["--voice-call-delay-ms", "200", "--worker-interval-ms", "50"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("upivia serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let probe = upivia::Client::builder()
            .base_url(&base)
            .max_retries(0)
            .build()
            .unwrap();
        let rt = runtime();
        let deadline = Instant::now() + Duration::from_secs(60);
        while rt.block_on(probe.platform().health()).is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let creds: Value =
            serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
                .unwrap();
        Server {
            child,
            base,
            pat: creds["pat"].as_str().unwrap().to_owned(),
            data,
            _dir: dir,
        }
    }

    /// Funds the organisation; there is no client command for that.
    fn credit(&self, cents: i64) {
        let owner = upivia::Client::builder()
            .base_url(&self.base)
            .pat(&self.pat)
            .build()
            .unwrap();
        let spec = RequestSpec::new(
            HttpMethod::Post,
            "/api/v1/balance/credits",
            AuthMode::Workspace,
        )
        .json(&json!({"amount_cents": cents, "note": "cli test"}))
        .unwrap();
        runtime().block_on(owner.send_json(spec)).unwrap();
    }

    /// `upivia <args> --base-url .. --pat ..`.
    fn owner(&self, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .args(["--base-url", &self.base])
            .env("UPIVIA_PAT", &self.pat)
            .output()
            .unwrap()
    }

    /// `upivia <args>` as the agent with `key` (key and URL from the env).
    fn agent(&self, key: &str, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .env("UPIVIA_BASE_URL", &self.base)
            .env("UPIVIA_API_KEY", key)
            .output()
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON a successful (or exit-1) command printed.
fn json_of(out: &Output, code: i32) -> Value {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn email(subject: &str) -> String {
    json!({"to": "ops@example.com", "subject": subject, "body": "From the CLI tests."}).to_string()
}

/// `upivia <args>` as the owner, with `stdin` piped in (secrets and
/// passwords never go on the command line).
fn owner_with_stdin(server: &Server, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = upivia()
        .args(args)
        .args(["--base-url", &server.base])
        .env("UPIVIA_PAT", &server.pat)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn create_agent(server: &Server, name: &str) -> (String, String) {
    let created = json_of(&server.owner(&["agents", "create", name, "--json"]), 0);
    (
        created["agent"]["id"].as_str().unwrap().to_owned(),
        created["api_key"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn requests_services_balance_and_agents_through_the_cli() {
    let server = Server::start();
    server.credit(500);

    let catalog = json_of(&server.owner(&["services", "--json"]), 0);
    let has = |service: &str, op: &str| {
        catalog["services"].as_array().unwrap().iter().any(|s| {
            s["id"] == service
                && s["operations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o["name"] == op)
        })
    };
    assert!(has("email", "send") && has("voice_call", "create"));
    let table = stdout(&server.owner(&["services"]));
    let email_row = table
        .lines()
        .find(|l| l.starts_with("email.send "))
        .expect("an email.send row");
    assert!(email_row.contains("$0.01"), "{email_row}");

    let (agent_id, key) = create_agent(&server, "cli bot");
    assert!(key.starts_with("agent_key_"));
    let enabled = json_of(
        &server.owner(&["agents", "enable", &agent_id, "email", "--json"]),
        0,
    );
    assert_eq!(enabled["ok"], true);

    let listed = json_of(&server.owner(&["agents", "list", "--json"]), 0);
    assert!(
        listed["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == agent_id.as_str() && a["name"] == "cli bot")
    );
    assert!(stdout(&server.owner(&["agents", "list"])).contains("cli bot"));

    // An executed request: exit 0, the outcome object with integer cents.
    let done = json_of(
        &server.agent(
            &key,
            &[
                "request",
                "email",
                "send",
                "--payload",
                &email("hi"),
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["cost_cents"], 1);
    assert_eq!(done["result"]["to"], "ops@example.com");
    let human = server.agent(
        &key,
        &["request", "email", "send", "--payload", &email("hi again")],
    );
    assert_eq!(human.status.code(), Some(0));
    let text = stdout(&human);
    assert!(text.starts_with("status: executed"), "{text}");
    assert!(text.contains("cost: $0.01"), "{text}");

    // An idempotent replay prints the very same outcome.
    let keyed = |subject: &str| {
        server.agent(
            &key,
            &[
                "request",
                "email",
                "send",
                "--payload",
                &email(subject),
                "--idempotency-key",
                "cli-1",
                "--json",
            ],
        )
    };
    let first = json_of(&keyed("same"), 0);
    let again = json_of(&keyed("same"), 0);
    assert_eq!(first, again);
    let conflict = keyed("different");
    assert_eq!(conflict.status.code(), Some(2));
    assert!(
        stderr(&conflict).contains("idempotency"),
        "{}",
        stderr(&conflict)
    );

    // A governance denial is exit 1 with the outcome still printed.
    let blocked = json_of(
        &server.agent(
            &key,
            &[
                "request",
                "web_search",
                "search",
                "--payload",
                r#"{"query":"rust"}"#,
                "--json",
            ],
        ),
        1,
    );
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["reason_code"], "service_not_enabled");

    // --wait follows an asynchronous voice call to its final state.
    server.owner(&["agents", "enable", &agent_id, "voice_call"]);
    let call = json!({"to": "+15555550123", "from": "+15555550100", "say": "The pager fired."})
        .to_string();
    let waited = json_of(
        &server.agent(
            &key,
            &[
                "request",
                "voice_call",
                "create",
                "--payload",
                &call,
                "--wait",
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(waited["status"], "executed", "{waited}");
    let running = json_of(
        &server.agent(
            &key,
            &[
                "request",
                "voice_call",
                "create",
                "--payload",
                &call,
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(running["status"], "running");

    // Balance: cents in JSON, dollars for people.
    let balance = json_of(&server.owner(&["balance", "--json"]), 0);
    let spent = 3 + waited["cost_cents"].as_i64().unwrap();
    let cents = |key: &str| balance[key].as_i64().unwrap();
    assert_eq!(
        cents("amount_cents") + cents("reserved_cents") + cents("settled_cents"),
        500,
        "{balance}"
    );
    // The second call may have settled by now, or still be held.
    assert!(cents("settled_cents") >= spent, "{balance}");
    let text = stdout(&server.owner(&["balance"]));
    assert!(text.starts_with("available: $"), "{text}");

    // Missing credentials are an error that names the flag.
    let no_pat = upivia()
        .args(["balance", "--base-url", &server.base])
        .output()
        .unwrap();
    assert_eq!(no_pat.status.code(), Some(2));
    assert!(stderr(&no_pat).contains("--pat"), "{}", stderr(&no_pat));
    let bad_key = server.agent(
        "agent_key_live_bogus",
        &["request", "email", "send", "--payload", &email("x")],
    );
    assert_eq!(bad_key.status.code(), Some(2));
    assert!(stderr(&bad_key).contains("401"), "{}", stderr(&bad_key));
}

#[test]
fn approvals_and_the_audit_trail_through_the_cli() {
    let server = Server::start();
    server.credit(100);
    let (agent_id, key) = create_agent(&server, "gated bot");
    server.owner(&["agents", "enable", &agent_id, "email", "--require-approval"]);

    let gate = |subject: &str| {
        let out = json_of(
            &server.agent(
                &key,
                &[
                    "request",
                    "email",
                    "send",
                    "--payload",
                    &email(subject),
                    "--json",
                ],
            ),
            0,
        );
        assert_eq!(out["status"], "approval_required", "{out}");
        out["approval_id"].as_str().unwrap().to_owned()
    };
    let first = gate("approve me");
    let second = gate("reject me");

    let pending = json_of(&server.owner(&["approvals", "list", "--json"]), 0);
    let ids: Vec<&str> = pending["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()));
    let table = stdout(&server.owner(&["approvals", "list"]));
    assert!(table.contains(&first) && table.contains("$0.01"), "{table}");

    let approved = json_of(
        &server.owner(&["approvals", "approve", &first, "--json"]),
        0,
    );
    assert_eq!(approved["status"], "executed");
    assert_eq!(approved["cost_cents"], 1);
    let twice = server.owner(&["approvals", "approve", &first]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr(&twice).contains("409"), "{}", stderr(&twice));
    let rejected = json_of(
        &server.owner(&["approvals", "reject", &second, "--json"]),
        0,
    );
    assert_eq!(rejected["status"], "blocked");
    assert_eq!(rejected["reason_code"], "approval_rejected");
    let empty = stdout(&server.owner(&["approvals", "list"]));
    assert!(empty.contains("no pending approvals"), "{empty}");

    // audit list: newest first, limited, filterable.
    let listed = json_of(
        &server.owner(&["audit", "list", "--limit", "4", "--json"]),
        0,
    );
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let mine = json_of(
        &server.owner(&[
            "audit",
            "list",
            "--agent-id",
            &agent_id,
            "--status",
            "executed",
            "--json",
        ]),
        0,
    );
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["request_id"], approved["request_id"]);

    // audit tail: the latest entries oldest first, one JSON object a line.
    let tail = server.owner(&["audit", "tail", "--limit", "3", "--json"]);
    assert_eq!(tail.status.code(), Some(0), "{}", stderr(&tail));
    let lines: Vec<Value> = stdout(&tail)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64())
    );
    assert_eq!(lines[2]["seq"], seqs[0], "the newest entry comes last");

    // audit tail --follow prints entries as they are written.
    let mut follow = upivia()
        .args([
            "audit",
            "tail",
            "--follow",
            "--limit",
            "1",
            "--json",
            "--interval-ms",
            "100",
        ])
        .args(["--base-url", &server.base, "--pat", &server.pat])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(follow.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> Value {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no audit line for {what}"))
            .unwrap();
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(next("the latest entry")["seq"], seqs[0]);
    let third = gate("while following");
    let seen = next("the new request");
    assert_eq!(
        seen["event_type"], "service_request.approval_required",
        "{seen}"
    );
    assert_eq!(seen["details"]["approval_id"], third.as_str());
    let _ = follow.kill();
    let _ = follow.wait();

    // The offline chain check still works on the same data directory.
    let verify = upivia()
        .args(["audit", "verify", "--data-dir"])
        .arg(Path::new(&server.data))
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("chain intact"),
        "{}",
        stdout(&verify)
    );
}

#[test]
fn password_change_reads_stdin_and_clears_the_credentials_file() {
    let server = Server::start();
    let creds_path = server.data.join("initial-credentials.json");
    let creds: Value = serde_json::from_slice(&std::fs::read(&creds_path).unwrap()).unwrap();
    let old = creds["password"].as_str().unwrap().to_owned();
    let change =
        |stdin: String| owner_with_stdin(&server, &["password", "change", "--json"], &stdin);
    let short = change(format!("{old}\nshort\n"));
    assert_eq!(short.status.code(), Some(2), "{}", stderr(&short));
    assert!(
        stderr(&short).contains("15 characters"),
        "{}",
        stderr(&short)
    );
    let wrong = change("not the password\nthe new cli passphrase\n".into());
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    let missing = change(format!("{old}\n"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("new password"),
        "{}",
        stderr(&missing)
    );

    let new = "the new cli passphrase ";
    let changed = json_of(&change(format!("{old}\r\n{new}\n")), 0);
    assert_eq!(changed["ok"], true);
    let creds: Value = serde_json::from_slice(&std::fs::read(&creds_path).unwrap()).unwrap();
    assert!(creds.get("password").is_none(), "{creds}");
    assert_eq!(creds["pat"], server.pat.as_str());

    let login = |password: &str| {
        let body = json!({"email": "owner@upivia.local", "password": password});
        let url = format!("{}/api/v1/auth/login", server.base);
        runtime()
            .block_on(async { reqwest::Client::new().post(url).json(&body).send().await })
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(login(&old), 401);
    assert_eq!(
        login(new),
        200,
        "the trailing space is part of the password"
    );
}

/// `upivia <args> --base-url ..` with the PAT `pat`.
fn with_pat(server: &Server, pat: &str, args: &[&str]) -> Output {
    upivia()
        .args(args)
        .args(["--base-url", &server.base])
        .env("UPIVIA_PAT", pat)
        .output()
        .unwrap()
}

#[test]
fn tokens_and_members_through_the_cli() {
    let server = Server::start();
    let made = json_of(
        &server.owner(&[
            "tokens",
            "create",
            "--name",
            "cli",
            "--expires-in-days",
            "7",
            "--json",
        ]),
        0,
    );
    let secret = made["secret"].as_str().unwrap().to_owned();
    let id = made["token"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("upivia_pat_"), "{made}");
    assert!(made["token"]["expires_at"].is_string(), "{made}");

    // The new token works, and the list never shows a secret.
    let listed = json_of(
        &with_pat(&server, &secret, &["tokens", "list", "--json"]),
        0,
    );
    let tokens = listed["tokens"].as_array().unwrap();
    assert!(tokens.iter().any(|t| t["id"] == id.as_str()), "{listed}");
    assert!(!listed.to_string().contains(&secret));
    let table = stdout(&server.owner(&["tokens", "list"]));
    assert!(table.contains(&id) && table.contains("cli"), "{table}");
    assert!(!table.contains(&secret));

    let revoked = json_of(&server.owner(&["tokens", "revoke", &id, "--json"]), 0);
    assert_eq!(revoked["ok"], true);
    let refused = with_pat(&server, &secret, &["tokens", "list", "--json"]);
    assert_ne!(refused.status.code(), Some(0), "{}", stdout(&refused));

    // Members: add (the password is shown once), promote, list, remove.
    let added = json_of(
        &server.owner(&["members", "add", "dev@example.com", "--json"]),
        0,
    );
    let user = added["member"]["id"].as_str().unwrap().to_owned();
    assert_eq!(added["member"]["role"], "member");
    assert!(added["password"].as_str().unwrap().len() >= 16, "{added}");
    let text = stdout(&server.owner(&["members", "add", "ops@example.com"]));
    assert!(text.contains("one-time password"), "{text}");
    let promoted = json_of(
        &server.owner(&["members", "set-role", &user, "admin", "--json"]),
        0,
    );
    assert_eq!(promoted["member"]["role"], "admin");
    let listed = json_of(&server.owner(&["members", "list", "--json"]), 0);
    assert_eq!(listed["members"].as_array().unwrap().len(), 3, "{listed}");
    let bad = server.owner(&["members", "set-role", &user, "owner", "--json"]);
    assert_ne!(bad.status.code(), Some(0));
    let removed = json_of(&server.owner(&["members", "remove", &user, "--json"]), 0);
    assert_eq!(removed["ok"], true);
    let listed = json_of(&server.owner(&["members", "list", "--json"]), 0);
    assert_eq!(listed["members"].as_array().unwrap().len(), 2, "{listed}");
}

#[test]
fn agents_clone_health_and_delete_through_the_cli() {
    let server = Server::start();
    server.credit(500);
    let (agent_id, key) = create_agent(&server, "original");
    server.owner(&["agents", "enable", &agent_id, "email"]);
    let sent = server.agent(
        &key,
        &["request", "email", "send", "--payload", &email("x")],
    );
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));

    let cloned = json_of(
        &server.owner(&["agents", "clone", &agent_id, "--name", "twin", "--json"]),
        0,
    );
    let twin = cloned["agent"]["id"].as_str().unwrap().to_owned();
    assert_eq!(cloned["agent"]["name"], "twin");
    assert_eq!(cloned["services"][0]["service_id"], "email", "{cloned}");
    let text = stdout(&server.owner(&["agents", "clone", &agent_id]));
    assert!(
        text.contains("original (copy)") && text.contains("api_key: agent_key_"),
        "{text}"
    );

    let health = json_of(&server.owner(&["agents", "health", &agent_id, "--json"]), 0);
    assert_eq!(health["health"], "healthy", "{health}");
    let fleet = json_of(
        &server.owner(&["agents", "health", "--window", "1h", "--json"]),
        0,
    );
    assert_eq!(fleet["window"], "1h");
    assert_eq!(fleet["counts"]["total"], 3, "{fleet}");
    let table = stdout(&server.owner(&["agents", "health"]));
    assert!(
        table.contains("healthy") && table.contains("idle"),
        "{table}"
    );
    let bad = server.owner(&["agents", "health", "--window", "1y"]);
    assert_eq!(bad.status.code(), Some(2));

    let deleted = json_of(&server.owner(&["agents", "delete", &twin, "--json"]), 0);
    assert_eq!(deleted["deleted"], true);
    let text = stdout(&server.owner(&["agents", "delete", &agent_id]));
    assert!(
        text.contains("deleted") && text.contains("1 bindings removed"),
        "{text}"
    );
    let after = server.agent(
        &key,
        &["request", "email", "send", "--payload", &email("y")],
    );
    assert_eq!(after.status.code(), Some(2), "{}", stdout(&after));
    let again = server.owner(&["agents", "delete", &agent_id]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn teams_and_the_inbox_through_the_cli() {
    let server = Server::start();
    let created = json_of(&server.owner(&["teams", "create", "Research", "--json"]), 0);
    let team = created["team"]["id"].as_str().unwrap().to_owned();
    let listed = json_of(&server.owner(&["teams", "list", "--json"]), 0);
    assert_eq!(listed["teams"][0]["id"], team.as_str());
    let table = server.owner(&["teams", "list"]);
    assert!(stdout(&table).contains("Research"), "{}", stdout(&table));
    let members = json_of(&server.owner(&["teams", "members", &team, "--json"]), 0);
    let membership = members["members"][0]["id"].as_str().unwrap().to_owned();
    let email = members["members"][0]["email"].as_str().unwrap().to_owned();
    let set = json_of(
        &server.owner(&["teams", "set-role", &team, &membership, "worker", "--json"]),
        0,
    );
    assert_eq!(set["member"]["role"], "worker");
    let again = server.owner(&["teams", "add-member", &team, &email]);
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
    assert!(
        stderr(&again).contains("already in this team"),
        "{}",
        stderr(&again)
    );
    let switched = json_of(&server.owner(&["teams", "switch", &team, "--json"]), 0);
    assert_eq!(switched["team_id"], team.as_str());
    json_of(&server.owner(&["teams", "switch", "--clear", "--json"]), 0);
    let removed = json_of(
        &server.owner(&["teams", "remove-member", &team, &membership, "--json"]),
        0,
    );
    assert_eq!(removed["removed"], membership.as_str());

    let (_, key) = create_agent(&server, "Scout");
    let asked = json_of(
        &server.agent(
            &key,
            &[
                "inbox",
                "ask",
                "clarification",
                "Which region?",
                "--title",
                "Region",
                "--json",
            ],
        ),
        0,
    );
    let id = asked["request"]["id"].as_str().unwrap().to_owned();
    let pending = json_of(&server.owner(&["inbox", "list", "--json"]), 0);
    assert_eq!(pending["requests"][0]["id"], id.as_str());
    assert_eq!(pending["requests"][0]["agent_name"], "Scout");
    let done = json_of(
        &server.owner(&["inbox", "resolve", &id, "--response", "eu-west", "--json"]),
        0,
    );
    assert_eq!(done["request"]["status"], "resolved");
    let twice = server.owner(&["inbox", "reject", &id]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice).contains("already decided"),
        "{}",
        stderr(&twice)
    );
    let read = json_of(&server.agent(&key, &["inbox", "show", &id, "--json"]), 0);
    assert_eq!(read["request"]["response"], "eu-west");
    let mine = server.agent(&key, &["inbox", "list", "--status", "resolved"]);
    assert!(stdout(&mine).contains("Region"), "{}", stdout(&mine));
}

#[test]
fn pools_budget_requests_and_spawn_through_the_cli() {
    let server = Server::start();
    server.credit(300);
    let created = json_of(&server.owner(&["teams", "create", "Pool", "--json"]), 0);
    let team = created["team"]["id"].as_str().unwrap().to_owned();
    let moved = json_of(
        &server.owner(&["teams", "allocate", &team, "100", "--note", "q4", "--json"]),
        0,
    );
    assert_eq!(moved["budget"]["pool_cents"], 100);
    let table = server.owner(&["teams", "budget", &team]);
    assert!(stdout(&table).contains("100"), "{}", stdout(&table));
    let short = server.owner(&["teams", "allocate", &team, "201"]);
    assert_eq!(short.status.code(), Some(2), "{}", stdout(&short));
    assert!(
        stderr(&short).contains("200 cents available"),
        "{}",
        stderr(&short)
    );

    let asked = json_of(
        &server.owner(&["teams", "ask", &team, "50", "--reason", "more", "--json"]),
        0,
    );
    let id = asked["request"]["id"].as_str().unwrap().to_owned();
    let listed = server.owner(&["teams", "requests"]);
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));
    let approved = json_of(&server.owner(&["teams", "approve", &id, "--json"]), 0);
    assert_eq!(approved["request"]["status"], "approved");
    let all = json_of(
        &server.owner(&["teams", "requests", "--status", "all", "--json"]),
        0,
    );
    assert_eq!(all["requests"][0]["status"], "approved");
    let twice = server.owner(&["teams", "reject", &id]);
    assert_eq!(twice.status.code(), Some(2));
    let pool = json_of(&server.owner(&["teams", "budget", &team, "--json"]), 0);
    assert_eq!(pool["budget"]["pool_cents"], 150);

    let (parent, key) = create_agent(&server, "Parent");
    json_of(
        &server.owner(&["agents", "enable", &parent, "email", "--json"]),
        0,
    );
    let spawned = json_of(
        &server.agent(
            &key,
            &[
                "agents",
                "spawn",
                "Child",
                "email.send",
                "--budget-cents",
                "5",
                "--json",
            ],
        ),
        0,
    );
    assert_eq!(spawned["agent"]["parent_agent_id"], parent.as_str());
    assert!(
        spawned["api_key"]
            .as_str()
            .unwrap()
            .starts_with("agent_key_")
    );
    let refused = server.agent(&key, &["agents", "spawn", "Greedy", "sms.send"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stderr(&refused).contains("does not have sms.send"),
        "{}",
        stderr(&refused)
    );
    let without_key = server.owner(&["agents", "spawn", "Nobody", "email.send"]);
    assert_ne!(without_key.status.code(), Some(0));
}

#[test]
fn delegated_tasks_through_the_cli() {
    let server = Server::start();
    server.credit(100);
    let (parent, parent_key) = create_agent(&server, "parent");
    json_of(
        &server.owner(&["agents", "enable", &parent, "email", "--json"]),
        0,
    );
    let spawned = json_of(
        &server.agent(
            &parent_key,
            &[
                "agents",
                "spawn",
                "child",
                "email.send",
                "--budget-cents",
                "10",
                "--json",
            ],
        ),
        0,
    );
    let child = spawned["agent"]["id"].as_str().unwrap().to_owned();

    let created = json_of(
        &server.agent(
            &parent_key,
            &[
                "tasks",
                "delegate",
                &parent,
                &child,
                "Send the digest",
                "--budget-cap-cents",
                "5",
                "--permission",
                "email.send",
                "--json",
            ],
        ),
        0,
    );
    let task = created["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["task"]["permissions"], json!(["email.send"]));
    let table = server.agent(&parent_key, &["tasks", "list", &parent]);
    assert!(stdout(&table).contains(&task), "{}", stdout(&table));
    assert!(stdout(&table).contains("Send the digest"));

    let moved = json_of(
        &server.owner(&[
            "tasks",
            "update",
            &child,
            &task,
            "--status",
            "accepted",
            "--file-write",
            "out/a.txt",
            "--json",
        ]),
        0,
    );
    assert_eq!(moved["task"]["status"], "accepted");
    let shown = json_of(
        &server.owner(&["tasks", "show", &parent, &task, "--json"]),
        0,
    );
    assert_eq!(shown["task"]["budget_cap_cents"], 5);
    let back = server.owner(&["tasks", "reattach", &task, "--since", "0"]);
    assert!(stdout(&back).contains("out/a.txt"), "{}", stdout(&back));
    let wrong = server.owner(&["tasks", "update", &child, &task, "--status", "cancelled"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        stderr(&wrong).contains("the parent does"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn secrets_through_the_cli_take_the_value_on_stdin() {
    let server = Server::start();
    let set = |name: &str, stdin: &str| {
        owner_with_stdin(&server, &["secrets", "set", name, "--json"], stdin)
    };
    let written = json_of(&set("CRM_TOKEN", "crm-value-from-stdin\n"), 0);
    assert_eq!(written["secret"]["version"], 1);
    assert!(!written.to_string().contains("crm-value-from-stdin"));
    let empty = set("EMPTY", "");
    assert_ne!(empty.status.code(), Some(0));
    assert!(stderr(&empty).contains("no value"), "{}", stderr(&empty));
    let table = server.owner(&["secrets", "list"]);
    assert!(stdout(&table).contains("CRM_TOKEN"), "{}", stdout(&table));
    assert!(!stdout(&table).contains("crm-value"), "{}", stdout(&table));
    let deleted = json_of(
        &server.owner(&["secrets", "delete", "CRM_TOKEN", "--json"]),
        0,
    );
    assert_eq!(deleted["deleted"], "CRM_TOKEN");
    let again = server.owner(&["secrets", "delete", "CRM_TOKEN"]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn the_webhook_signing_secret_is_rotated_by_the_owner_and_shown_once() {
    let server = Server::start();
    let none = server.owner(&["secrets", "webhook-signing"]);
    assert!(stdout(&none).contains("none yet"), "{}", stdout(&none));
    let rotated = server.owner(&["secrets", "webhook-signing", "--rotate"]);
    assert_eq!(rotated.status.code(), Some(0), "{}", stderr(&rotated));
    let secret = stdout(&rotated).trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(stderr(&rotated).contains("not shown again"));
    let shown = json_of(&server.owner(&["secrets", "webhook-signing", "--json"]), 0);
    assert_eq!(shown["configured"], true);
    assert_eq!(shown["version"], 1);
    assert!(!shown.to_string().contains(&secret[6..]));
    let again = json_of(
        &server.owner(&["secrets", "webhook-signing", "--rotate", "--json"]),
        0,
    );
    assert_eq!(again["version"], 2);
    assert_ne!(again["secret"], secret.as_str());
}
