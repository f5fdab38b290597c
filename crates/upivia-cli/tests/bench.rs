//! `upivia bench` and its echo server, as bench/ratio.sh and
//! bench/callgrind.sh drive them: child processes over loopback, asserting
//! on the `--json` report and the exit codes.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_upivia");

/// Killed on drop, so a failing test leaves no server behind.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn echo_server() -> (Proc, String) {
    let port = free_port();
    let child = upivia()
        .args([
            "bench",
            "echo-server",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the echo server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

/// `upivia serve` on `data`; ready to be loaded once it wrote the owner's
/// credentials (the listener is bound before, so requests wait for it).
fn governed_server(data: &Path) -> (Proc, String) {
    let port = free_port();
    let child = upivia()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("upivia serve", || {
        data.join("initial-credentials.json").exists()
    });
    (Proc(child), format!("http://127.0.0.1:{port}"))
}

fn bench(args: &[&str]) -> (Output, Value) {
    let out = upivia()
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

#[test]
fn the_echo_load_makes_exactly_the_requests_asked_and_each_comes_back_unchanged() {
    let (server, base) = echo_server();
    let (out, report) = bench(&[
        "--base-url",
        &base,
        "--echo",
        "--requests",
        "300",
        "--concurrency",
        "4",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["mode"], "echo");
    assert_eq!(report["requests"], 300);
    assert_eq!(report["outcomes"], serde_json::json!({"echoed": 300}));

    // SIGTERM is how the scripts stop it, and callgrind writes its counts
    // only on a clean exit.
    let mut server = server;
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the echo server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_counted_governed_load_over_several_base_urls_charges_each_request_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_server, base) = governed_server(&data);
    let data_dir = data.to_str().unwrap();
    // The same node twice: the list is parsed and the load spread over it.
    let bases = format!("{base},{base}/");
    let counted = [
        "--base-url",
        &bases,
        "--data-dir",
        data_dir,
        "--requests",
        "90",
        "--concurrency",
        "3",
        "--agents",
        "2",
    ];
    let (out, report) = bench(&counted);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["mode"], "governed");
    assert_eq!(report["requests"], 90);
    assert_eq!(report["outcomes"]["executed"], 90);
    assert_eq!(report["spent_cents"], 90);
    assert_eq!(report["charged_once"], true);
    assert_eq!(report["ledger_ok"], true);

    let (out, report) = bench(&[&counted[..], &["--no-ledger-check"]].concat());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["requests"], 90);
    assert_eq!(report["charged_once"], true);
    assert_eq!(report["ledger_ok"], Value::Null, "the check was skipped");
}

#[test]
fn the_load_refuses_servers_off_loopback_and_an_echo_that_does_not_echo() {
    let (out, _) = bench(&[
        "--base-url",
        "http://example.com",
        "--echo",
        "--requests",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let (out, _) = bench(&[
        "--base-url",
        "http://127.0.0.1:3000,http://10.0.0.1:3000",
        "--echo",
        "--requests",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // A governed server is no echo: its answers are 404s, not the body sent.
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = governed_server(&dir.path().join("data"));
    let (out, report) = bench(&["--base-url", &base, "--echo", "--requests", "5"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(report["outcomes"], serde_json::json!({"http_404": 5}));
}

#[test]
fn the_help_never_prints_the_pat_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["bench", "--help"])
        .env("UPIVIA_PAT", "upivia_pat_live_do_not_show")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--pat"), "{help}");
    assert!(!help.contains("do_not_show"), "{help}");
}
