//! `upivia admin create-org` against the real binary: refused while a
//! server runs on the data directory (as is a second server), creating the
//! organisation once it is stopped, printing the owner's credentials once
//! (text or JSON) and leaving them in no file; the new owner then works
//! against a restarted server and sees nothing of the first organisation.
//! On PostgreSQL it runs beside the nodes, and refuses a database no node
//! has started on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_upivia");

fn upivia() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("UPIVIA_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("UPIVIA_LOG", "info");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        Server::start_with(data, &[])
    }

    fn start_with(data: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let child = upivia()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("upivia serve starts");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !rt().block_on(async {
            reqwest::get(format!("{}/api/v1/healthz", server.base))
                .await
                .is_ok_and(|r| r.status().is_success())
        }) {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// A clean stop (SIGTERM), waited for.
    fn stop(mut self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "upivia serve exited with {status}");
    }

    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/api/v1{path}", self.base);
        rt().block_on(async {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = reqwest::Client::new().request(method, url);
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed half-way leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn create_org(data: &Path, name: &str, email: &str, json: bool) -> Output {
    let mut cmd = upivia();
    cmd.args([
        "admin",
        "create-org",
        "--name",
        name,
        "--owner-email",
        email,
    ])
    .arg("--data-dir")
    .arg(data);
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

fn exit_code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The new owner's credentials, from the text or the JSON output.
#[derive(Debug)]
struct Owner {
    org_id: String,
    email: String,
    password: String,
    pat: String,
}

fn owner_from_text(stdout: &str) -> Owner {
    let field = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label} in {stdout}"))
    };
    let org_id = stdout
        .lines()
        .next()
        .and_then(|l| l.rsplit(": ").next())
        .unwrap()
        .to_owned();
    Owner {
        org_id,
        email: field("owner:"),
        password: field("password:"),
        pat: field("pat:"),
    }
}

#[test]
fn create_org_waits_for_the_server_to_stop_and_its_owner_sees_only_its_own_org() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let first: Value =
        serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
            .unwrap();
    let first_pat = first["pat"].as_str().unwrap();
    let (status, agent) = server.call(
        "POST",
        "/agents",
        first_pat,
        Some(json!({"name": "first org's agent"})),
    );
    assert_eq!(status, 200, "{agent}");
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_owned();

    // A second server on the same directory is refused at start.
    let second = upivia()
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(exit_code(&second), Some(2), "{}", text(&second.stderr));
    let refused = format!("a server is running on {}", data.display());
    assert!(
        text(&second.stderr).contains(&refused),
        "{}",
        text(&second.stderr)
    );
    // So is create-org, and it creates nothing.
    let beside = create_org(&data, "Acme", "boss@acme.example", false);
    assert_eq!(exit_code(&beside), Some(2), "{}", text(&beside.stderr));
    assert!(
        text(&beside.stderr).contains(&format!("{refused}; stop it first (or use the API)")),
        "{}",
        text(&beside.stderr)
    );
    assert!(beside.stdout.is_empty());
    // The read-only commands work beside the server.
    for args in [&["admin", "check-ledger"][..], &["audit", "verify"][..]] {
        let out = upivia()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(
            exit_code(&out),
            Some(0),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    server.stop();

    let made = create_org(&data, "  Acme Ltd ", "boss@acme.example", false);
    assert_eq!(exit_code(&made), Some(0), "{}", text(&made.stderr));
    let stdout = text(&made.stdout);
    assert!(
        stdout.starts_with("organisation Acme Ltd created: org_"),
        "{stdout}"
    );
    let acme = owner_from_text(&stdout);
    assert_eq!(acme.email, "boss@acme.example");
    assert!(acme.pat.starts_with("upivia_pat_live_"), "{acme:?}");
    assert!(acme.password.len() >= 20, "{acme:?}");

    let mut logs = text(&made.stderr);
    let made = create_org(&data, "Globex", "ceo@globex.example", true);
    logs.push_str(&text(&made.stderr));
    assert_eq!(exit_code(&made), Some(0), "{}", text(&made.stderr));
    let json: Value = serde_json::from_slice(&made.stdout).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["email", "name", "org_id", "password", "pat"]);
    assert_eq!(json["name"], "Globex");
    assert_eq!(json["email"], "ceo@globex.example");
    let globex = Owner {
        org_id: json["org_id"].as_str().unwrap().to_owned(),
        email: "ceo@globex.example".into(),
        password: json["password"].as_str().unwrap().to_owned(),
        pat: json["pat"].as_str().unwrap().to_owned(),
    };
    assert_ne!(globex.org_id, acme.org_id);
    assert_ne!(globex.pat, acme.pat);

    // An email that has a user, in any organisation, is refused.
    for email in ["boss@acme.example", "owner@upivia.local"] {
        let again = create_org(&data, "Again", email, false);
        assert_eq!(exit_code(&again), Some(2), "{}", text(&again.stderr));
        assert!(
            text(&again.stderr).contains("a user with this email already exists"),
            "{}",
            text(&again.stderr)
        );
    }
    let bad = create_org(&data, "Bad", "not-an-address", false);
    assert_eq!(exit_code(&bad), Some(2));
    assert!(
        text(&bad.stderr).contains("invalid field owner_email"),
        "{}",
        text(&bad.stderr)
    );

    // The chain the offline writer extended still verifies.
    let verified = upivia()
        .args(["audit", "verify", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(exit_code(&verified), Some(0), "{}", text(&verified.stdout));

    let server = Server::start(&data);
    let (status, who) = server.call("GET", "/whoami", &acme.pat, None);
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["org_id"], acme.org_id.as_str());
    assert_eq!(who["user"]["role"], "owner");
    let (status, agents) = server.call("GET", "/agents", &acme.pat, None);
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["agents"], json!([]));
    let (status, theirs) = server.call("GET", &format!("/agents/{agent_id}"), &acme.pat, None);
    assert_eq!(status, 404, "{theirs}");
    assert!(!theirs.to_string().contains("first org's agent"));
    let (status, mine) = server.call("GET", "/agents", first_pat, None);
    assert_eq!(status, 200);
    assert_eq!(mine["agents"][0]["id"], agent_id.as_str());
    // The printed password signs the owner in.
    let (status, login) = server.call(
        "POST",
        "/auth/login",
        "",
        Some(json!({"email": globex.email, "password": globex.password})),
    );
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["org_id"], globex.org_id.as_str());
    server.stop();

    let verified = upivia()
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(exit_code(&verified), Some(0), "{}", text(&verified.stdout));

    // The credentials were shown once: no file of the data directory (the
    // database, its WAL, the lock, the checkpoints) holds them.
    let secrets = [&acme.password, &acme.pat, &globex.password, &globex.pat];
    for secret in secrets {
        assert!(!logs.contains(secret.as_str()), "logged: {logs}");
    }
    let all = files(&data);
    assert!(all.iter().any(|p| p.ends_with("upivia.db")), "{all:?}");
    for path in all {
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a new owner's secret",
                path.display()
            );
        }
    }
}

#[test]
fn create_org_needs_a_data_directory_a_server_has_run_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_org(dir.path(), "Acme", "boss@acme.example", false);
    assert_eq!(exit_code(&out), Some(2));
    assert!(
        text(&out.stderr).contains("no database at"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn on_postgresql_create_org_runs_beside_the_nodes_and_needs_one_to_have_started() {
    let Some(server_url) = upivia_server::store::postgres::testing::server_url() else {
        return;
    };
    let db = rt()
        .block_on(upivia_server::store::postgres::testing::TestDatabase::create(&server_url))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let on_db = |name: &str, email: &str| {
        upivia()
            .args(["admin", "create-org", "--json", "--name", name])
            .args(["--owner-email", email, "--database-url", db.url()])
            .arg("--data-dir")
            .arg(dir.path().join("elsewhere"))
            .output()
            .unwrap()
    };
    // No node has bootstrapped the database yet: refused, nothing made.
    let early = on_db("Early", "early@example.com");
    assert_eq!(exit_code(&early), Some(2), "{}", text(&early.stderr));
    assert!(
        text(&early.stderr).contains("no server has started on this database yet"),
        "{}",
        text(&early.stderr)
    );
    assert!(early.stdout.is_empty());

    let data = dir.path().join("node");
    let node = Server::start_with(&data, &["--database-url", db.url()]);
    let made = on_db("Acme", "boss@acme.example");
    assert_eq!(exit_code(&made), Some(0), "{}", text(&made.stderr));
    let acme: Value = serde_json::from_slice(&made.stdout).unwrap();
    let pat = acme["pat"].as_str().unwrap();
    // The running node serves the new owner at once, with an empty
    // organisation of its own.
    let (status, agents) = node.call("GET", "/agents", pat, None);
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["agents"], json!([]), "{agents}");
    let (status, created) = node.call("POST", "/agents", pat, Some(json!({"name": "acme's"})));
    assert_eq!(status, 200, "{created}");
    let first: Value =
        serde_json::from_slice(&std::fs::read(data.join("initial-credentials.json")).unwrap())
            .unwrap();
    let (_, theirs) = node.call("GET", "/agents", first["pat"].as_str().unwrap(), None);
    assert!(
        theirs["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "acme's"),
        "{theirs}"
    );
    // The same email twice is refused.
    let again = on_db("Acme again", "boss@acme.example");
    assert_ne!(exit_code(&again), Some(0));
    assert!(again.stdout.is_empty());
    node.stop();
}
