//! `Client::from_env` reads the documented variables. The environment is
//! process-wide, so each case runs in a child copy of this test binary
//! with its own environment.

use std::process::Command;

use upivia::Client;

const PROBE: &str = "UPIVIA_SDK_TEST_ENV_PROBE";
const VARS: [&str; 5] = [
    "UPIVIA_API_KEY",
    "AGENTWALLET_API_KEY",
    "UPIVIA_PAT",
    "UPIVIA_BASE_URL",
    "AGENTWALLET_BASE_URL",
];

/// Runs `env_probe_child` in a child process with exactly `vars` set;
/// returns what it printed.
fn probe(vars: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "env::env_probe_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    for var in VARS {
        cmd.env_remove(var);
    }
    cmd.env(PROBE, "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("PROBE ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no probe line in {stdout}"))
        .to_owned()
}

/// Not a test of its own: reports what `from_env` saw when run as a probe.
#[test]
fn env_probe_child() {
    if std::env::var_os(PROBE).is_none() {
        return;
    }
    match Client::from_env() {
        Ok(c) => println!(
            "PROBE url={} key={} pat={}",
            c.base_url(),
            c.has_api_key(),
            c.has_pat()
        ),
        Err(e) => println!("PROBE error={e}"),
    }
}

#[test]
fn upivia_variables_come_first() {
    let got = probe(&[
        ("UPIVIA_API_KEY", "agent_key_a"),
        ("AGENTWALLET_API_KEY", "agent_key_b"),
        ("UPIVIA_PAT", "upivia_pat_x"),
        ("UPIVIA_BASE_URL", "http://upivia.test/"),
        ("AGENTWALLET_BASE_URL", "http://legacy.test"),
    ]);
    assert_eq!(got, "url=http://upivia.test key=true pat=true");
}

#[test]
fn agentwallet_variables_are_the_fallback() {
    let got = probe(&[
        ("AGENTWALLET_API_KEY", "agent_key_b"),
        ("AGENTWALLET_BASE_URL", "http://legacy.test"),
    ]);
    assert_eq!(got, "url=http://legacy.test key=true pat=false");
}

#[test]
fn a_missing_base_url_is_a_construction_error() {
    let got = probe(&[("UPIVIA_API_KEY", "agent_key_a"), ("UPIVIA_BASE_URL", "")]);
    assert!(got.starts_with("error=a base URL is required"), "{got}");
}
