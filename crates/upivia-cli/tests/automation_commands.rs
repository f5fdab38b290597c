//! `upivia triggers …` and `upivia schedules …` against a real `upivia
//! serve` child process: their `--json` output, their tables, their exit
//! codes, the secret printed once, a signed fire, and a scheduled task the
//! server's worker runs. On SQLite, and on PostgreSQL when
//! `UPIVIA_TEST_POSTGRES_URL` is set.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use upivia_server::clock::{Clock, SystemClock, rfc3339};

mod support;
use support::{Cli, cli_on_postgres, exit, json_of, start_cli, stderr, stdout, upivia};

impl Cli {
    /// `upivia <args>` as the owner (PAT and URL from the environment).
    fn owner(&self, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .env("UPIVIA_BASE_URL", &self.server.base)
            .env("UPIVIA_PAT", &self.pat)
            .output()
            .unwrap()
    }

    /// `upivia <args>` with no credential at all.
    fn anonymous(&self, args: &[&str]) -> Output {
        upivia()
            .args(args)
            .args(["--base-url", &self.server.base])
            .output()
            .unwrap()
    }

    async fn agent(&self, name: &str, services: &[&str]) -> String {
        let http = reqwest::Client::new();
        let (id, _key) =
            support::funded_agent(&http, &self.server.base, &self.pat, 1_000, name, services).await;
        id
    }
}

/// The `key: value` line of a text block.
fn field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}: in {text}"))
        .to_owned()
}

const TEMPLATE: &str = r#"{"to":"{{to}}","subject":"Alert {{ref}}","body":"From the CLI tests."}"#;
const MAIL: &str = r#"{"to":"ops@example.com","subject":"Scheduled","body":"From the CLI tests."}"#;

async fn triggers_are_managed_and_fired(cli: &Cli) {
    let agent = cli.agent("trigger bot", &["email"]).await;
    let bare = cli.agent("unbound bot", &[]).await;

    // Text: the secret, once, with the note.
    let out = cli.owner(&[
        "triggers",
        "create",
        &agent,
        "email.send",
        "--template",
        TEMPLATE,
    ]);
    exit(&out, 0);
    let text = stdout(&out);
    let hook = field(&text, "trigger");
    let secret = field(&text, "secret");
    assert!(hook.starts_with("trg_"), "{text}");
    assert!(text.contains("shown only once"), "{text}");
    assert_eq!(field(&text, "kind"), "webhook");
    assert!(field(&text, "fire_url").ends_with(&format!("/api/v1/triggers/{hook}/fire")));

    let cron = json_of(
        &cli.owner(&[
            "triggers",
            "create",
            &agent,
            "email.send",
            "--cron",
            "0 9 * * *",
            "--timezone",
            "Europe/Paris",
            "--template",
            MAIL,
            "--json",
        ]),
        0,
    );
    let cron_id = cron["trigger"]["id"].as_str().unwrap().to_owned();
    let cron_secret = cron["secret"].as_str().unwrap().to_owned();
    assert_eq!(cron["trigger"]["kind"], "cron");
    assert_eq!(cron["trigger"]["schedule_expr"], "0 9 * * *");
    assert_eq!(cron["trigger"]["timezone"], "Europe/Paris");
    assert!(cron["trigger"]["next_run_at"].is_string(), "{cron}");
    let blocked = json_of(
        &cli.owner(&[
            "triggers",
            "create",
            &bare,
            "email.send",
            "--template",
            TEMPLATE,
            "--json",
        ]),
        0,
    );
    let blocked_id = blocked["trigger"]["id"].as_str().unwrap().to_owned();

    // A zone without a schedule is a usage error; a bad template is caught
    // before any request.
    let out = cli.owner(&[
        "triggers",
        "create",
        &agent,
        "email.send",
        "--timezone",
        "UTC",
    ]);
    exit(&out, 2);
    let out = cli.owner(&[
        "triggers",
        "create",
        &agent,
        "email.send",
        "--template",
        "[1]",
    ]);
    exit(&out, 2);
    assert!(
        stderr(&out).contains("--template must be a JSON object"),
        "{}",
        stderr(&out)
    );

    // Lists: a page, the cursor to the next, every page.
    let page = json_of(
        &cli.owner(&["triggers", "list", "--limit", "2", "--json"]),
        0,
    );
    assert_eq!(page["triggers"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = json_of(
        &cli.owner(&[
            "triggers", "list", "--limit", "2", "--cursor", &cursor, "--json",
        ]),
        0,
    );
    assert_eq!(rest["triggers"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    let all = json_of(
        &cli.owner(&["triggers", "list", "--all", "--limit", "1", "--json"]),
        0,
    );
    let mut ids: Vec<&str> = all["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![hook.as_str(), &cron_id, &blocked_id];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(!all.to_string().contains(&secret));
    let table = stdout(&cli.owner(&["triggers", "list", "--limit", "1"]));
    assert!(table.starts_with("TRIGGER "), "{table}");
    assert!(table.contains("more: --cursor "), "{table}");
    let table = stdout(&cli.owner(&["triggers", "list"]));
    let cron_row = table.lines().find(|l| l.starts_with(&cron_id)).unwrap();
    assert!(cron_row.contains("0 9 * * * (Europe/Paris)"), "{cron_row}");

    let shown = json_of(&cli.owner(&["triggers", "show", &hook, "--json"]), 0);
    assert_eq!(shown["trigger"]["id"], hook.as_str());
    assert!(!shown.to_string().contains(&secret));
    let out = cli.owner(&["triggers", "show", "trg_01aaaaaaaaaaaaaaaaaaaaaaaa"]);
    exit(&out, 2);
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    let template = TEMPLATE.replace("{{to}}", "changed+{{to}}");
    let updated = json_of(
        &cli.owner(&[
            "triggers",
            "update",
            &hook,
            "--template",
            &template,
            "--json",
        ]),
        0,
    );
    assert_eq!(
        updated["trigger"]["payload_template"]["to"],
        "changed+{{to}}"
    );
    let rescheduled = json_of(
        &cli.owner(&[
            "triggers",
            "update",
            &cron_id,
            "--cron",
            "30 7 * * 1",
            "--json",
        ]),
        0,
    );
    assert_eq!(rescheduled["trigger"]["schedule_expr"], "30 7 * * 1");
    let out = cli.owner(&["triggers", "update", &hook]);
    exit(&out, 2);
    assert!(
        stderr(&out).contains("nothing to update"),
        "{}",
        stderr(&out)
    );

    // A fire needs no PAT: the secret signs it (here from the environment).
    let fired = json_of(
        &upivia()
            .args([
                "triggers",
                "fire",
                &hook,
                "--json",
                "--base-url",
                &cli.server.base,
            ])
            .args(["--payload", r#"{"to":"oncall@example.com","ref":"42"}"#])
            .env("UPIVIA_TRIGGER_SECRET", &secret)
            .output()
            .unwrap(),
        0,
    );
    assert_eq!(fired["accepted"], true);
    assert_eq!(fired["dispatch_status"], "executed", "{fired}");
    let request_id = fired["request_id"].as_str().unwrap().to_owned();
    assert!(request_id.starts_with("req_"));
    let out = cli.anonymous(&[
        "triggers",
        "fire",
        &hook,
        "--secret",
        &secret,
        "--payload",
        r#"{"to":"oncall@example.com","ref":"43"}"#,
    ]);
    exit(&out, 0);
    assert_eq!(field(&stdout(&out), "dispatch_status"), "executed");
    let shown = json_of(&cli.owner(&["triggers", "show", &hook, "--json"]), 0);
    assert_eq!(shown["trigger"]["fire_count"], 2);
    assert!(stdout(&cli.owner(&["triggers", "show", &hook])).contains("fires: 2"));

    // A wrong secret, a cron trigger, a refused dispatch (exit 1).
    let out = cli.anonymous(&["triggers", "fire", &hook, "--secret", "not-it"]);
    exit(&out, 2);
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let out = cli.anonymous(&["triggers", "fire", &cron_id, "--secret", &cron_secret]);
    exit(&out, 2);
    assert!(stderr(&out).contains("cron trigger"), "{}", stderr(&out));
    let blocked_secret = blocked["secret"].as_str().unwrap();
    let refused = json_of(
        &cli.anonymous(&[
            "triggers",
            "fire",
            &blocked_id,
            "--secret",
            blocked_secret,
            "--payload",
            r#"{"to":"a@example.com","ref":"1"}"#,
            "--json",
        ]),
        1,
    );
    assert_eq!(refused["dispatch_status"], "blocked", "{refused}");
    assert!(refused["reason_code"].is_string());

    // Delete disables; a purge needs the server's switch.
    let out = cli.owner(&["triggers", "delete", &hook]);
    exit(&out, 0);
    assert!(
        stdout(&out).starts_with(&format!("disabled {hook}")),
        "{}",
        stdout(&out)
    );
    let out = cli.anonymous(&["triggers", "fire", &hook, "--secret", &secret]);
    exit(&out, 2);
    assert!(stderr(&out).contains("409"), "{}", stderr(&out));
    let deleted = json_of(&cli.owner(&["triggers", "delete", &hook, "--json"]), 0);
    assert_eq!(deleted["deleted"], false);
    assert_eq!(deleted["trigger"]["disabled"], true);
    let out = cli.owner(&["triggers", "delete", &hook, "--purge"]);
    exit(&out, 2);
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    let enabled = json_of(
        &cli.owner(&["triggers", "update", &hook, "--enable", "--json"]),
        0,
    );
    assert_eq!(enabled["trigger"]["disabled"], false);

    // Managing triggers needs a PAT.
    let out = cli.anonymous(&["triggers", "list"]);
    exit(&out, 2);
    assert!(
        stderr(&out).contains("personal access token"),
        "{}",
        stderr(&out)
    );
}

async fn a_purge_deletes_a_trigger_where_allowed(cli: &Cli) {
    let agent = cli.agent("purge bot", &["email"]).await;
    let created = json_of(
        &cli.owner(&["triggers", "create", &agent, "email.send", "--json"]),
        0,
    );
    let id = created["trigger"]["id"].as_str().unwrap();
    let out = cli.owner(&["triggers", "delete", id, "--purge"]);
    exit(&out, 0);
    assert_eq!(stdout(&out).trim(), format!("purged {id}"));
    let out = cli.owner(&["triggers", "show", id]);
    exit(&out, 2);
    let listed = json_of(&cli.owner(&["triggers", "list", "--json"]), 0);
    assert_eq!(listed["triggers"], json!([]));
}

/// Polls `schedules runs` until the first run's request is `want`.
fn wait_for_run(cli: &Cli, task: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = json_of(&cli.owner(&["schedules", "runs", task, "--json"]), 0);
        if runs["runs"][0]["service_request_status"] == want {
            return runs;
        }
        assert!(Instant::now() < deadline, "no {want} run in 20 s: {runs}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn scheduled_tasks_are_managed_and_run(cli: &Cli) {
    let agent = cli.agent("schedule bot", &["email"]).await;
    let soon = rfc3339(SystemClock.now() + Duration::from_secs(1));
    let created = json_of(
        &cli.owner(&[
            "schedules",
            "create",
            &agent,
            "email.send",
            "--run-at",
            &soon,
            "--name",
            "one shot",
            "--category",
            "reports",
            "--description",
            "One email, soon.",
            "--payload",
            MAIL,
            "--json",
        ]),
        0,
    );
    let once = created["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["task"]["status"], "active");
    assert_eq!(created["task"]["name"], "one shot");
    assert_eq!(
        (&created["task"]["service"], &created["task"]["operation"]),
        (&json!("email"), &json!("send"))
    );

    let runs = wait_for_run(cli, &once, "executed");
    assert_eq!(runs["total"], 1);
    assert_eq!(runs["runs"][0]["status"], "completed");
    assert!(runs["runs"][0]["service_request_id"].is_string());
    let table = stdout(&cli.owner(&["schedules", "runs", &once]));
    assert!(table.starts_with("RUN "), "{table}");
    assert!(table.contains("executed"), "{table}");
    let shown = stdout(&cli.owner(&["schedules", "show", &once]));
    assert_eq!(field(&shown, "status"), "completed");
    assert_eq!(field(&shown, "operation"), "email.send");
    assert!(shown.contains("REQUEST STATUS"), "{shown}");
    let detail = json_of(&cli.owner(&["schedules", "show", &once, "--json"]), 0);
    assert_eq!(detail["runs_total"], 1);
    assert_eq!(detail["task"]["run_count"], 1);

    let out = cli.owner(&[
        "schedules",
        "create",
        &agent,
        "email.send",
        "--cron",
        "0 9 * * *",
        "--timezone",
        "America/New_York",
        "--category",
        "digests",
        "--payload",
        MAIL,
    ]);
    exit(&out, 0);
    let daily = field(&stdout(&out), "task");
    assert_eq!(
        field(&stdout(&out), "when"),
        "cron 0 9 * * * (America/New_York)"
    );
    // One of --run-at and --cron is required, and only one.
    exit(
        &cli.owner(&["schedules", "create", &agent, "email.send"]),
        2,
    );
    exit(
        &cli.owner(&[
            "schedules",
            "create",
            &agent,
            "email.send",
            "--cron",
            "0 9 * * *",
            "--run-at",
            &soon,
        ]),
        2,
    );
    let out = cli.owner(&[
        "schedules",
        "create",
        &agent,
        "email.send",
        "--cron",
        "whenever",
    ]);
    exit(&out, 2);
    assert!(stderr(&out).contains("422"), "{}", stderr(&out));

    let all = json_of(&cli.owner(&["schedules", "list", "--json"]), 0);
    assert_eq!(all["total"], 2);
    let reports = json_of(
        &cli.owner(&["schedules", "list", "--category", "reports", "--json"]),
        0,
    );
    assert_eq!(reports["total"], 1);
    assert_eq!(reports["tasks"][0]["id"], once.as_str());
    let completed = json_of(
        &cli.owner(&[
            "schedules",
            "list",
            "--status",
            "completed",
            "--agent",
            &agent,
            "--json",
        ]),
        0,
    );
    assert_eq!(completed["total"], 1);
    let table = stdout(&cli.owner(&["schedules", "list", "--limit", "1"]));
    assert!(table.starts_with("TASK "), "{table}");
    assert!(table.trim_end().ends_with("1 of 2"), "{table}");

    let paused = json_of(
        &cli.owner(&[
            "schedules",
            "update",
            &daily,
            "--status",
            "paused",
            "--json",
        ]),
        0,
    );
    assert_eq!(paused["task"]["status"], "paused");
    let out = cli.owner(&[
        "schedules",
        "update",
        &daily,
        "--status",
        "active",
        "--cron",
        "15 8 * * 1-5",
    ]);
    exit(&out, 0);
    assert_eq!(field(&stdout(&out), "status"), "active");
    assert!(field(&stdout(&out), "when").starts_with("cron 15 8 * * 1-5"));
    let out = cli.owner(&["schedules", "update", &daily]);
    exit(&out, 2);
    assert!(
        stderr(&out).contains("nothing to update"),
        "{}",
        stderr(&out)
    );

    let deleted = json_of(&cli.owner(&["schedules", "delete", &daily, "--json"]), 0);
    assert_eq!(deleted, json!({"deleted": true, "id": daily}));
    let out = cli.owner(&["schedules", "show", &daily]);
    exit(&out, 2);
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
    let out = cli.owner(&["schedules", "delete", &once]);
    exit(&out, 0);
    assert_eq!(stdout(&out).trim(), format!("deleted {once}"));
    assert_eq!(
        stdout(&cli.owner(&["schedules", "list"])).trim(),
        "no scheduled tasks"
    );
    exit(&cli.anonymous(&["schedules", "list"]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_through_the_cli_on_sqlite() {
    triggers_are_managed_and_fired(&start_cli(None, &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_through_the_cli_on_postgres() {
    // The database outlives the server: `cli` drops first.
    let Some((_db, cli)) = cli_on_postgres(&[]).await else {
        return;
    };
    triggers_are_managed_and_fired(&cli).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_through_the_cli_on_sqlite() {
    a_purge_deletes_a_trigger_where_allowed(&start_cli(None, &["--allow-trigger-purge"]).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_through_the_cli_on_postgres() {
    let Some((_db, cli)) = cli_on_postgres(&["--allow-trigger-purge"]).await else {
        return;
    };
    a_purge_deletes_a_trigger_where_allowed(&cli).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_through_the_cli_on_sqlite() {
    scheduled_tasks_are_managed_and_run(&start_cli(None, &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_through_the_cli_on_postgres() {
    let Some((_db, cli)) = cli_on_postgres(&[]).await else {
        return;
    };
    scheduled_tasks_are_managed_and_run(&cli).await;
}

#[test]
fn the_commands_are_in_the_help() {
    let help = stdout(&upivia().arg("--help").output().unwrap());
    assert!(
        help.contains("triggers") && help.contains("schedules"),
        "{help}"
    );
    let fire = stdout(
        &upivia()
            .args(["triggers", "fire", "--help"])
            .output()
            .unwrap(),
    );
    assert!(
        fire.contains("--secret") && fire.contains("--payload"),
        "{fire}"
    );
}

/// `upivia workflows run --wait` on a draft test run, its exit code, and
/// `inspect`, `retry` and `cancel`.
async fn workflows_run_and_wait(cli: &Cli) {
    let agent = cli.agent("workflow agent", &["email"]).await;
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        let (http, base, pat) = (http.clone(), cli.server.base.clone(), cli.pat.clone());
        async move {
            let (status, body) = support::call(
                &http,
                reqwest::Method::POST,
                format!("{base}{path}"),
                &pat,
                Some(body),
            )
            .await;
            assert!(status < 300, "{path}: {status} {body}");
            body
        }
    };
    let wf = post(
        "/api/v1/workflows".into(),
        json!({"name": "CLI flow", "agent_id": agent}),
    )
    .await;
    let wf = wf["workflow"]["id"].as_str().unwrap().to_owned();
    let mail = json!({"id": "mail", "type": "service_request", "service": "email", "operation": "send",
                      "payload": {"to": "ops@example.com", "subject": "{{input.title}}", "body": "b"}});
    let search = json!({"id": "search", "type": "service_request", "service": "web_search",
                        "operation": "search", "payload": {"query": "q"}});
    let ok = post(
        format!("/api/v1/workflows/{wf}/versions"),
        json!({"steps": [mail.clone()]}),
    )
    .await;
    let ok = ok["version"]["id"].as_str().unwrap().to_owned();
    let input = r#"{"title":"From the CLI"}"#;

    let out = cli.owner(&[
        "workflows",
        "run",
        &wf,
        "--version",
        &ok,
        "--test-run",
        "--wait",
        "--input",
        input,
        "--json",
    ]);
    let run = json_of(&out, 0);
    assert_eq!(run["status"], "completed", "{run}");
    let text = cli.owner(&["workflows", "inspect", &wf, run["id"].as_str().unwrap()]);
    exit(&text, 0);
    assert!(
        stdout(&text).contains("completed") && stdout(&text).contains("mail"),
        "{}",
        stdout(&text)
    );
    // An error (nothing published to run) is exit 2; a run that ended
    // otherwise than completed is exit 1.
    let out = cli.owner(&["workflows", "run", &wf, "--wait"]);
    exit(&out, 2);
    assert!(stderr(&out).contains("published"), "{}", stderr(&out));

    // A failing step: exit 1, then a retry once the service is enabled.
    let bad = post(
        format!("/api/v1/workflows/{wf}/versions"),
        json!({"steps": [mail, search],
                   "edges": [{"from": "mail", "to": "search"}]}),
    )
    .await;
    let bad = bad["version"]["id"].as_str().unwrap().to_owned();
    let out = cli.owner(&[
        "workflows",
        "run",
        &wf,
        "--version",
        &bad,
        "--test-run",
        "--wait",
        "--input",
        input,
        "--json",
    ]);
    let failed = json_of(&out, 1);
    assert_eq!(failed["status"], "failed", "{failed}");
    let run_id = failed["id"].as_str().unwrap().to_owned();
    post(
        format!("/api/v1/agents/{agent}/services"),
        json!({"service_id": "web_search"}),
    )
    .await;
    let out = cli.owner(&["workflows", "retry", &wf, &run_id, "search", "--json"]);
    json_of(&out, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = json_of(
            &cli.owner(&["workflows", "inspect", &wf, &run_id, "--json"]),
            0,
        );
        if got["run"]["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "{got}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = cli.owner(&["workflows", "cancel", &wf, &run_id]);
    exit(&out, 2);
    assert!(
        stderr(&out).contains("run_finished") || stderr(&out).contains("completed"),
        "{}",
        stderr(&out)
    );
    let listed = json_of(&cli.owner(&["workflows", "list", "--json"]), 0);
    assert_eq!(listed["workflows"][0]["id"], wf.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_through_the_cli_on_sqlite() {
    workflows_run_and_wait(&start_cli(None, &[]).await).await;
}
