//! `upivia audit list|tail [--follow]`: the audit trail over the API
//! (needs a PAT). `upivia audit verify` stays the offline chain check in
//! `admin.rs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use upivia::models::{AuditLogEntry, ListAuditLogs};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Filters shared by `list` and `tail`.
#[derive(Args, Debug, Clone)]
pub struct AuditFilter {
    /// Only this agent's entries.
    #[arg(long)]
    pub agent_id: Option<String>,
    /// Only this service's entries.
    #[arg(long)]
    pub service: Option<String>,
    /// Only entries with this status (e.g. executed, blocked).
    #[arg(long)]
    pub status: Option<String>,
}

impl AuditFilter {
    fn query(&self, limit: u32) -> ListAuditLogs {
        ListAuditLogs {
            agent_id: self.agent_id.clone(),
            service: self.service.clone(),
            status: self.status.clone(),
            limit: Some(limit),
            ..ListAuditLogs::default()
        }
    }
}

/// The newest entries first, across pages.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// How many entries at most.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub filter: AuditFilter,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The latest entries, oldest first; with --follow, new ones as they come.
#[derive(Args, Debug)]
pub struct TailArgs {
    /// How many of the latest entries to show first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Keep polling and print new entries until interrupted.
    #[arg(long, short)]
    pub follow: bool,
    /// How often --follow polls, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub interval_ms: u64,
    #[command(flatten)]
    pub filter: AuditFilter,
    #[command(flatten)]
    pub client: ClientArgs,
}

const PAGE: u32 = 100;

pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let page = u32::try_from(args.limit.clamp(1, 500)).unwrap_or(PAGE);
    let entries: Vec<AuditLogEntry> = client
        .audit_logs()
        .list_all(args.filter.query(page))
        .take(args.limit)
        .try_collect()
        .await?;
    if args.client.json {
        output::print_json(&serde_json::to_value(&entries)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new([
        "SEQ",
        "TIME",
        "EVENT",
        "AGENT",
        "OPERATION",
        "STATUS",
        "COST",
    ]);
    for e in &entries {
        table.row(cells(e));
    }
    output::print(&table.render())?;
    Ok(ExitCode::SUCCESS)
}

pub async fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let audit = client.audit_logs();
    let latest = audit
        .list(args.filter.query(args.limit.clamp(1, 500)))
        .await?;
    let mut newest = latest.items.first().map(|e| e.id.clone());
    for e in latest.items.iter().rev() {
        emit(e, args.client.json)?;
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let interval = Duration::from_millis(args.interval_ms.max(50));
    loop {
        tokio::time::sleep(interval).await;
        // Newest first: everything above the last entry printed is new.
        let mut fresh = Vec::new();
        let mut rows = audit.list_all(args.filter.query(PAGE));
        while let Some(e) = rows.try_next().await? {
            if Some(&e.id) == newest.as_ref() {
                break;
            }
            fresh.push(e);
            if newest.is_none() && fresh.len() >= PAGE as usize {
                break;
            }
        }
        if let Some(first) = fresh.first() {
            newest = Some(first.id.clone());
        }
        for e in fresh.iter().rev() {
            emit(e, args.client.json)?;
        }
    }
}

/// One entry as one line: compact JSON, or aligned text.
fn emit(entry: &AuditLogEntry, json: bool) -> anyhow::Result<()> {
    if json {
        return output::print(&serde_json::to_string(entry)?);
    }
    let c = cells(entry);
    output::print(&format!(
        "{:>6}  {:<27}  {:<34}  {:<30}  {:<24}  {:<17}  {}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    ))
}

fn cells(e: &AuditLogEntry) -> Vec<String> {
    let get = |key: &str| e.extra.get(key).unwrap_or(&Value::Null);
    let operation = match (get("service").as_str(), get("operation").as_str()) {
        (Some(s), Some(o)) => format!("{s}.{o}"),
        (Some(s), None) => s.to_owned(),
        _ => "-".to_owned(),
    };
    let cost = if get("cost_cents").is_i64() {
        output::dollars_of(get("cost_cents"))
    } else {
        "-".to_owned()
    };
    vec![
        output::text(get("seq")),
        e.created_at.clone().unwrap_or_else(|| "-".to_owned()),
        e.event_type.clone().unwrap_or_else(|| "-".to_owned()),
        output::text(get("agent_id")),
        operation,
        output::text(get("status")),
        cost,
    ]
}
