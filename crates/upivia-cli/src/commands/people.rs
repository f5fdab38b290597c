//! `upivia tokens create|list|revoke` and `upivia members
//! list|add|set-role|remove` (needs a PAT). A new token's secret and a new
//! member's one-time password are printed once, on stdout, and nowhere
//! else.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Your personal access tokens in this organisation.
#[derive(Args, Debug)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub command: TokensCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create a token, bound to this organisation; its secret is shown once.
    Create {
        /// A name to recognise it by (e.g. "laptop", "ci").
        #[arg(long)]
        name: String,
        /// Days until it stops working (1 to 3650); without it, never.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Your tokens, newest first (never their secrets).
    List,
    /// Revoke a token: it answers 401 from now on.
    Revoke {
        /// The token id (pat_…).
        token_id: String,
    },
}

pub async fn tokens(args: TokensArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let json = args.client.json;
    let answer = match args.command {
        TokensCommand::Create {
            name,
            expires_in_days,
        } => {
            let made = client.tokens().create(&name, expires_in_days).await?;
            if !json {
                output::print(&format!(
                    "created {} ({}); the token, shown this once:\n{}",
                    output::text(&made["token"]["id"]),
                    output::text(&made["token"]["name"]),
                    output::text(&made["secret"]),
                ))?;
            }
            made
        }
        TokensCommand::List => {
            let listed = client.tokens().list().await?;
            if !json {
                let mut table = Table::new(["TOKEN", "NAME", "CREATED", "EXPIRES", "ACTIVE"]);
                for t in listed["tokens"].as_array().map_or(&[][..], Vec::as_slice) {
                    table.row(vec![
                        output::text(&t["id"]),
                        output::text(&t["name"]),
                        output::text(&t["created_at"]),
                        output::text(&t["expires_at"]),
                        output::text(&t["active"]),
                    ]);
                }
                output::print(&table.render())?;
            }
            listed
        }
        TokensCommand::Revoke { token_id } => {
            let revoked = client.tokens().revoke(&token_id).await?;
            if !json {
                output::print(&format!("revoked {token_id}"))?;
            }
            revoked
        }
    };
    if json {
        output::print_json(&answer)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The organisation's members and their roles.
#[derive(Args, Debug)]
pub struct MembersArgs {
    #[command(subcommand)]
    pub command: MembersCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum MembersCommand {
    /// The members, oldest first.
    List,
    /// Add a member by email (owner or admin); a new user's one-time
    /// password is shown once.
    Add {
        email: String,
        /// admin (the owner only) or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Change a member's role (admin or member).
    SetRole { user_id: String, role: String },
    /// Remove a member: their sessions and tokens stop working at once.
    Remove { user_id: String },
}

pub async fn members(args: MembersArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let json = args.client.json;
    let answer = match args.command {
        MembersCommand::List => {
            let listed = client.members().list().await?;
            if !json {
                let mut table = Table::new(["USER", "EMAIL", "ROLE", "JOINED"]);
                for m in listed["members"].as_array().map_or(&[][..], Vec::as_slice) {
                    table.row(vec![
                        output::text(&m["id"]),
                        output::text(&m["email"]),
                        output::text(&m["role"]),
                        output::text(&m["joined_at"]),
                    ]);
                }
                output::print(&table.render())?;
            }
            listed
        }
        MembersCommand::Add { email, role } => {
            let added = client.members().add(&email, &role).await?;
            if !json {
                let who = format!(
                    "added {} as {} ({})",
                    output::text(&added["member"]["email"]),
                    output::text(&added["member"]["role"]),
                    output::text(&added["member"]["id"]),
                );
                let text = match added["password"].as_str() {
                    Some(p) => format!("{who}; their one-time password, shown this once:\n{p}"),
                    None => format!("{who}; an existing user, who signs in as before"),
                };
                output::print(&text)?;
            }
            added
        }
        MembersCommand::SetRole { user_id, role } => {
            let changed = client.members().set_role(&user_id, &role).await?;
            if !json {
                output::print(&format!(
                    "{user_id} is now {}",
                    output::text(&changed["member"]["role"])
                ))?;
            }
            changed
        }
        MembersCommand::Remove { user_id } => {
            let removed = client.members().remove(&user_id).await?;
            if !json {
                output::print(&format!(
                    "removed {user_id}; {} session(s) ended, {} token(s) revoked",
                    output::text(&removed["sessions_ended"]),
                    output::text(&removed["tokens_revoked"]),
                ))?;
            }
            removed
        }
    };
    if json {
        output::print_json(&answer)?;
    }
    Ok(ExitCode::SUCCESS)
}
