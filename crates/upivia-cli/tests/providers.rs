//! `upivia serve` configured for real providers through `UPIVIA_*`
//! variables: it says at start which operations are live, refuses a
//! half-configured provider, and never prints a secret (logs, `--help`).

use std::process::Command;

mod support;
use support::free_port;

const API_KEY: &str = "sk-cli-test-key-0123456789";
const SMTP_PASSWORD: &str = "cli-smtp-password";
const SIGNING_SECRET: &str = "whsec_dGhpcy1pcy1hLTMyLWJ5dGUtdGVzdC1zZWNyZXQhISE=";
const GITHUB_TOKEN: &str = "ghp_cli-test-token-777";
const SLACK_TOKEN: &str = "xoxb-cli-test-token-778";
const TWILIO_TOKEN: &str = "cli-twilio-auth-token-779";

fn configured(command: &mut Command) -> &mut Command {
    command
        .env("UPIVIA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("UPIVIA_OPENAI_API_KEY", API_KEY)
        .env("UPIVIA_OPENAI_MODEL", "llama3.2")
        .env("UPIVIA_OPENAI_PRICE_INPUT_MICROCENTS_PER_TOKEN", "15")
        .env("UPIVIA_OPENAI_PRICE_OUTPUT_MICROCENTS_PER_TOKEN", "60")
        .env(
            "UPIVIA_SMTP_URL",
            format!("smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:2525"),
        )
        .env("UPIVIA_SMTP_FROM", "Upivia <noreply@example.org>")
        .env("UPIVIA_WEBHOOK_HOSTS", "http://127.0.0.1,*.example.com")
        .env("UPIVIA_SEARXNG_URL", "http://127.0.0.1:9/searx/")
        .env("UPIVIA_GITHUB_TOKEN", GITHUB_TOKEN)
        .env("UPIVIA_SLACK_BOT_TOKEN", SLACK_TOKEN)
        .env("UPIVIA_WEBHOOK_SIGNING_SECRET", SIGNING_SECRET)
        .env(
            "UPIVIA_TWILIO_ACCOUNT_SID",
            "AC0123456789abcdef0123456789abcdef",
        )
        .env("UPIVIA_TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
}

fn assert_no_secret(text: &str) {
    for secret in [
        API_KEY,
        SMTP_PASSWORD,
        SIGNING_SECRET,
        &SIGNING_SECRET[6..],
        GITHUB_TOKEN,
        SLACK_TOKEN,
        TWILIO_TOKEN,
    ] {
        assert!(!text.contains(secret), "a secret is shown:\n{text}");
    }
}

#[test]
fn serve_logs_which_operations_are_live_without_their_secrets() {
    let data = tempfile::tempdir().unwrap();
    let log = support::start_up_log(
        configured(&mut Command::new(env!("CARGO_BIN_EXE_upivia")))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
            .arg("--data-dir")
            .arg(data.path())
            .env("UPIVIA_LOG", "debug"),
    );
    for expected in [
        "operation=\"email.send\" provider=\"smtp\" upstream=smtp://127.0.0.1:2525",
        "operation=\"text_generation.generate\" provider=\"openai_compatible\"",
        "http://127.0.0.1:9/v1/chat/completions (llama3.2)",
        "operation=\"notification.webhook\" provider=\"webhook\" upstream=http://127.0.0.1, *.example.com",
        "operation=\"web_search.search\" provider=\"searxng\" upstream=http://127.0.0.1:9/searx",
        "operation=\"github.create_issue\" provider=\"github\" upstream=https://api.github.com",
        "operation=\"chat.dm\" provider=\"slack\" upstream=https://slack.com/api",
        "operation=\"chat.read\" provider=\"slack\"",
        "operation=\"sms.send\" provider=\"twilio\" upstream=https://api.twilio.com (account AC0123456789abcdef0123456789abcdef)",
        "operation=\"voice_call.create\" provider=\"twilio\"",
        "live=11",
        "operations without a live provider run on the sandbox",
    ] {
        assert!(log.contains(expected), "no {expected:?} in\n{log}");
    }
    let sandbox_line = log
        .lines()
        .find(|l| l.contains("run on the sandbox"))
        .unwrap();
    assert!(
        sandbox_line.contains("discord.send_message"),
        "{sandbox_line}"
    );
    assert!(!sandbox_line.contains("sms.send"), "{sandbox_line}");
    assert!(!sandbox_line.contains("sms.read"), "{sandbox_line}");
    assert!(!sandbox_line.contains("email.send"), "{sandbox_line}");
    assert_no_secret(&log);
}

#[test]
fn a_half_configured_provider_stops_serve_with_the_missing_setting() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upivia"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data.path())
        .env("UPIVIA_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("UPIVIA_OPENAI_MODEL", "llama3.2")
        .env("UPIVIA_OPENAI_API_KEY", API_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("UPIVIA_OPENAI_PRICE_INPUT_MICROCENTS_PER_TOKEN"),
        "{stderr}"
    );
    assert_no_secret(&stderr);
}

#[test]
fn help_never_prints_secret_values() {
    let out = configured(&mut Command::new(env!("CARGO_BIN_EXE_upivia")))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--openai-api-key"), "{help}");
    // Non-secret values are shown, as clap does for every flag.
    assert!(help.contains("llama3.2"), "{help}");
    assert_no_secret(&help);
}
