//! `kill -9` of the server in the middle of a workflow run, and a restart:
//! the run goes on from where it was, no completed step runs twice, and a
//! step cut off mid-request is tried again under a new attempt with its
//! money released.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::{Server, call, free_port};

async fn start(data: &std::path::Path, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .args([
            "--provider-timeout-ms",
            "60000",
            "--worker-interval-ms",
            "100",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    support::healthy(child, port).await
}

fn kill_nine(server: &mut Server) {
    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(status.success());
    let _ = server.child.wait();
}

fn email(id: &str, subject: &str) -> Value {
    json!({"id": id, "type": "service_request", "service": "email", "operation": "send",
           "payload": {"to": "ops@example.com", "subject": subject, "body": "from a workflow"}})
}

struct Api {
    http: reqwest::Client,
    base: String,
    pat: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, body) = call(
            &self.http,
            Method::POST,
            format!("{}{path}", self.base),
            &self.pat,
            Some(body),
        )
        .await;
        assert!(status < 300, "POST {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = call(
            &self.http,
            Method::GET,
            format!("{}{path}", self.base),
            &self.pat,
            None,
        )
        .await;
        assert!(status < 300, "GET {path}: {status} {body}");
        body
    }

    /// Polls the run until `done` holds for it (30 s at most).
    async fn until(&self, wf: &str, run: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .get(&format!("/api/v1/workflows/{wf}/runs/{run}"))
                .await["run"]
                .clone();
            if done(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "the run never got there: {r}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A workflow of `agent` with one draft version, and a test run of it.
    async fn run(&self, agent: &str, def: Value) -> (String, String) {
        let wf = self
            .post(
                "/api/v1/workflows",
                json!({"name": "crash", "agent_id": agent}),
            )
            .await;
        let wf = wf["workflow"]["id"].as_str().unwrap().to_owned();
        let v = self
            .post(&format!("/api/v1/workflows/{wf}/versions"), def)
            .await;
        let v = v["version"]["id"].as_str().unwrap().to_owned();
        let run = self
            .post(
                &format!("/api/v1/workflows/{wf}/runs"),
                json!({"workflow_version_id": v, "test_run": true}),
            )
            .await;
        (wf, run["run"]["id"].as_str().unwrap().to_owned())
    }
}

fn step<'r>(run: &'r Value, id: &str) -> &'r Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_minus_nine_mid_run_resumes_without_running_a_completed_step_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut server = start(&data, port).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let (agent, _) =
        support::funded_agent(&http, &server.base, &pat, 100_000, "crash", &["email"]).await;
    let api = Api {
        http,
        base: server.base.clone(),
        pat,
    };

    // 1. Waiting at an approval gate when the process dies.
    let (wf, run) = api
        .run(&agent, json!({"steps": [email("a", "first"), {"id": "gate", "type": "approval"}, email("c", "last")],
                            "edges": [{"from": "a", "to": "gate"}, {"from": "gate", "to": "c"}]}))
        .await;
    let before = api
        .until(&wf, &run, |r| r["status"] == "waiting_approval")
        .await;
    let a_request = step(&before, "a")["service_request_id"].clone();
    // 2. A second run cut off while its step's request is with the provider
    //    (the sandbox's slow marker holds it for 30 s).
    let (slow_wf, slow_run) = api
        .run(&agent, json!({"steps": [email("slow", "sandbox-slow")]}))
        .await;
    api.until(&slow_wf, &slow_run, |r| {
        step(r, "slow")["status"] == "running"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    kill_nine(&mut server);

    let mut server = start(&data, port).await;
    let after = api.get(&format!("/api/v1/workflows/{wf}/runs/{run}")).await["run"].clone();
    assert_eq!(after["status"], "waiting_approval", "{after}");
    assert_eq!(
        step(&after, "a")["service_request_id"],
        a_request,
        "a kept its one request"
    );
    let gate = step(&after, "gate")["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/api/v1/approvals/{gate}/approve"), json!({}))
        .await;
    let done = api.until(&wf, &run, |r| r["status"] == "completed").await;
    assert_eq!(step(&done, "a")["service_request_id"], a_request);
    assert_eq!(step(&done, "a")["attempt"], 1);

    // The cut-off step did not happen: it is tried again as attempt 2.
    let retried = api
        .until(&slow_wf, &slow_run, |r| step(r, "slow")["attempt"] == 2)
        .await;
    assert_eq!(retried["status"], "running", "{retried}");
    api.post(
        &format!("/api/v1/workflows/{slow_wf}/runs/{slow_run}/cancel"),
        json!({}),
    )
    .await;

    // Every step that completed ran once: a and c, nothing else executed.
    let usage = api.get("/api/v1/usage").await;
    let executed = usage["records"]
        .as_array()
        .or(usage["usage"].as_array())
        .map_or(0, Vec::len);
    assert_eq!(executed, 2, "{usage}");
    kill_nine(&mut server);
    let check = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["admin", "check-ledger", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
