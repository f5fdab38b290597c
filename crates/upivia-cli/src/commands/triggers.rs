//! `upivia triggers list|create|show|update|delete|fire`: webhook and cron
//! triggers. Managing them needs a PAT; `fire` needs only the trigger's
//! secret, which signs the payload the way a webhook sender would.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use futures::TryStreamExt;
use serde_json::{Map, Value, json};
use upivia::models::{FireResult, PageQuery, Trigger};

use super::client::ClientArgs;
use super::output::{self, Table};
use super::request::json_object;

/// Triggers: list, create, show, update, delete, fire.
#[derive(Args, Debug)]
pub struct TriggersArgs {
    #[command(subcommand)]
    pub command: TriggersCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TriggersCommand {
    /// The workspace's triggers, newest first (one page; --all for every one).
    List {
        /// Page size (1 to 200).
        #[arg(long)]
        limit: Option<u32>,
        /// The `next_cursor` of the page before.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every trigger, across pages.
        #[arg(long)]
        all: bool,
    },
    /// Create a webhook trigger (or a cron one, with --cron); its signing
    /// secret is printed once.
    Create {
        /// The agent the trigger's requests run as (agt_…).
        agent_id: String,
        /// What it calls, as service.operation (e.g. email.send).
        operation: String,
        /// A cron trigger on this schedule (5 fields) instead of a webhook.
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// The IANA zone the cron schedule is read in (default UTC).
        #[arg(long, requires = "cron")]
        timezone: Option<String>,
        /// The operation's payload, a JSON object whose strings may hold
        /// `{{name}}` placeholders filled from the fire's payload.
        #[arg(long, alias = "payload-template", value_name = "JSON")]
        template: Option<String>,
    },
    /// One trigger.
    Show {
        /// The trigger id (trg_…).
        trigger_id: String,
    },
    /// Change what a trigger may change: enabled, schedule, template.
    Update {
        /// The trigger id (trg_…).
        trigger_id: String,
        /// Stop it firing.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Let it fire again.
        #[arg(long)]
        enable: bool,
        /// A new cron schedule (cron triggers).
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// A new payload template, a JSON object.
        #[arg(long, alias = "payload-template", value_name = "JSON")]
        template: Option<String>,
    },
    /// Disable a trigger (it is kept); --purge deletes it for good where
    /// the server allows that (--allow-trigger-purge).
    Delete {
        /// The trigger id (trg_…).
        trigger_id: String,
        #[arg(long)]
        purge: bool,
    },
    /// Fire a webhook trigger: the payload is signed with the trigger's
    /// secret; no PAT or key is sent.
    ///
    /// Exit code 0 when the request it made executed, is running or awaits
    /// approval; 1 when it was blocked or failed; 2 on an error (a bad
    /// signature, a disabled trigger).
    Fire {
        /// The trigger id (trg_…).
        trigger_id: String,
        /// The secret `triggers create` printed.
        #[arg(long, env = "UPIVIA_TRIGGER_SECRET", hide_env_values = true)]
        secret: String,
        /// The fire's payload, a JSON object (default `{}`).
        #[arg(long, value_name = "JSON")]
        payload: Option<String>,
    },
}

fn schedule(t: &Value) -> String {
    match (t["schedule_expr"].as_str(), t["timezone"].as_str()) {
        (Some(expr), Some(zone)) => format!("{expr} ({zone})"),
        (Some(expr), None) => expr.to_owned(),
        _ => "-".to_owned(),
    }
}

fn state(t: &Value) -> &'static str {
    if t["disabled"] == true {
        "disabled"
    } else {
        "enabled"
    }
}

fn trigger_text(t: &Value) -> String {
    let mut lines = vec![
        format!("trigger: {}", output::text(&t["id"])),
        format!("kind: {}", output::text(&t["kind"])),
        format!("agent: {}", output::text(&t["agent_id"])),
        format!("operation: {}", output::text(&t["operation"])),
        format!("state: {}", state(t)),
    ];
    if t["kind"] == "cron" {
        lines.push(format!("schedule: {}", schedule(t)));
        lines.push(format!("next run: {}", output::text(&t["next_run_at"])));
    }
    if let Some(url) = t["fire_url"].as_str() {
        lines.push(format!("fire_url: {url}"));
    }
    lines.push(format!(
        "payload_template: {}",
        output::text(&t["payload_template"])
    ));
    lines.push(format!("fires: {}", output::text(&t["fire_count"])));
    if !t["last_fired_at"].is_null() {
        lines.push(format!(
            "last fire: {} {} {}",
            output::text(&t["last_fired_at"]),
            output::text(&t["last_dispatch_status"]),
            output::text(&t["last_request_id"]),
        ));
    }
    lines.join("\n")
}

fn print_list(triggers: &[Value], next_cursor: Option<&str>) -> anyhow::Result<()> {
    if triggers.is_empty() {
        return output::print("no triggers");
    }
    let mut table = Table::new([
        "TRIGGER",
        "KIND",
        "AGENT",
        "OPERATION",
        "SCHEDULE",
        "STATE",
        "FIRES",
        "LAST FIRED",
    ]);
    for t in triggers {
        table.row(vec![
            output::text(&t["id"]),
            output::text(&t["kind"]),
            output::text(&t["agent_id"]),
            output::text(&t["operation"]),
            schedule(t),
            state(t).to_owned(),
            output::text(&t["fire_count"]),
            output::text(&t["last_fired_at"]),
        ]);
    }
    output::print(&table.render())?;
    if let Some(cursor) = next_cursor {
        output::print(&format!("more: --cursor {cursor}"))?;
    }
    Ok(())
}

fn fire_text(fired: &FireResult) -> String {
    let mut lines = vec![
        format!("accepted: {}", fired.accepted),
        format!(
            "dispatch_status: {}",
            fired.dispatch_status.as_deref().unwrap_or("-")
        ),
    ];
    if let Some(id) = &fired.request_id {
        lines.push(format!("request_id: {id}"));
    }
    if let Some(reason) = &fired.reason_code {
        lines.push(format!("reason: {reason}"));
    }
    if let Some(message) = fired.extra.get("message").and_then(Value::as_str) {
        lines.push(format!("message: {message}"));
    }
    lines.join("\n")
}

fn to_values(triggers: &[Trigger]) -> anyhow::Result<Vec<Value>> {
    triggers
        .iter()
        .map(|t| serde_json::to_value(t).map_err(Into::into))
        .collect()
}

pub async fn run(args: TriggersArgs) -> anyhow::Result<ExitCode> {
    // A fire is a webhook sender's act: the secret is its only credential.
    if !matches!(args.command, TriggersCommand::Fire { .. }) {
        args.client.require_pat()?;
    }
    let client = args.client.client()?;
    let triggers = client.triggers();
    let json = args.client.json;
    let answer = match args.command {
        TriggersCommand::List { limit, cursor, all } => {
            let query = PageQuery {
                limit,
                cursor: None,
            };
            let (rows, next) = if all {
                let rows: Vec<Trigger> = triggers.list_all(query).try_collect().await?;
                (rows, None)
            } else {
                let query = match cursor {
                    Some(c) => query.with_cursor(c),
                    None => query,
                };
                let page = triggers.list(query).await?;
                (page.items, page.next_cursor)
            };
            let rows = to_values(&rows)?;
            if !json {
                print_list(&rows, next.as_deref())?;
                return Ok(ExitCode::SUCCESS);
            }
            json!({"triggers": rows, "next_cursor": next})
        }
        TriggersCommand::Create {
            agent_id,
            operation,
            cron,
            timezone,
            template,
        } => {
            let mut body = Map::new();
            body.insert("agent_id".into(), json!(agent_id));
            body.insert(
                "kind".into(),
                json!(if cron.is_some() { "cron" } else { "webhook" }),
            );
            body.insert("operation".into(), json!(operation));
            if let Some(expr) = cron {
                body.insert("schedule_expr".into(), json!(expr));
            }
            if let Some(zone) = timezone {
                body.insert("timezone".into(), json!(zone));
            }
            if let Some(raw) = template {
                body.insert("payload_template".into(), json_object("--template", &raw)?);
            }
            let created = triggers.create(&Value::Object(body)).await?;
            if json {
                output::print_json(&serde_json::to_value(&created)?)?;
            } else {
                let t = serde_json::to_value(&created.trigger)?;
                output::print(&format!(
                    "{}\nsecret: {}\nthe secret is shown only once: store it now (it signs every fire)",
                    trigger_text(&t),
                    created.secret,
                ))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        TriggersCommand::Show { trigger_id } => triggers.get(&trigger_id).await?,
        TriggersCommand::Update {
            trigger_id,
            disable,
            enable,
            cron,
            template,
        } => {
            let mut body = Map::new();
            if disable || enable {
                body.insert("disabled".into(), json!(disable));
            }
            if let Some(expr) = cron {
                body.insert("schedule_expr".into(), json!(expr));
            }
            if let Some(raw) = template {
                body.insert("payload_template".into(), json_object("--template", &raw)?);
            }
            anyhow::ensure!(
                !body.is_empty(),
                "nothing to update: pass --disable, --enable, --cron or --template"
            );
            triggers.update(&trigger_id, &Value::Object(body)).await?
        }
        TriggersCommand::Delete { trigger_id, purge } => {
            let deleted = triggers.delete(&trigger_id, purge).await?;
            if !json {
                if deleted["deleted"] == true {
                    output::print(&format!("purged {trigger_id}"))?;
                } else {
                    output::print(&format!(
                        "disabled {trigger_id} (it is kept; --purge deletes it where the server allows)"
                    ))?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            deleted
        }
        TriggersCommand::Fire {
            trigger_id,
            secret,
            payload,
        } => {
            let payload = payload
                .map(|raw| json_object("--payload", &raw))
                .transpose()?;
            let fired = triggers
                .fire(&trigger_id, payload.as_ref(), &secret)
                .await?;
            if json {
                output::print_json(&serde_json::to_value(&fired)?)?;
            } else {
                output::print(&fire_text(&fired))?;
            }
            let refused = matches!(fired.dispatch_status.as_deref(), Some("blocked" | "failed"));
            return Ok(if refused {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
    };
    if json {
        output::print_json(&answer)?;
    } else {
        output::print(&trigger_text(&answer["trigger"]))?;
    }
    Ok(ExitCode::SUCCESS)
}
