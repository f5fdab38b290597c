//! `upivia tasks delegate|list|show|update|reattach`: delegated tasks.
//! A parent agent (API key) delegates to its child and lists its tasks;
//! humans (PAT) read and move a task for the side they name, and
//! reattach to it.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use upivia::models::{Cents, CreateDelegatedTask, ListDelegatedTasks};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Delegated tasks: delegate, list, show, update, reattach.
#[derive(Args, Debug)]
pub struct TasksArgs {
    #[command(subcommand)]
    pub command: TasksCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum TasksCommand {
    /// Delegate an objective to a child agent (agent key of the parent).
    Delegate {
        /// The parent agent: the one whose key is used.
        agent_id: String,
        /// The child agent.
        child_agent_id: String,
        /// What the child should achieve.
        objective: String,
        /// Hard cap, in cents, on what the child may spend under the task.
        #[arg(long)]
        budget_cap_cents: Option<i64>,
        /// An operation the child may use (service.operation); repeatable.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        model_id: Option<String>,
    },
    /// The agent's tasks, newest first (agent key).
    List {
        agent_id: String,
        /// created (default) or received.
        #[arg(long)]
        direction: Option<String>,
        /// Only tasks in this status.
        #[arg(long)]
        status: Option<String>,
    },
    /// One task, seen from the agent's side (PAT).
    Show { agent_id: String, task_id: String },
    /// Move a task or report on it, for the side `agent_id` is on (PAT).
    Update {
        agent_id: String,
        task_id: String,
        /// accepted, in_progress, completed, failed (the child) or
        /// cancelled (the parent).
        #[arg(long)]
        status: Option<String>,
        /// The result, as JSON.
        #[arg(long)]
        result: Option<String>,
        /// A file the child wrote; repeatable.
        #[arg(long = "file-write")]
        file_writes: Vec<String>,
    },
    /// The task and the file writes after event `--since` (PAT).
    Reattach {
        task_id: String,
        #[arg(long)]
        since: Option<i64>,
    },
}

fn print_task(task: &Value) -> anyhow::Result<()> {
    output::print(&format!(
        "{} {} {} -> {} spent {} of {}",
        output::text(&task["id"]),
        output::text(&task["status"]),
        output::text(&task["parent_agent_id"]),
        output::text(&task["child_agent_id"]),
        output::dollars_of(&task["spent_cents"]),
        if task["budget_cap_cents"].is_null() {
            "no cap".to_owned()
        } else {
            output::dollars_of(&task["budget_cap_cents"])
        },
    ))
}

pub async fn run(args: TasksArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        TasksCommand::Delegate { .. } | TasksCommand::List { .. } => {
            args.client.require_api_key()?
        }
        _ => args.client.require_pat()?,
    }
    let client = args.client.client()?;
    let tasks = client.delegate();
    let answer = match args.command {
        TasksCommand::Delegate {
            agent_id,
            child_agent_id,
            objective,
            budget_cap_cents,
            permissions,
            model_id,
        } => {
            let mut task = CreateDelegatedTask::new(objective).with_child_agent_id(child_agent_id);
            if let Some(cap) = budget_cap_cents {
                task = task.with_budget_cap_cents(Cents::new(cap));
            }
            if !permissions.is_empty() {
                task = task.with_permissions(permissions);
            }
            if let Some(model) = model_id {
                task = task.with_model_id(model);
            }
            tasks.create(&agent_id, task).await?
        }
        TasksCommand::List {
            agent_id,
            direction,
            status,
        } => {
            let mut filter = ListDelegatedTasks::default();
            if let Some(direction) = direction {
                filter = filter.with_direction(direction);
            }
            if let Some(status) = status {
                filter = filter.with_status(status);
            }
            let listed = tasks.list(&agent_id, filter).await?;
            if !args.client.json {
                let rows = listed["tasks"].as_array().cloned().unwrap_or_default();
                if rows.is_empty() {
                    output::print("no tasks")?;
                    return Ok(ExitCode::SUCCESS);
                }
                let mut table =
                    Table::new(["TASK", "STATUS", "PARENT", "CHILD", "SPENT", "OBJECTIVE"]);
                for t in &rows {
                    table.row(vec![
                        output::text(&t["id"]),
                        output::text(&t["status"]),
                        output::text(&t["parent_agent_id"]),
                        output::text(&t["child_agent_id"]),
                        output::dollars_of(&t["spent_cents"]),
                        output::text(&t["objective"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        TasksCommand::Show { agent_id, task_id } => tasks.get_task(&agent_id, &task_id).await?,
        TasksCommand::Update {
            agent_id,
            task_id,
            status,
            result,
            file_writes,
        } => {
            let mut body = Map::new();
            if let Some(status) = status {
                body.insert("status".into(), json!(status));
            }
            if let Some(result) = result {
                let parsed: Value =
                    serde_json::from_str(&result).context("--result must be JSON")?;
                body.insert("result".into(), parsed);
            }
            if !file_writes.is_empty() {
                let writes: Vec<Value> = file_writes.iter().map(|p| json!({"path": p})).collect();
                body.insert("file_writes".into(), json!(writes));
            }
            anyhow::ensure!(
                !body.is_empty(),
                "nothing to update: pass --status, --result or --file-write"
            );
            tasks
                .update_task(&agent_id, &task_id, &Value::Object(body))
                .await?
        }
        TasksCommand::Reattach { task_id, since } => {
            let back = tasks.reattach(&task_id, since).await?;
            if !args.client.json {
                print_task(&back["task"])?;
                for w in back["file_writes"].as_array().into_iter().flatten() {
                    output::print(&format!(
                        "  #{} {}",
                        output::text(&w["seq"]),
                        output::text(&w["path"])
                    ))?;
                }
                output::print(&format!("last seq {}", output::text(&back["last_seq"])))?;
                return Ok(ExitCode::SUCCESS);
            }
            back
        }
    };
    if args.client.json {
        output::print_json(&answer)?;
    } else {
        print_task(&answer["task"])?;
    }
    Ok(ExitCode::SUCCESS)
}
