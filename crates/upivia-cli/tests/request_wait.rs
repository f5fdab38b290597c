//! `upivia request … --wait` waits through a human's approval to the
//! final outcome, and gives up at `--timeout-secs`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::{call, exit, free_port, stdout, upivia};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_follows_an_approval_to_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut cmd = upivia();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = support::healthy(cmd.spawn().unwrap(), port).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let (agent, key) = support::funded_agent(&http, &server.base, &pat, 1_000, "gated", &[]).await;
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{}/api/v1/agents/{agent}/services", server.base),
        &pat,
        Some(json!({"service_id": "email", "require_approval": true})),
    )
    .await;
    assert!(status < 300, "{body}");
    let payload = json!({"to": "ops@example.com", "subject": "Hi", "body": "x"}).to_string();
    let request = |timeout: &str| {
        let mut cmd = upivia();
        cmd.args([
            "request",
            "email",
            "send",
            "--payload",
            &payload,
            "--wait",
            "--json",
        ])
        .args(["--timeout-secs", timeout])
        .env("UPIVIA_BASE_URL", &server.base)
        .env("UPIVIA_API_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    };
    let waiting = request("60").spawn().unwrap();

    // A human approves it while the command waits.
    let deadline = Instant::now() + Duration::from_secs(30);
    let approval = loop {
        let (_, listed) = call(
            &http,
            Method::GET,
            format!("{}/api/v1/approvals", server.base),
            &pat,
            None,
        )
        .await;
        if let Some(id) = listed["approvals"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no approval appeared: {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, body) = call(
        &http,
        Method::POST,
        format!("{}/api/v1/approvals/{approval}/approve", server.base),
        &pat,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let out = tokio::task::spawn_blocking(move || waiting.wait_with_output().unwrap())
        .await
        .unwrap();
    exit(&out, 0);
    let outcome: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(outcome["status"], "executed", "{outcome}");

    // Nobody decides: it gives up, with a message, at the timeout.
    let mut give_up = request("1");
    let out = tokio::task::spawn_blocking(move || give_up.output().unwrap())
        .await
        .unwrap();
    exit(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("still approval_required"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_announced_and_no_retry_fails_at_once() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut cmd = upivia();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--key-rate-limit-per-minute", "1"])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = support::healthy(cmd.spawn().unwrap(), port).await;
    let pat = support::owner_pat(&data);
    let http = reqwest::Client::new();
    let (_, key) =
        support::funded_agent(&http, &server.base, &pat, 1_000, "busy", &["email"]).await;
    let payload = json!({"to": "ops@example.com", "subject": "Hi", "body": "x"}).to_string();
    let request = |extra: &[&str]| {
        let mut cmd = upivia();
        cmd.args(["request", "email", "send", "--payload", &payload])
            .args(extra)
            .env("UPIVIA_BASE_URL", &server.base)
            .env("UPIVIA_API_KEY", &key);
        cmd
    };
    exit(&request(&[]).output().unwrap(), 0);
    let started = Instant::now();
    let fast = request(&["--no-retry"]).output().unwrap();
    exit(&fast, 2);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        String::from_utf8_lossy(&fast.stderr).contains("rate"),
        "{}",
        String::from_utf8_lossy(&fast.stderr)
    );
    // Without it, the wait is announced before it starts.
    let mut waiting = request(&[]).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(waiting.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = waiting.kill();
    let _ = waiting.wait();
    assert!(
        first.starts_with("rate limited: retrying POST /api/v1/service-requests in "),
        "{first}"
    );
    assert!(first.contains("--no-retry"), "{first}");
}
