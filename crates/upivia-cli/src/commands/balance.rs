//! `upivia balance`: the organisation's balance (needs a PAT); `upivia
//! balance credit <amount>`: the owner funds it.

use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use upivia::models::Cents;

use super::amount;
use super::client::ClientArgs;
use super::output;

/// Show the organisation's available balance, in dollars, or credit it.
#[derive(Args, Debug)]
pub struct BalanceArgs {
    #[command(subcommand)]
    pub command: Option<BalanceCommand>,
    /// A team's budget instead of the organisation's balance.
    #[arg(long)]
    pub team_id: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum BalanceCommand {
    /// Add money to the organisation's balance (the owner's PAT); prints
    /// the new balance. Not retried: a repeat would credit twice.
    #[command(group(ArgGroup::new("amount_given").required(true).args(["amount", "cents"])))]
    Credit {
        /// The amount in dollars: 25, 12.5 or 12.50.
        #[arg(value_name = "DOLLARS", value_parser = amount::parse_positive_dollars)]
        amount: Option<i64>,
        /// The amount in integer cents instead.
        #[arg(long, value_name = "CENTS", value_parser = clap::value_parser!(i64).range(1..),
              conflicts_with = "amount")]
        cents: Option<i64>,
        /// Why, kept in the audit trail (at most 500 bytes).
        #[arg(long)]
        note: Option<String>,
    },
}

pub async fn run(args: BalanceArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let balance = match args.command {
        Some(BalanceCommand::Credit {
            amount,
            cents,
            note,
        }) => {
            anyhow::ensure!(
                args.team_id.is_none(),
                "a credit funds the organisation, not a team: drop --team-id (upivia teams allocate moves money to a team)"
            );
            let cents = amount
                .or(cents)
                .expect("clap requires a dollar amount or --cents");
            let credited = client
                .balance()
                .credit(Cents::new(cents), note.as_deref())
                .await?;
            if !args.client.json {
                output::print(&format!("credited {}", output::dollars(cents)))?;
            }
            credited
        }
        None => client.balance().get(args.team_id.as_deref()).await?,
    };
    if args.client.json {
        output::print_json(&serde_json::to_value(&balance)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let currency = balance.currency.as_deref().unwrap_or("USD");
    let mut lines = vec![format!(
        "available: {} {currency}",
        output::dollars(balance.amount_cents.get())
    )];
    for (key, label) in [
        ("reserved_cents", "reserved"),
        ("settled_cents", "spent"),
        ("credits_cents", "credited"),
    ] {
        if let Some(cents) = balance.extra.get(key).and_then(|v| v.as_i64()) {
            lines.push(format!("{label}: {}", output::dollars(cents)));
        }
    }
    output::print(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}
