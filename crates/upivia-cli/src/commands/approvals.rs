//! `upivia approvals list|approve <id>|reject <id>`: the human side of the
//! approval gate and of outcome reviews (needs a PAT).

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
    /// again). Exit code 1 if it then ends blocked or failed. On an outcome
    /// review (orev_…): it happened, charge what is held (or --amount-cents).
    Approve {
        /// The approval id (appr_…) or outcome review id (orev_…).
        approval_id: String,
        /// Settling an outcome review: charge this many cents, at most what
        /// is held.
        #[arg(long)]
        amount_cents: Option<i64>,
    },
    /// Reject: the parked request ends blocked. On an outcome review: it
    /// did not happen, release the hold.
    Reject {
        /// The approval id (appr_…) or outcome review id (orev_…).
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
            let mut table = Table::new([
                "APPROVAL",
                "KIND",
                "AGENT",
                "OPERATION",
                "EST. COST",
                "EXPIRES",
            ]);
            for a in rows {
                let agent = match a["agent_name"].as_str().filter(|n| !n.is_empty()) {
                    Some(name) => name.to_owned(),
                    None => output::text(&a["agent_id"]),
                };
                let kind = match a["kind"].as_str() {
                    Some("outcome_unknown") => "outcome unknown",
                    _ => "approval",
                };
                let expires = match a["expires_at"].as_str() {
                    Some(at) => at.to_owned(),
                    None => "never".to_owned(),
                };
                table.row(vec![
                    output::text(&a["id"]),
                    kind.to_owned(),
                    agent,
                    format!(
                        "{}.{}",
                        output::text(&a["service"]),
                        output::text(&a["operation"])
                    ),
                    output::dollars_of(&a["estimated_cost_cents"]),
                    expires,
                ]);
            }
            output::print(&table.render())?;
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Approve {
            approval_id,
            amount_cents: None,
        } => {
            let outcome = approvals.approve(&approval_id).await?;
            output::report_outcome(&outcome, args.client.json)
        }
        ApprovalsCommand::Approve {
            approval_id,
            amount_cents,
        } => {
            let outcome = approvals.settle_outcome(&approval_id, amount_cents).await?;
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
