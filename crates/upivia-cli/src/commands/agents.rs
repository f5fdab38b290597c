//! `upivia agents list|create <name>|enable <agent_id> <service>`: agent
//! management (needs a PAT).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Agents: list them, create one, enable a service for one.
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
}

pub async fn run(args: AgentsArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
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
                    table.row(vec![
                        output::text(&b["service_id"]),
                        b["operation"].as_str().unwrap_or("*").to_owned(),
                        approval,
                        output::dollars_of(&b["max_cost_cents"]),
                    ]);
                }
                output::print(&table.render())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
