//! `upivia agents list|create <name>|show|pause|resume|rotate-key|budget
//! <agent_id>|enable <agent_id> <service>|clone <agent_id>|delete
//! <agent_id>|health [<agent_id>]`: agent management (needs a PAT);
//! `spawn <name> <operation>…`: a child of the agent whose key is given
//! (needs that key).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::amount;
use super::client::ClientArgs;
use super::output::{self, Table};

/// Agents: list, create, show, pause, resume, rotate-key, budget, enable a
/// service, clone, delete, health.
#[derive(Args, Debug)]
pub struct AgentsArgs {
    #[command(subcommand)]
    pub command: AgentsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Every agent of the workspace.
    List,
    /// Create an agent; its API key is printed once.
    Create {
        /// The agent's name.
        name: String,
        /// What the agent is for.
        #[arg(long)]
        description: Option<String>,
        /// Monthly spending cap, in integer cents.
        #[arg(long)]
        monthly_budget_cents: Option<i64>,
        /// A sandbox-only key (agent_key_test_…).
        #[arg(long)]
        test_key: bool,
    },
    /// One agent: status, limits, service bindings and health.
    Show {
        /// The agent id (agt_…).
        agent_id: String,
    },
    /// Pause an agent: its service requests are refused (agent_paused)
    /// until it is resumed.
    Pause {
        /// The agent id (agt_…).
        agent_id: String,
    },
    /// Resume a paused agent: its service requests are governed again.
    Resume {
        /// The agent id (agt_…).
        agent_id: String,
    },
    /// Replace an agent's API key: the old key stops at once and the new
    /// one is printed once.
    RotateKey {
        /// The agent id (agt_…).
        agent_id: String,
    },
    /// Show an agent's monthly spending cap, or set it with a flag.
    Budget {
        /// The agent id (agt_…).
        agent_id: String,
        /// Set the monthly cap in dollars (25, 12.50).
        #[arg(long, value_name = "DOLLARS", value_parser = amount::parse_dollars,
              conflicts_with_all = ["monthly_cents", "no_cap"])]
        monthly: Option<i64>,
        /// Set the monthly cap in integer cents.
        #[arg(long, value_name = "CENTS", value_parser = clap::value_parser!(i64).range(0..),
              conflicts_with = "no_cap")]
        monthly_cents: Option<i64>,
        /// Remove the monthly cap (the organisation's balance still bounds
        /// spending).
        #[arg(long)]
        no_cap: bool,
    },
    /// Enable a service (or some of its operations) for an agent.
    Enable {
        /// The agent id (agt_…).
        agent_id: String,
        /// The catalog service id, e.g. `email`.
        service: String,
        /// Only these operations (repeatable); default: all of them.
        #[arg(long = "operation")]
        operations: Vec<String>,
        /// Every request needs a human's approval.
        #[arg(long)]
        require_approval: bool,
        /// Requests estimated above this many cents need approval.
        #[arg(long)]
        approval_threshold_cents: Option<i64>,
        /// Refuse requests estimated above this many cents.
        #[arg(long)]
        max_cost_cents: Option<i64>,
        /// Requests per minute.
        #[arg(long)]
        rate_limit_per_minute: Option<u32>,
    },
    /// Copy an agent with every binding and limit; the copy's API key is
    /// printed once.
    Clone {
        /// The agent to copy (agt_…).
        agent_id: String,
        /// The copy's name (default: "<name> (copy)").
        #[arg(long)]
        name: Option<String>,
    },
    /// Spawn a child of the agent whose key is given (--api-key): its
    /// operations a subset of the parent's, its budget carved out of the
    /// parent's; the child's key is printed once.
    Spawn {
        /// The child's name.
        name: String,
        /// Operations (service.operation) or services the child may use.
        #[arg(required = true)]
        operations: Vec<String>,
        /// Cents carved out of the parent's budget.
        #[arg(long, default_value_t = 0)]
        budget_cents: i64,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete an agent and its bindings; its key stops at once.
    Delete {
        /// The agent id (agt_…).
        agent_id: String,
    },
    /// Health of one agent, or of every agent with no id.
    Health {
        /// The agent id (agt_…); omitted: the whole fleet.
        agent_id: Option<String>,
        /// The window: 24h (default), 1h or 7d.
        #[arg(long)]
        window: Option<String>,
    },
}

fn health_row(h: &Value) -> Vec<String> {
    let rate = h["error_rate"]
        .as_f64()
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let ms = |v: &Value| {
        v.as_i64()
            .map_or_else(|| "-".to_owned(), |n| format!("{n} ms"))
    };
    vec![
        output::text(&h["agent_id"]),
        output::text(&h["health"]),
        rate,
        ms(&h["p50_latency_ms"]),
        ms(&h["p95_latency_ms"]),
        h["last_activity_at"].as_str().unwrap_or("never").to_owned(),
    ]
}

/// An agent's limits, money in dollars.
fn limits_text(agent: &Value) -> String {
    let cap = if agent["monthly_budget_cents"].is_null() {
        "none".to_owned()
    } else {
        output::dollars_of(&agent["monthly_budget_cents"])
    };
    let count = |v: &Value| {
        if v.is_null() {
            "none".to_owned()
        } else {
            output::text(v)
        }
    };
    [
        format!("agent: {}", output::text(&agent["id"])),
        format!("monthly budget: {cap}"),
        format!(
            "daily request limit: {}",
            count(&agent["daily_request_limit"])
        ),
        format!(
            "rate limit per minute: {}",
            count(&agent["rate_limit_per_minute"])
        ),
    ]
    .join("\n")
}

/// `agents show`: the agent, its limits, bindings and health.
fn agent_text(shown: &Value, health: Option<&Value>) -> String {
    let agent = &shown["agent"];
    let mut lines = vec![
        format!("name: {}", output::text(&agent["name"])),
        format!("status: {}", output::text(&agent["status"])),
        format!("mode: {}", output::text(&agent["key_mode"])),
        limits_text(agent),
    ];
    if let Some(h) = health {
        lines.push(format!("health: {}", output::text(&h["health"])));
    }
    let bindings = shown["services"].as_array().map_or(&[][..], Vec::as_slice);
    if bindings.is_empty() {
        lines.push("services: none (upivia agents enable <agent_id> <service>)".to_owned());
    } else {
        let mut table = Table::new(["SERVICE", "OPERATION", "APPROVAL", "MAX COST"]);
        for b in bindings {
            table.row(binding_row(b));
        }
        lines.push(String::new());
        lines.push(table.render());
    }
    lines.join("\n")
}

/// A service binding as a table row, money in dollars.
fn binding_row(b: &Value) -> Vec<String> {
    let approval = if b["require_approval"] == true {
        "always".to_owned()
    } else if b["approval_threshold_cents"].is_i64() {
        format!(
            "above {}",
            output::dollars_of(&b["approval_threshold_cents"])
        )
    } else {
        "never".to_owned()
    };
    vec![
        output::text(&b["service_id"]),
        b["operation"].as_str().unwrap_or("*").to_owned(),
        approval,
        output::dollars_of(&b["max_cost_cents"]),
    ]
}

/// The answer of a status change: JSON, or the agent's new status and
/// what it means.
fn print_status(answer: &Value, json: bool, note: Option<&str>) -> anyhow::Result<()> {
    if json {
        return output::print_json(answer);
    }
    let mut lines = vec![
        format!("agent: {}", output::text(&answer["agent"]["id"])),
        format!("status: {}", output::text(&answer["agent"]["status"])),
    ];
    lines.extend(note.map(str::to_owned));
    output::print(&lines.join("\n"))
}

pub async fn run(args: AgentsArgs) -> anyhow::Result<ExitCode> {
    // Spawning is the parent agent's act, with its key; the rest is a
    // person's, with a PAT.
    if matches!(args.command, AgentsCommand::Spawn { .. }) {
        args.client.require_api_key()?;
    } else {
        args.client.require_pat()?;
    }
    let client = args.client.client()?;
    let agents = client.agents();
    let json = args.client.json;
    match args.command {
        AgentsCommand::List => {
            let listed = agents.list_workspace(None).await?;
            if json {
                output::print_json(&listed)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = listed["agents"].as_array().map_or(&[][..], Vec::as_slice);
            let mut table = Table::new(["AGENT", "NAME", "STATUS", "MODE", "MONTHLY BUDGET"]);
            for a in rows {
                let budget = if a["monthly_budget_cents"].is_null() {
                    "none".to_owned()
                } else {
                    output::dollars_of(&a["monthly_budget_cents"])
                };
                table.row(vec![
                    output::text(&a["id"]),
                    output::text(&a["name"]),
                    output::text(&a["status"]),
                    output::text(&a["key_mode"]),
                    budget,
                ]);
            }
            output::print(&table.render())?;
        }
        AgentsCommand::Create {
            name,
            description,
            monthly_budget_cents,
            test_key,
        } => {
            let mut body = Map::new();
            body.insert("name".into(), json!(name));
            if let Some(d) = description {
                body.insert("description".into(), json!(d));
            }
            if let Some(cents) = monthly_budget_cents {
                body.insert("monthly_budget_cents".into(), json!(cents));
            }
            if test_key {
                body.insert("key_mode".into(), json!("test"));
            }
            let created = agents.create(&Value::Object(body)).await?;
            if json {
                output::print_json(&created)?;
            } else {
                output::print(&format!(
                    "agent: {}\nname: {}\napi_key: {}\nthe key is shown only once: store it now",
                    output::text(&created["agent"]["id"]),
                    output::text(&created["agent"]["name"]),
                    output::text(&created["api_key"]),
                ))?;
            }
        }
        AgentsCommand::Enable {
            agent_id,
            service,
            operations,
            require_approval,
            approval_threshold_cents,
            max_cost_cents,
            rate_limit_per_minute,
        } => {
            let mut body = Map::new();
            body.insert("service_id".into(), json!(service));
            if !operations.is_empty() {
                body.insert("operations".into(), json!(operations));
            }
            body.insert("require_approval".into(), json!(require_approval));
            for (key, value) in [
                (
                    "approval_threshold_cents",
                    approval_threshold_cents.map(Value::from),
                ),
                ("max_cost_cents", max_cost_cents.map(Value::from)),
                (
                    "rate_limit_per_minute",
                    rate_limit_per_minute.map(Value::from),
                ),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), value);
                }
            }
            let enabled = agents
                .enable_service(&agent_id, &Value::Object(body))
                .await?;
            if json {
                output::print_json(&enabled)?;
            } else {
                let bindings = enabled["services"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice);
                let mut table = Table::new(["SERVICE", "OPERATION", "APPROVAL", "MAX COST"]);
                for b in bindings {
                    table.row(binding_row(b));
                }
                output::print(&table.render())?;
            }
        }
        AgentsCommand::Clone { agent_id, name } => {
            let body = name.map_or_else(|| json!({}), |n| json!({"name": n}));
            let cloned = agents.clone(&agent_id, Some(&body)).await?;
            if json {
                output::print_json(&cloned)?;
            } else {
                output::print(&format!(
                    "agent: {}\nname: {}\ncloned from: {agent_id}\napi_key: {}\nthe key is shown only once: store it now",
                    output::text(&cloned["agent"]["id"]),
                    output::text(&cloned["agent"]["name"]),
                    output::text(&cloned["api_key"]),
                ))?;
            }
        }
        AgentsCommand::Spawn {
            name,
            operations,
            budget_cents,
            description,
        } => {
            let mut child = upivia::models::SpawnAgent::new(name, operations)
                .with_budget_cents(upivia::models::Cents::new(budget_cents));
            if let Some(d) = description {
                child = child.with_description(d);
            }
            let spawned = client.spawn().create(child).await?;
            if json {
                output::print_json(&spawned)?;
            } else {
                output::print(&format!(
                    "agent: {}\nparent: {}\nbudget_cents: {budget_cents}\napi_key: {}\nthe key is shown only once: store it now",
                    output::text(&spawned["agent"]["id"]),
                    output::text(&spawned["agent"]["parent_agent_id"]),
                    output::text(&spawned["api_key"]),
                ))?;
            }
        }
        AgentsCommand::Show { agent_id } => {
            let shown = agents.get(&agent_id).await?;
            if json {
                output::print_json(&shown)?;
                return Ok(ExitCode::SUCCESS);
            }
            // Health is a second call: left out when it fails.
            let health = agents.health(&agent_id).await.ok();
            output::print(&agent_text(&shown, health.as_ref()))?;
        }
        AgentsCommand::Pause { agent_id } => {
            let paused = agents
                .update(&agent_id, &json!({"status": "paused"}))
                .await?;
            let note = format!(
                "its service requests are refused (agent_paused) until upivia agents resume {agent_id}"
            );
            print_status(&paused, json, Some(&note))?;
        }
        AgentsCommand::Resume { agent_id } => {
            let resumed = agents
                .update(&agent_id, &json!({"status": "active"}))
                .await?;
            print_status(&resumed, json, None)?;
        }
        AgentsCommand::RotateKey { agent_id } => {
            let rotated = agents.reset_key(&agent_id).await?;
            if json {
                output::print_json(&rotated)?;
            } else {
                output::print(&format!(
                    "agent: {}\napi_key: {}\nthe old key no longer works; this key will not be shown again: store it now",
                    output::text(&rotated["agent"]["id"]),
                    output::text(&rotated["api_key"]),
                ))?;
            }
        }
        AgentsCommand::Budget {
            agent_id,
            monthly,
            monthly_cents,
            no_cap,
        } => {
            let cap = monthly.or(monthly_cents).map(Value::from);
            let answer = if cap.is_some() || no_cap {
                let cap = cap.unwrap_or(Value::Null);
                agents
                    .set_budget(&agent_id, &json!({"monthly_budget_cents": cap}))
                    .await?
            } else {
                agents.get(&agent_id).await?
            };
            if json {
                output::print_json(&answer)?;
            } else {
                output::print(&limits_text(&answer["agent"]))?;
            }
        }
        AgentsCommand::Delete { agent_id } => {
            let deleted = agents.delete(&agent_id).await?;
            if json {
                output::print_json(&deleted)?;
            } else {
                output::print(&format!(
                    "deleted {agent_id} ({} bindings removed)",
                    deleted["bindings_removed"]
                ))?;
            }
        }
        AgentsCommand::Health { agent_id, window } => {
            let report = match (&agent_id, &window) {
                (Some(id), None) => agents.health(id).await?,
                (None, None) => agents.fleet_health().await?,
                (Some(id), Some(w)) => agents.health_over(id, w).await?,
                (None, Some(w)) => agents.fleet_health_over(w).await?,
            };
            if json {
                output::print_json(&report)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut table =
                Table::new(["AGENT", "HEALTH", "ERRORS", "P50", "P95", "LAST ACTIVITY"]);
            match agent_id {
                Some(_) => table.row(health_row(&report)),
                None => {
                    for h in report["agents"].as_array().map_or(&[][..], Vec::as_slice) {
                        table.row(health_row(h));
                    }
                }
            }
            output::print(&table.render())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
