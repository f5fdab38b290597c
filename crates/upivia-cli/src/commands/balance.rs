//! `upivia balance`: the organisation's balance (needs a PAT).

use std::process::ExitCode;

use clap::Args;

use super::client::ClientArgs;
use super::output;

/// Show the organisation's available balance, in dollars.
#[derive(Args, Debug)]
pub struct BalanceArgs {
    /// A team's budget instead of the organisation's balance.
    #[arg(long)]
    pub team_id: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: BalanceArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let balance = client.balance().get(args.team_id.as_deref()).await?;
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
