//! `upivia teams list|create|members|add-member|set-role|remove-member|switch`:
//! teams and their members; `budget|allocate`: a team's pool and moving
//! money into it; `ask|requests|approve|reject`: budget requests (needs a
//! PAT).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Teams: create and list them, switch the active one, manage members.
#[derive(Args, Debug)]
pub struct TeamsArgs {
    #[command(subcommand)]
    pub command: TeamsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TeamsCommand {
    /// The teams you can see, with your role in each.
    List,
    /// Create a team (admin); you become its manager.
    Create {
        /// The team's name.
        name: String,
    },
    /// A team's members and their roles.
    Members {
        /// The team id (team_…).
        team_id: String,
    },
    /// Add a user of the organisation to a team (admin or team manager).
    AddMember {
        /// The team id.
        team_id: String,
        /// The user's email (or a user id, usr_…).
        user: String,
        /// manager or worker.
        #[arg(long, default_value = "worker")]
        role: String,
    },
    /// Set a member's team role (admin or team manager).
    SetRole {
        /// The team id.
        team_id: String,
        /// The membership id (tm_…), as `members` lists it.
        membership_id: String,
        /// manager or worker.
        role: String,
    },
    /// Remove a member from a team (admin or team manager).
    RemoveMember {
        /// The team id.
        team_id: String,
        /// The membership id (tm_…).
        membership_id: String,
    },
    /// A team's pool in cents: available, allocated, spent, reserved.
    Budget {
        /// The team id.
        team_id: String,
    },
    /// Move money from the organisation balance into a team's pool (owner).
    Allocate {
        /// The team id.
        team_id: String,
        /// Whole cents to move.
        amount_cents: i64,
        /// Why, for the audit trail.
        #[arg(long)]
        note: Option<String>,
    },
    /// Ask for money for a team's pool.
    Ask {
        /// The team id.
        team_id: String,
        /// Whole cents asked for.
        amount_cents: i64,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Budget requests you can see (pending unless --status).
    Requests {
        /// pending, approved, rejected or all.
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve a budget request (owner or team manager): moves its money.
    Approve {
        /// The budget request id (breq_…).
        request_id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a budget request (owner or team manager).
    Reject {
        /// The budget request id (breq_…).
        request_id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Set the active team of this PAT (`--clear` to unset it).
    Switch {
        /// The team id.
        #[arg(required_unless_present = "clear")]
        team_id: Option<String>,
        /// Clear the active team.
        #[arg(long, conflicts_with = "team_id")]
        clear: bool,
    },
}

fn print_pool(pool: &Value) -> anyhow::Result<()> {
    let mut table = Table::new(["TEAM", "AVAILABLE", "ALLOCATED", "SPENT", "RESERVED"]);
    table.row(vec![
        output::text(&pool["team_id"]),
        output::text(&pool["pool_cents"]),
        output::text(&pool["allocated_cents"]),
        output::text(&pool["spent_cents"]),
        output::text(&pool["reserved_cents"]),
    ]);
    output::print(&table.render())
}

fn rows(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

pub async fn run(args: TeamsArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let teams = client.teams();
    let json = args.client.json;
    let answer = match args.command {
        TeamsCommand::List => {
            let listed = teams.list().await?;
            if !json {
                let teams = rows(&listed, "teams");
                if teams.is_empty() {
                    output::print("no teams")?;
                    return Ok(ExitCode::SUCCESS);
                }
                let mut table = Table::new(["TEAM", "NAME", "ROLE", "MEMBERS", "ACTIVE"]);
                for t in &teams {
                    table.row(vec![
                        output::text(&t["id"]),
                        output::text(&t["name"]),
                        output::text(&t["role"]),
                        output::text(&t["member_count"]),
                        if t["active"] == true { "*" } else { "" }.into(),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        TeamsCommand::Create { name } => {
            let created = teams.create(&name).await?;
            if !json {
                output::print(&format!(
                    "created team {} ({})",
                    output::text(&created["team"]["id"]),
                    output::text(&created["team"]["name"])
                ))?;
                return Ok(ExitCode::SUCCESS);
            }
            created
        }
        TeamsCommand::Members { team_id } => {
            let listed = teams.members().list(&team_id).await?;
            if !json {
                let mut table = Table::new(["MEMBERSHIP", "EMAIL", "ROLE"]);
                for m in rows(&listed, "members") {
                    table.row(vec![
                        output::text(&m["id"]),
                        output::text(&m["email"]),
                        output::text(&m["role"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        TeamsCommand::AddMember {
            team_id,
            user,
            role,
        } => {
            let who = if user.starts_with("usr_") {
                json!({"user_id": user, "role": role})
            } else {
                json!({"email": user, "role": role})
            };
            teams.members().add(&team_id, &who).await?
        }
        TeamsCommand::SetRole {
            team_id,
            membership_id,
            role,
        } => {
            teams
                .members()
                .update(&team_id, &membership_id, &json!({"role": role}))
                .await?
        }
        TeamsCommand::RemoveMember {
            team_id,
            membership_id,
        } => teams.members().remove(&team_id, &membership_id).await?,
        TeamsCommand::Budget { team_id } => {
            let budget = teams.budget(&team_id).await?;
            if !json {
                print_pool(&budget["budget"])?;
                return Ok(ExitCode::SUCCESS);
            }
            budget
        }
        TeamsCommand::Allocate {
            team_id,
            amount_cents,
            note,
        } => {
            let moved = teams
                .allocate_budget(
                    &team_id,
                    &json!({"amount_cents": amount_cents, "note": note}),
                )
                .await?;
            if !json {
                output::print(&format!("moved {amount_cents} cents into {team_id}"))?;
                print_pool(&moved["budget"])?;
                return Ok(ExitCode::SUCCESS);
            }
            moved
        }
        TeamsCommand::Ask {
            team_id,
            amount_cents,
            reason,
        } => {
            client
                .budget_requests()
                .create(
                    &json!({"team_id": team_id, "amount_cents": amount_cents, "reason": reason}),
                )
                .await?
        }
        TeamsCommand::Requests { status } => {
            let listed = match status {
                Some(status) => {
                    client
                        .send_json(
                            upivia::RequestSpec::new(
                                upivia::HttpMethod::Get,
                                "/api/v1/budget-requests",
                                upivia::AuthMode::Workspace,
                            )
                            .query_pair("status", status),
                        )
                        .await?
                }
                None => client.budget_requests().list().await?,
            };
            if !json {
                let mut table = Table::new(["REQUEST", "TEAM", "CENTS", "STATUS", "BY", "REASON"]);
                for r in rows(&listed, "requests") {
                    table.row(vec![
                        output::text(&r["id"]),
                        output::text(&r["team_name"]),
                        output::text(&r["amount_cents"]),
                        output::text(&r["status"]),
                        output::text(&r["requested_by_email"]),
                        output::text(&r["reason"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        TeamsCommand::Approve { request_id, note } => {
            client
                .budget_requests()
                .resolve(&request_id, &json!({"action": "approve", "note": note}))
                .await?
        }
        TeamsCommand::Reject { request_id, note } => {
            client
                .budget_requests()
                .resolve(&request_id, &json!({"action": "reject", "note": note}))
                .await?
        }
        TeamsCommand::Switch { team_id, clear } => {
            teams
                .switch(if clear { None } else { team_id.as_deref() })
                .await?
        }
    };
    if json {
        output::print_json(&answer)?;
    } else if let Some(request) = answer.get("request") {
        output::print(&format!(
            "budget request {} for {} cents is {}",
            output::text(&request["id"]),
            output::text(&request["amount_cents"]),
            output::text(&request["status"])
        ))?;
    } else if let Some(member) = answer.get("member") {
        output::print(&format!(
            "{} is {} ({})",
            output::text(&member["email"]),
            output::text(&member["role"]),
            output::text(&member["id"])
        ))?;
    } else {
        output::print("ok")?;
    }
    Ok(ExitCode::SUCCESS)
}
