//! The operator's commands against a real `upivia serve` child: `login`
//! and `logout` (the stored credentials file and its use by later
//! commands), `balance credit`, `agents show|pause|resume|rotate-key|
//! budget`, `request get` and `usage`, asserting on their `--json` output,
//! their text and their exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::{Value, json};

mod support;
use support::{Cli, exit, json_of, start_cli, stderr, stdout, upivia};

fn email(subject: &str) -> String {
    json!({"to": "ops@example.com", "subject": subject, "body": "From the operator tests."})
        .to_string()
}

/// `upivia <args>` with `config` as its config directory and `stdin` fed in.
fn in_config(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = upivia()
        .args(args)
        .env("UPIVIA_CONFIG_DIR", config)
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

impl Cli {
    /// `upivia <args> --base-url .. --pat ..` (the owner).
    fn owner(&self, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .args(["--base-url", &self.server.base, "--pat", &self.pat])
            .output()
            .unwrap()
    }

    /// `upivia <args> --base-url .. --api-key <key>`.
    fn agent(&self, key: &str, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .args(["--base-url", &self.server.base, "--api-key", key])
            .output()
            .unwrap()
    }

    /// An agent of the owner's, funded and bound to email; its id and key.
    async fn email_agent(&self, name: &str) -> (String, String) {
        let http = reqwest::Client::new();
        support::funded_agent(&http, &self.server.base, &self.pat, 1_000, name, &["email"]).await
    }

    fn send_email(&self, key: &str, subject: &str) -> Output {
        self.agent(
            key,
            &[
                "request",
                "email",
                "send",
                "--payload",
                &email(subject),
                "--json",
            ],
        )
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn credentials(config: &Path) -> PathBuf {
    config.join("credentials.toml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_a_private_file_that_later_commands_use_until_logout() {
    let cli = start_cli(None, &[]).await;
    let config = cli.dir.path().join("home").join("upivia");
    let base = cli.server.base.clone();

    let out = in_config(
        &config,
        &["login", "--base-url", &base, "--pat-stdin"],
        &format!("{}\n", cli.pat),
    );
    exit(&out, 0);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("logged in to"), "{said}");
    assert!(!said.contains(&cli.pat), "the token was printed: {said}");
    let file = credentials(&config);
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(
        stored.contains(&cli.pat) && stored.contains(&base),
        "{stored}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&config), 0o700);
    }
    // Nothing but the file itself is left in the directory.
    let names: Vec<_> = std::fs::read_dir(&config)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["credentials.toml"]);

    // No --base-url, no --pat: the stored login stands in for both.
    let balance = json_of(&in_config(&config, &["balance", "--json"], ""), 0);
    assert!(balance["amount_cents"].is_i64(), "{balance}");
    // A flag still wins over it.
    let bogus = in_config(&config, &["balance", "--pat", "upivia_pat_live_bogus"], "");
    exit(&bogus, 2);
    assert!(stderr(&bogus).contains("401"), "{}", stderr(&bogus));
    // The stored token is not sent to another server.
    let elsewhere = in_config(
        &config,
        &["balance", "--base-url", "http://127.0.0.1:9"],
        "",
    );
    exit(&elsewhere, 2);
    assert!(
        stderr(&elsewhere).contains("the stored login is for"),
        "{}",
        stderr(&elsewhere)
    );

    // Logging in again (JSON) replaces the file.
    let again = json_of(
        &in_config(
            &config,
            &["login", "--base-url", &base, "--pat-stdin", "--json"],
            &cli.pat,
        ),
        0,
    );
    assert_eq!(again["base_url"], base.as_str());
    assert!(again["workspaces"]["workspaces"].is_array(), "{again}");
    assert!(!again.to_string().contains(&cli.pat));

    let out = in_config(&config, &["logout", "--json"], "");
    let removed = json_of(&out, 0);
    assert!(removed["removed"].is_string(), "{removed}");
    assert!(!file.exists());
    let none = in_config(&config, &["balance"], "");
    exit(&none, 2);
    assert!(stderr(&none).contains("upivia login"), "{}", stderr(&none));
    let twice = in_config(&config, &["logout"], "");
    exit(&twice, 0);
    assert!(
        stdout(&twice).contains("not logged in"),
        "{}",
        stdout(&twice)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_refused_token_stores_nothing() {
    let cli = start_cli(None, &[]).await;
    let config = cli.dir.path().join("config");
    let bad = "upivia_pat_live_NotARealTokenAtAll0000000000000000000000";
    let out = in_config(
        &config,
        &["login", "--base-url", &cli.server.base, "--pat-stdin"],
        bad,
    );
    exit(&out, 2);
    assert!(
        stderr(&out).contains("nothing was stored"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(bad), "{}", stderr(&out));
    assert!(!credentials(&config).exists());
    // Without a token and without a terminal, login says how to give one.
    let none = in_config(&config, &["login", "--base-url", &cli.server.base], "");
    exit(&none, 2);
    assert!(stderr(&none).contains("--pat-stdin"), "{}", stderr(&none));
    assert!(!credentials(&config).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_credit_adds_dollars_and_refuses_a_bad_amount() {
    let cli = start_cli(None, &[]).await;
    let cents = || {
        json_of(&cli.owner(&["balance", "--json"]), 0)["amount_cents"]
            .as_i64()
            .unwrap()
    };
    let before = cents();

    let credited = json_of(
        &cli.owner(&["balance", "credit", "12.50", "--note", "ops test", "--json"]),
        0,
    );
    assert_eq!(credited["credited_cents"], 1_250);
    assert_eq!(credited["amount_cents"], before + 1_250);
    assert_eq!(cents(), before + 1_250);

    let text = cli.owner(&["balance", "credit", "--cents", "5"]);
    exit(&text, 0);
    assert!(
        stdout(&text).contains("credited $0.05"),
        "{}",
        stdout(&text)
    );
    let expected = format!(
        "available: ${}.{:02}",
        (before + 1_255) / 100,
        (before + 1_255) % 100
    );
    assert!(stdout(&text).contains(&expected), "{}", stdout(&text));

    for (amount, says) in [
        ("abc", "not a dollar amount"),
        ("1.005", "two decimals"),
        ("0", "more than $0.00"),
        ("-5", "-5"),
    ] {
        let out = cli.owner(&["balance", "credit", amount]);
        assert_ne!(out.status.code(), Some(0), "{amount} was accepted");
        assert!(stderr(&out).contains(says), "{amount}: {}", stderr(&out));
    }
    let out = cli.owner(&["balance", "credit", "--cents", "0"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(cents(), before + 1_255);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_agent_is_refused_until_it_is_resumed() {
    let cli = start_cli(None, &[]).await;
    let (agent, key) = cli.email_agent("pausable").await;
    exit(&cli.send_email(&key, "before"), 0);

    let paused = json_of(&cli.owner(&["agents", "pause", &agent, "--json"]), 0);
    assert_eq!(paused["agent"]["status"], "paused");
    let refused = json_of(&cli.send_email(&key, "while paused"), 1);
    assert_eq!(refused["status"], "blocked", "{refused}");
    assert_eq!(refused["reason_code"], "agent_paused", "{refused}");

    let shown = json_of(&cli.owner(&["agents", "show", &agent, "--json"]), 0);
    assert_eq!(shown["agent"]["status"], "paused");
    assert_eq!(shown["services"][0]["service_id"], "email", "{shown}");
    let text = cli.owner(&["agents", "show", &agent]);
    exit(&text, 0);
    for part in ["status: paused", "monthly budget: none", "email"] {
        assert!(stdout(&text).contains(part), "{part}: {}", stdout(&text));
    }

    let resumed = cli.owner(&["agents", "resume", &agent]);
    exit(&resumed, 0);
    assert!(
        stdout(&resumed).contains("status: active"),
        "{}",
        stdout(&resumed)
    );
    let sent = json_of(&cli.send_email(&key, "after"), 0);
    assert_eq!(sent["status"], "executed", "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_stops_the_old_key_and_shows_the_new_one_once() {
    let cli = start_cli(None, &[]).await;
    let (agent, old) = cli.email_agent("rotated").await;

    let rotated = json_of(&cli.owner(&["agents", "rotate-key", &agent, "--json"]), 0);
    let new = rotated["api_key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let refused = cli.send_email(&old, "old key");
    exit(&refused, 2);
    assert!(stderr(&refused).contains("401"), "{}", stderr(&refused));
    let sent = json_of(&cli.send_email(&new, "new key"), 0);
    assert_eq!(sent["status"], "executed", "{sent}");

    let text = cli.owner(&["agents", "rotate-key", &agent]);
    exit(&text, 0);
    let said = stdout(&text);
    assert!(said.contains("api_key: agent_key_"), "{said}");
    assert!(said.contains("will not be shown again"), "{said}");
    // The key printed is now the only one that works.
    let newest = said
        .lines()
        .find_map(|l| l.strip_prefix("api_key: "))
        .unwrap()
        .to_owned();
    exit(&cli.send_email(&new, "second key"), 2);
    exit(&cli.send_email(&newest, "third key"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_budget_is_read_and_set_in_dollars_or_cents() {
    let cli = start_cli(None, &[]).await;
    let (agent, _) = cli.email_agent("budgeted").await;
    let cap = |args: &[&str]| {
        let mut all = vec!["agents", "budget", agent.as_str(), "--json"];
        all.extend_from_slice(args);
        json_of(&cli.owner(&all), 0)["agent"]["monthly_budget_cents"].clone()
    };
    assert_eq!(cap(&[]), Value::Null);
    assert_eq!(cap(&["--monthly", "12.50"]), 1_250);
    assert_eq!(cap(&[]), 1_250);
    let text = cli.owner(&["agents", "budget", &agent]);
    exit(&text, 0);
    assert!(
        stdout(&text).contains("monthly budget: $12.50"),
        "{}",
        stdout(&text)
    );
    assert_eq!(cap(&["--monthly-cents", "99"]), 99);
    assert_eq!(cap(&["--monthly", "50"]), 5_000);
    assert_eq!(cap(&["--no-cap"]), Value::Null);

    let bad = cli.owner(&["agents", "budget", &agent, "--monthly", "1.005"]);
    exit(&bad, 2);
    assert!(stderr(&bad).contains("two decimals"), "{}", stderr(&bad));
    let both = cli.owner(&["agents", "budget", &agent, "--monthly", "5", "--no-cap"]);
    exit(&both, 2);
    assert_eq!(cap(&[]), Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_get_and_usage_show_an_executed_request() {
    let cli = start_cli(None, &[]).await;
    let (agent, key) = cli.email_agent("spender").await;
    let (other, _) = cli.email_agent("idle").await;
    let sent = json_of(&cli.send_email(&key, "counted"), 0);
    let request_id = sent["request_id"].as_str().unwrap().to_owned();
    let cost = sent["cost_cents"].as_i64().unwrap();
    assert!(cost > 0, "{sent}");

    let got = json_of(
        &cli.agent(&key, &["request", "get", &request_id, "--json"]),
        0,
    );
    assert_eq!(got["request_id"], request_id.as_str());
    assert_eq!(got["status"], "executed");
    let text = cli.agent(&key, &["request", "get", &request_id]);
    exit(&text, 0);
    assert!(
        stdout(&text).contains("status: executed"),
        "{}",
        stdout(&text)
    );
    let missing = cli.agent(&key, &["request", "get", "req_01JZZZZZZZZZZZZZZZZZZZZZZZ"]);
    exit(&missing, 2);
    assert!(stderr(&missing).contains("404"), "{}", stderr(&missing));

    let usage = json_of(&cli.owner(&["usage", "--json"]), 0);
    assert_eq!(usage["total_cents"], cost, "{usage}");
    assert_eq!(
        usage["records"][0]["request_id"],
        request_id.as_str(),
        "{usage}"
    );
    assert_eq!(usage["per_agent"][0]["agent_id"], agent.as_str(), "{usage}");
    let recent = json_of(&cli.owner(&["usage", "--days", "1", "--json"]), 0);
    assert_eq!(recent["total_cents"], cost, "{recent}");
    let theirs = json_of(&cli.owner(&["usage", "--agent", &other, "--json"]), 0);
    assert_eq!(theirs["total_cents"], 0, "{theirs}");
    let future = json_of(
        &cli.owner(&["usage", "--from", "2999-01-01T00:00:00Z", "--json"]),
        0,
    );
    assert_eq!(future["total_cents"], 0, "{future}");

    let dollars = format!("${}.{:02}", cost / 100, cost % 100);
    let per_agent = stdout(&cli.owner(&["usage"]));
    assert!(
        per_agent.contains(&agent) && per_agent.contains(&dollars),
        "{per_agent}"
    );
    assert!(
        per_agent.contains(&format!("total: {dollars}")),
        "{per_agent}"
    );
    let per_day = stdout(&cli.owner(&["usage", "--by", "day"]));
    let today = got["created_at"]
        .as_str()
        .or(usage["records"][0]["created_at"].as_str())
        .unwrap()[..10]
        .to_owned();
    assert!(per_day.contains(&today), "{per_day}");
    let per_request = stdout(&cli.owner(&["usage", "--by", "request"]));
    assert!(per_request.contains(&request_id), "{per_request}");
    assert!(per_request.contains("email.send"), "{per_request}");

    let bad = cli.owner(&["usage", "--from", "yesterday"]);
    exit(&bad, 2);
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
}
