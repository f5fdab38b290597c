//! `upivia usage`: what the organisation's agents spent (needs a PAT),
//! totalled per agent (the server's sums over the whole filter), per day
//! or listed request by request.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upivia::models::ListUsage;

use super::client::ClientArgs;
use super::output::{self, Table};

/// Charged requests and their totals, in dollars.
#[derive(Args, Debug)]
pub struct UsageArgs {
    /// Only this agent's requests (agt_…).
    #[arg(long)]
    pub agent: Option<String>,
    /// The last N days (from now, N × 24 hours back).
    #[arg(long, conflicts_with = "from", value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: Option<u32>,
    /// From this time, inclusive (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long)]
    pub from: Option<String>,
    /// Up to this time, exclusive (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// How to total: per agent, per day (UTC) or one row per request.
    #[arg(long, value_enum, default_value_t = By::Agent)]
    pub by: By,
    /// Most requests read (1-500); per-day totals and the request list
    /// cover only these, per-agent totals all of them.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    Agent,
    Day,
    Request,
}

/// An RFC 3339 flag, checked here so a typo is not a server round trip.
fn time_flag(flag: &str, raw: &str) -> anyhow::Result<String> {
    OffsetDateTime::parse(raw, &Rfc3339).with_context(|| {
        format!("{flag} {raw:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z")
    })?;
    Ok(raw.to_owned())
}

pub async fn run(args: UsageArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let mut filter = ListUsage::default().with_limit(args.limit);
    // The per-agent sums come with the activity view's extras.
    filter.include_chart = true;
    if let Some(agent) = &args.agent {
        filter = filter.with_agent_id(agent);
    }
    if let Some(days) = args.days {
        let from = OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
        filter = filter.with_from(from.format(&Rfc3339)?);
    }
    if let Some(from) = &args.from {
        filter = filter.with_from(time_flag("--from", from)?);
    }
    if let Some(to) = &args.to {
        filter = filter.with_to(time_flag("--to", to)?);
    }
    let client = args.client.client()?;
    let usage = client.usage().list(filter).await?;
    if args.client.json {
        output::print_json(&usage)?;
        return Ok(ExitCode::SUCCESS);
    }
    let records = usage["records"].as_array().map_or(&[][..], Vec::as_slice);
    let table = match args.by {
        By::Agent => {
            let mut table = Table::new(["AGENT", "REQUESTS", "TOTAL"]);
            for row in usage["per_agent"].as_array().map_or(&[][..], Vec::as_slice) {
                table.row(vec![
                    output::text(&row["agent_id"]),
                    output::text(&row["requests"]),
                    output::dollars_of(&row["total_cents"]),
                ]);
            }
            table
        }
        By::Day => {
            let mut days: BTreeMap<String, (u64, i64)> = BTreeMap::new();
            for r in records {
                let day = r["created_at"]
                    .as_str()
                    .unwrap_or("")
                    .get(..10)
                    .unwrap_or("-");
                let entry = days.entry(day.to_owned()).or_default();
                entry.0 += 1;
                entry.1 = entry
                    .1
                    .saturating_add(r["cost_cents"].as_i64().unwrap_or(0));
            }
            let mut table = Table::new(["DAY", "REQUESTS", "TOTAL"]);
            for (day, (requests, cents)) in days {
                table.row(vec![day, requests.to_string(), output::dollars(cents)]);
            }
            table
        }
        By::Request => {
            let mut table = Table::new(["REQUEST", "AGENT", "OPERATION", "COST", "AT"]);
            for r in records {
                table.row(vec![
                    output::text(&r["request_id"]),
                    output::text(&r["agent_id"]),
                    format!(
                        "{}.{}",
                        output::text(&r["service"]),
                        output::text(&r["operation"])
                    ),
                    output::dollars_of(&r["cost_cents"]),
                    output::text(&r["created_at"]),
                ]);
            }
            table
        }
    };
    let mut text = table.render();
    text.push_str(&format!(
        "\ntotal: {}",
        output::dollars_of(&usage["total_cents"])
    ));
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    if args.by != By::Agent && records.len() >= limit {
        text.push_str(&format!(
            "\n(the first {limit} requests only: narrow it with --from/--to or --agent)"
        ));
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
