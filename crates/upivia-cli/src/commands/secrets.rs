//! `upivia secrets set <name>|list|delete <name>|webhook-signing
//! [--rotate]`: the organisation's secrets (needs an admin's PAT; rotating
//! the webhook signing secret, the owner's). The value comes on stdin, never on the
//! command line, where the process list would show it.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Organisation secrets: set (value on stdin), list (never values), delete.
#[derive(Args, Debug)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Write the next version of a secret; its value is read from stdin.
    Set {
        /// The secret's name (letters, digits, _, - and .).
        name: String,
    },
    /// The secrets' names, versions and times.
    List,
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
    },
    /// The webhook signing secret's version and times; `--rotate` makes a
    /// new one (the owner) and prints it, once.
    WebhookSigning {
        /// Replace the secret; the old one stops signing at once.
        #[arg(long)]
        rotate: bool,
    },
}

fn read_value() -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("value (end with Ctrl-D): ");
        std::io::stderr().flush()?;
    }
    let mut value = String::new();
    stdin.read_to_string(&mut value)?;
    // One trailing line ending (from `echo` or a file) is not the value's.
    let value = value
        .strip_suffix('\n')
        .map(|v| v.strip_suffix('\r').unwrap_or(v))
        .unwrap_or(&value);
    anyhow::ensure!(!value.is_empty(), "no value on stdin");
    Ok(value.to_owned())
}

pub async fn run(args: SecretsArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let secrets = client.secrets();
    let json = args.client.json;
    let answer = match args.command {
        SecretsCommand::Set { name } => {
            let value = read_value().context("could not read the value from stdin")?;
            let written = secrets.set(&name, &value).await?;
            if !json {
                output::print(&format!(
                    "{} is at version {}",
                    output::text(&written["secret"]["name"]),
                    output::text(&written["secret"]["version"])
                ))?;
                return Ok(ExitCode::SUCCESS);
            }
            written
        }
        SecretsCommand::List => {
            let listed = secrets.list().await?;
            if !json {
                let mut table = Table::new(["NAME", "VERSION", "UPDATED"]);
                for s in listed["secrets"].as_array().cloned().unwrap_or_default() {
                    table.row(vec![
                        output::text(&s["name"]),
                        output::text(&s["version"]),
                        output::text(&s["updated_at"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        SecretsCommand::Delete { name } => {
            let deleted = secrets.delete(&name).await?;
            if !json {
                output::print(&format!("deleted {name}"))?;
                return Ok(ExitCode::SUCCESS);
            }
            deleted
        }
        SecretsCommand::WebhookSigning { rotate: true } => {
            let rotated = secrets.rotate_webhook_signing_secret().await?;
            if !json {
                output::print(&output::text(&rotated["secret"]))?;
                eprintln!(
                    "version {}: store it now, it is not shown again",
                    output::text(&rotated["version"])
                );
                return Ok(ExitCode::SUCCESS);
            }
            rotated
        }
        SecretsCommand::WebhookSigning { rotate: false } => {
            let shown = secrets.webhook_signing_secret().await?;
            if !json {
                let line = if shown["configured"] == true {
                    format!(
                        "version {}, rotated {}",
                        output::text(&shown["version"]),
                        output::text(&shown["rotated_at"])
                    )
                } else {
                    "none yet: the owner makes one with `upivia secrets webhook-signing --rotate`"
                        .to_owned()
                };
                output::print(&line)?;
                return Ok(ExitCode::SUCCESS);
            }
            shown
        }
    };
    output::print_json(&answer)?;
    Ok(ExitCode::SUCCESS)
}
