//! What `upivia serve` writes to its log when stderr is not a terminal:
//! no colour codes, JSON lines with UPIVIA_LOG_FORMAT=json, and a warning
//! when its links would name a wildcard address.

use std::process::Command;

use serde_json::Value;

mod support;
use support::{free_port, start_up_log};

fn serve(data: &std::path::Path, listen: &str) -> Command {
    let mut cmd = support::upivia();
    cmd.env("UPIVIA_LOG", "info")
        .env_remove("NO_COLOR")
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data);
    cmd
}

#[test]
fn a_log_that_is_not_a_terminal_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = serve(&dir.path().join("data"), &listen);
    let log = raw_start_up_log(&mut cmd);
    assert!(log.contains("upivia is serving"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log:?}"
    );
    assert!(!log.contains("wildcard"), "{log}");
}

#[test]
fn the_json_format_writes_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = serve(&dir.path().join("data"), &listen);
    cmd.env("UPIVIA_LOG_FORMAT", "json");
    let log = raw_start_up_log(&mut cmd);
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let serving = lines
        .iter()
        .find(|l| l["fields"]["message"] == "upivia is serving")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(serving["level"], "INFO");
    assert_eq!(serving["fields"]["address"], listen.as_str());
}

#[test]
fn a_wildcard_listen_address_without_a_public_url_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("0.0.0.0:{}", free_port());
    let log = start_up_log(&mut serve(&dir.path().join("data"), &listen));
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("--public-url"), "{log}");
    let dir = tempfile::tempdir().unwrap();
    let mut with_url = serve(
        &dir.path().join("data"),
        &format!("0.0.0.0:{}", free_port()),
    );
    with_url.args(["--public-url", "https://upivia.example.com"]);
    assert!(!start_up_log(&mut with_url).contains("--public-url"));
}

/// `start_up_log` without its colour stripping: what the process wrote.
fn raw_start_up_log(command: &mut Command) -> String {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut log = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("upivia is serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_is_one_info_line() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(&dir.path().join("data"), &format!("127.0.0.1:{port}"))
        .arg("--dev")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained to the end: a closed stdout would fail the server's prints.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (key_tx, key_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(key) = line.trim().strip_prefix("export UPIVIA_API_KEY=") {
                let _ = key_tx.send(key.to_owned());
            }
        }
    });
    let key = key_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo agent's key");
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer: Value = loop {
        let sent = http
            .post(format!("{base}/api/v1/service-requests"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"service": "email", "operation": "send",
                "payload": {"to": "ops@example.com", "subject": "Hi", "body": "x"}}))
            .send()
            .await;
        if let Ok(r) = sent {
            break r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the server did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let request_id = answer["request_id"].as_str().unwrap().to_owned();
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("a decision line");
        if line.contains("decision") && line.contains(&request_id) {
            break line;
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    for field in [
        "INFO",
        "agent_id=agt_",
        "operation=email.send",
        "outcome=\"executed\"",
        "cost_cents=",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
