//! `upivia serve --config upivia.toml`: the file's settings fill what
//! neither the command line nor the environment gave (flags win, then the
//! environment, then the file); a key that names no setting, or a file that
//! cannot be read, stops the start with the reason; a file with secrets
//! that others may read is warned about.

use std::process::Command;

mod support;
use support::free_port;

const FILE_TOKEN: &str = "ghp_from-the-config-file-41";

fn serve(data: &std::path::Path, config: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_upivia"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .env("NO_COLOR", "1");
    command
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("upivia.toml");
    std::fs::write(
        &config,
        format!(
            "# providers of this deployment\n\
             github_token = \"{FILE_TOKEN}\"\n\
             github_base_url = \"http://127.0.0.1:9/gh-file\"\n\
             UPIVIA_SEARXNG_URL = \"http://127.0.0.1:9/searx-file\"\n\
             webhook_hosts = [\"http://127.0.0.1\", \"*.example.com\"]\n\
             provider_timeout_ms = 5000\n"
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let log = support::start_up_log(
        serve(&dir.path().join("data"), &config)
            .args(["--github-base-url", "http://127.0.0.1:9/gh-flag"])
            .env("UPIVIA_SEARXNG_URL", "http://127.0.0.1:9/searx-env"),
    );
    for expected in [
        // The token from the file; the base URL from the flag.
        "operation=\"github.create_issue\" provider=\"github\" upstream=http://127.0.0.1:9/gh-flag",
        // The environment over the file.
        "operation=\"web_search.search\" provider=\"searxng\" upstream=http://127.0.0.1:9/searx-env",
        // A list, from the file alone.
        "operation=\"notification.webhook\" provider=\"webhook\" upstream=http://127.0.0.1, *.example.com",
        // 0644, with a token in it.
        "holds secrets and others may read it",
    ] {
        assert!(log.contains(expected), "no {expected:?} in\n{log}");
    }
    assert!(!log.contains(FILE_TOKEN), "{log}");

    // Kept to its owner, the file draws no warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let log = support::start_up_log(&mut serve(&dir.path().join("data2"), &config));
        assert!(!log.contains("others may read it"), "{log}");
        assert!(log.contains("upstream=http://127.0.0.1:9/gh-file"), "{log}");
    }
}

#[test]
fn a_key_that_names_no_setting_or_a_missing_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("upivia.toml");
    std::fs::write(&config, "smtp_urll = \"smtp://127.0.0.1:25\"\n").unwrap();
    let out = serve(&dir.path().join("data"), &config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"smtp_urll\" is not a setting of upivia serve"),
        "{stderr}"
    );

    std::fs::write(&config, "dev = \"yes\"\n").unwrap();
    let out = serve(&dir.path().join("data"), &config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dev is a switch"), "{stderr}");

    std::fs::write(&config, "listen = \n").unwrap();
    let out = serve(&dir.path().join("data"), &config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("upivia.toml"),
        "{out:?}"
    );

    let out = serve(&dir.path().join("data"), &dir.path().join("absent.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("absent.toml"), "{stderr}");
}
