//! `upivia password change`: the calling user's password (needs a PAT).
//! The passwords come on stdin, never on the command line, where the
//! process list and shell history would keep them.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::output;

/// The calling user's password.
#[derive(Args, Debug)]
pub struct PasswordArgs {
    #[command(subcommand)]
    pub command: PasswordCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum PasswordCommand {
    /// Change it: reads the current password, then the new one (at least
    /// 15 characters), one per line on stdin. Ends the user's sessions and,
    /// for the first owner, removes the password from
    /// initial-credentials.json.
    Change,
}

pub async fn run(args: PasswordArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    match args.command {
        PasswordCommand::Change => {
            let (current, new) =
                read_passwords().context("could not read the passwords from stdin")?;
            let changed = client.auth().change_password(&current, &new).await?;
            if args.client.json {
                output::print_json(&changed)?;
            } else {
                let ended = changed["sessions_revoked"].as_u64().unwrap_or(0);
                output::print(&format!("password changed; {ended} session(s) ended"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_passwords() -> anyhow::Result<(String, String)> {
    let stdin = std::io::stdin();
    let prompt = stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    let mut next = |label: &str| -> anyhow::Result<String> {
        if prompt {
            // Shown as typed: use a pipe to keep it off the screen.
            eprint!("{label}: ");
            std::io::stderr().flush()?;
        }
        let line = lines
            .next()
            .with_context(|| format!("no {label} on stdin"))??;
        // Only the line ending goes; spaces are part of a password.
        Ok(line.strip_suffix('\r').unwrap_or(&line).to_owned())
    };
    Ok((next("current password")?, next("new password")?))
}
