//! `upivia login`: checks a server URL and a personal access token against
//! the server, then stores both for the client commands
//! (`credentials.rs`); `upivia logout` forgets them. The token is never
//! printed: only its kind and first characters.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use super::client::DEFAULT_BASE_URL;
use super::{output, progress};
use crate::credentials::{self, Login};

/// Store a server URL and a personal access token for the client commands,
/// once the server accepts the token.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The server's base URL [default: asked on a terminal, else
    /// http://127.0.0.1:3000].
    #[arg(long, env = "UPIVIA_BASE_URL")]
    pub base_url: Option<String>,
    /// The personal access token (upivia_pat_…); prefer --pat-stdin or the
    /// variable: flags show in the process list [default: asked on a
    /// terminal].
    #[arg(
        long,
        env = "UPIVIA_PAT",
        hide_env_values = true,
        conflicts_with = "pat_stdin"
    )]
    pub pat: Option<String>,
    /// Read the token from the first line of stdin.
    #[arg(long)]
    pub pat_stdin: bool,
    /// Print JSON (the workspaces the token reaches) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Forget the stored server URL and token.
#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One line of stdin without its line ending, after `prompt` on stderr
/// when stdin is a terminal.
fn read_line(prompt: Option<&str>) -> anyhow::Result<String> {
    if let Some(prompt) = prompt {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("could not read stdin")?;
    Ok(line.trim().to_owned())
}

pub async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal() && !args.pat_stdin;
    let base_url = match args.base_url.filter(|u| !u.is_empty()) {
        Some(url) => url,
        None if interactive => {
            let typed = read_line(Some(&format!("server URL [{DEFAULT_BASE_URL}]: ")))?;
            if typed.is_empty() {
                DEFAULT_BASE_URL.to_owned()
            } else {
                typed
            }
        }
        None => DEFAULT_BASE_URL.to_owned(),
    };
    let pat = match args.pat.filter(|p| !p.is_empty()) {
        Some(pat) => pat,
        None if args.pat_stdin => read_line(None)?,
        // Shown as typed, like `upivia password`: pipe it with
        // --pat-stdin to keep it off the screen.
        None if interactive => read_line(Some(
            "personal access token (shown as typed; --pat-stdin reads a pipe): ",
        ))?,
        None => anyhow::bail!(
            "no personal access token: pass --pat-stdin (the token on stdin), set UPIVIA_PAT or pass --pat"
        ),
    };
    anyhow::ensure!(!pat.is_empty(), "the personal access token is empty");
    let shown = credentials::shown(&pat);
    // Checked before anything is written: a token the server refuses is
    // never stored.
    let client = upivia::Client::builder()
        .base_url(&base_url)
        .pat(&pat)
        .on_retry(progress::announce_retry)
        .build()
        .context("invalid client settings")?;
    let workspaces = client
        .workspaces()
        .list()
        .await
        .map_err(|e| match e.status() {
            Some(401 | 403) => {
                anyhow::anyhow!("{base_url} refused the token {shown} ({e}); nothing was stored")
            }
            _ => anyhow::Error::new(e).context(format!(
                "could not check the token against {base_url}; nothing was stored"
            )),
        })?;
    let path = credentials::save(&Login {
        base_url: base_url.clone(),
        pat,
    })?;
    if args.json {
        output::print_json(&json!({
            "base_url": base_url,
            "credentials_file": path,
            "workspaces": workspaces,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let active = active_workspace(&workspaces);
    output::print(&format!(
        "logged in to {base_url}{active} with {shown}\nstored in {} (upivia logout forgets it)",
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// ` as <role> of <name>` for the token's workspace, when the answer says.
fn active_workspace(workspaces: &Value) -> String {
    let active = workspaces["workspaces"]
        .as_array()
        .and_then(|all| all.iter().find(|w| w["active"] == true));
    match active {
        Some(w) => format!(
            " as {} of {}",
            output::text(&w["role"]),
            output::text(&w["name"])
        ),
        None => String::new(),
    }
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let removed = credentials::remove()?;
    if args.json {
        output::print_json(&json!({ "removed": removed }))?;
        return Ok(ExitCode::SUCCESS);
    }
    match removed {
        Some(path) => output::print(&format!("removed {}", path.display()))?,
        None => output::print("not logged in: nothing to remove")?,
    }
    Ok(ExitCode::SUCCESS)
}
