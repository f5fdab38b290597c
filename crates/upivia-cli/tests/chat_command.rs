//! `upivia chat` against a real `upivia serve` child process: a turn
//! streamed to stdout, its governed tool call reported, a pause resumed
//! with `--resume --approve`, and `--json` event lines.

use std::process::{Output, Stdio};

use serde_json::Value;

mod support;
use support::{Server, exit, free_port, stderr, stdout, upivia};

struct Cli {
    server: Server,
    pat: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Cli {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut cmd = upivia();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = support::healthy(cmd.spawn().expect("server starts"), port).await;
    Cli {
        pat: support::owner_pat(&data),
        server,
        _dir: dir,
    }
}

impl Cli {
    fn chat(&self, args: &[&str]) -> Output {
        upivia()
            .arg("chat")
            .args(args)
            .env("UPIVIA_BASE_URL", &self.server.base)
            .env("UPIVIA_PAT", &self.pat)
            .output()
            .unwrap()
    }
}

const SEND: &str =
    r#"please send an email {"to":"ops@example.com","subject":"Disk","body":"Disk full."}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_streams_its_reply_and_a_paused_one_resumes() {
    let cli = start().await;
    let http = reqwest::Client::new();
    let (agent, _) = support::funded_agent(
        &http,
        &cli.server.base,
        &cli.pat,
        1_000,
        "chatty",
        &["email"],
    )
    .await;

    let out = cli.chat(&["--agent", &agent, SEND]);
    exit(&out, 0);
    assert_eq!(
        stdout(&out).trim(),
        "Calling email_send.Tool results — email_send: executed."
    );
    let err = stderr(&out);
    assert!(
        err.contains("→ email_send") && err.contains("← email_send: executed"),
        "{err}"
    );
    assert!(err.contains("balance: $"), "{err}");
    let session = err
        .lines()
        .find_map(|l| l.strip_prefix("session "))
        .unwrap()
        .to_owned();

    // Every call parked: the turn pauses and says how to go on.
    let paused = cli.chat(&["--session", &session, "--require-approval-all", SEND]);
    exit(&paused, 0);
    let err = stderr(&paused);
    let resume = err
        .lines()
        .find(|l| l.contains("needs approval"))
        .unwrap_or_else(|| panic!("{err}"));
    let request = resume.rsplit(' ').next().unwrap().to_owned();
    assert!(request.starts_with("req_"), "{resume}");
    let resumed = cli.chat(&[
        "--session",
        &session,
        "--resume",
        &request,
        "--approve",
        "--json",
    ]);
    exit(&resumed, 0);
    let events: Vec<Value> = stdout(&resumed)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.last().unwrap()["event"], "done");
    let message = events.iter().find(|e| e["event"] == "message").unwrap();
    assert_eq!(
        message["data"]["content"],
        "Tool results — email_send: executed."
    );

    // Refusals: nothing to say, an unknown session, no credential.
    exit(&cli.chat(&["--session", &session]), 2);
    exit(&cli.chat(&["--session", "chs_nope", "hi"]), 2);
    let anonymous = upivia()
        .args([
            "chat",
            "--agent",
            &agent,
            "hi",
            "--base-url",
            &cli.server.base,
        ])
        .output()
        .unwrap();
    exit(&anonymous, 2);
}
