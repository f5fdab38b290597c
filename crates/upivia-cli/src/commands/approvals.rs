//! `upivia approvals list|approve <id>|reject <id>`: the human side of the
//! approval gate (needs a PAT).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Pending approvals: list them, approve or reject one.
#[derive(Args, Debug)]
pub struct ApprovalsArgs {
    #[command(subcommand)]
    pub command: ApprovalsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// The pending approvals, oldest first.
    List,
    /// Approve: the parked request runs now (policy and budget are checked
    /// again). Exit code 1 if it then ends blocked or failed.
    Approve {
        /// The approval id (apr_…).
        approval_id: String,
    },
    /// Reject: the parked request ends blocked.
    Reject {
        /// The approval id (apr_…).
        approval_id: String,
    },
}

pub async fn run(args: ApprovalsArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let approvals = client.approvals();
    match args.command {
        ApprovalsCommand::List => {
            let listed = approvals.list().await?;
            if args.client.json {
                output::print_json(&listed)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = listed["approvals"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if rows.is_empty() {
                output::print("no pending approvals")?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["APPROVAL", "AGENT", "OPERATION", "EST. COST", "EXPIRES"]);
            for a in rows {
                let agent = match a["agent_name"].as_str().filter(|n| !n.is_empty()) {
                    Some(name) => name.to_owned(),
                    None => output::text(&a["agent_id"]),
                };
                table.row(vec![
                    output::text(&a["id"]),
                    agent,
                    format!(
                        "{}.{}",
                        output::text(&a["service"]),
                        output::text(&a["operation"])
                    ),
                    output::dollars_of(&a["estimated_cost_cents"]),
                    output::text(&a["expires_at"]),
                ]);
            }
            output::print(&table.render())?;
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Approve { approval_id } => {
            let outcome = approvals.approve(&approval_id).await?;
            output::report_outcome(&outcome, args.client.json)
        }
        ApprovalsCommand::Reject { approval_id } => {
            let outcome = approvals.reject(&approval_id).await?;
            // A rejection is the command succeeding, though the request is blocked.
            output::report_outcome(&outcome, args.client.json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
