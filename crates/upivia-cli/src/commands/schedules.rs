//! `upivia schedules list|create|show|update|delete|runs`: scheduled
//! tasks, one-time (`--run-at`) or recurring (`--cron`), each run a
//! governed request of the task's agent. Needs a PAT.

use std::process::ExitCode;

use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Map, Value, json};
use upivia::models::ListScheduledTasks;

use super::client::ClientArgs;
use super::output::{self, Table};
use super::request::json_object;

/// Scheduled tasks: list, create, show, update, delete, runs.
#[derive(Args, Debug)]
pub struct SchedulesArgs {
    #[command(subcommand)]
    pub command: SchedulesCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum SchedulesCommand {
    /// Scheduled tasks, newest first.
    List {
        /// Only tasks in this status: active, paused, completed, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Only this agent's tasks (agt_…).
        #[arg(long = "agent")]
        agent_id: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Page size (1 to 200).
        #[arg(long)]
        limit: Option<u32>,
        /// Tasks to skip.
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Schedule an operation for an agent, once (--run-at) or on a cron
    /// schedule (--cron).
    #[command(group(ArgGroup::new("when").required(true).args(["run_at", "cron"])))]
    Create {
        /// The agent the task's requests run as (agt_…).
        agent_id: String,
        /// What it calls, as service.operation (e.g. email.send).
        operation: String,
        /// When to run, once: RFC 3339 (2026-12-03T09:00:00Z), or a local
        /// time without offset read in --timezone.
        #[arg(long, value_name = "TIME")]
        run_at: Option<String>,
        /// A recurring schedule (5 cron fields).
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        /// The IANA zone the schedule is read in (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// The task's name (default: the operation).
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// The operation's input, a JSON object.
        #[arg(long, default_value = "{}", value_name = "JSON")]
        payload: String,
    },
    /// One task with its recent runs.
    Show {
        /// The task id.
        task_id: String,
    },
    /// Change a task: its schedule, payload, names or status.
    Update {
        /// The task id.
        task_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// A new input, a JSON object.
        #[arg(long, value_name = "JSON")]
        payload: Option<String>,
        /// Run once, at this time (RFC 3339).
        #[arg(long, value_name = "TIME", conflicts_with = "cron")]
        run_at: Option<String>,
        /// Run on this cron schedule.
        #[arg(long, value_name = "EXPR")]
        cron: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        /// active, paused, completed or cancelled.
        #[arg(long)]
        status: Option<String>,
    },
    /// Delete a task and its run history.
    Delete {
        /// The task id.
        task_id: String,
    },
    /// A task's runs, newest first, each with its request's status.
    Runs {
        /// The task id.
        task_id: String,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        offset: Option<u32>,
    },
}

fn when(t: &Value) -> String {
    let zone = t["timezone"].as_str().unwrap_or("UTC");
    match (t["schedule"].as_str(), t["run_at"].as_str()) {
        (Some(expr), _) => format!("cron {expr} ({zone})"),
        (None, Some(at)) => format!("once {at}"),
        (None, None) => "-".to_owned(),
    }
}

fn operation(t: &Value) -> String {
    format!(
        "{}.{}",
        output::text(&t["service"]),
        output::text(&t["operation"])
    )
}

fn task_text(t: &Value) -> String {
    let mut lines = vec![
        format!("task: {}", output::text(&t["id"])),
        format!("name: {}", output::text(&t["name"])),
        format!("status: {}", output::text(&t["status"])),
        format!("agent: {}", output::text(&t["agent_id"])),
        format!("operation: {}", operation(t)),
        format!("when: {}", when(t)),
        format!("next run: {}", output::text(&t["next_run_at"])),
        format!("runs: {}", output::text(&t["run_count"])),
    ];
    for key in ["category", "description"] {
        if let Some(text) = t[key].as_str() {
            lines.push(format!("{key}: {text}"));
        }
    }
    lines.push(format!("payload: {}", output::text(&t["payload"])));
    lines.join("\n")
}

fn runs_table(runs: &[Value]) -> String {
    let mut table = Table::new([
        "RUN",
        "STATUS",
        "REQUEST",
        "REQUEST STATUS",
        "SCHEDULED FOR",
        "STARTED",
    ]);
    for r in runs {
        table.row(vec![
            output::text(&r["id"]),
            output::text(&r["status"]),
            output::text(&r["service_request_id"]),
            output::text(&r["service_request_status"]),
            output::text(&r["scheduled_for"]),
            output::text(&r["started_at"]),
        ]);
    }
    table.render()
}

/// `shown of total` when a page holds fewer rows than there are.
fn footer(shown: usize, total: &Value) -> Option<String> {
    let total = total.as_u64()?;
    (usize::try_from(total).ok()? > shown).then(|| format!("{shown} of {total}"))
}

pub async fn run(args: SchedulesArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let tasks = client.scheduled_tasks();
    let json = args.client.json;
    let answer = match args.command {
        SchedulesCommand::List {
            status,
            agent_id,
            category,
            limit,
            offset,
        } => {
            let filter = ListScheduledTasks {
                status,
                agent_id,
                category,
                limit,
                offset,
            };
            let listed = tasks.list(filter).await?;
            if json {
                output::print_json(&listed)?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = listed["tasks"].as_array().map_or(&[][..], Vec::as_slice);
            if rows.is_empty() {
                output::print("no scheduled tasks")?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new([
                "TASK",
                "NAME",
                "STATUS",
                "AGENT",
                "OPERATION",
                "WHEN",
                "NEXT RUN",
                "RUNS",
            ]);
            for t in rows {
                table.row(vec![
                    output::text(&t["id"]),
                    output::text(&t["name"]),
                    output::text(&t["status"]),
                    output::text(&t["agent_id"]),
                    operation(t),
                    when(t),
                    output::text(&t["next_run_at"]),
                    output::text(&t["run_count"]),
                ]);
            }
            output::print(&table.render())?;
            if let Some(line) = footer(rows.len(), &listed["total"]) {
                output::print(&line)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        SchedulesCommand::Create {
            agent_id,
            operation,
            run_at,
            cron,
            timezone,
            name,
            category,
            description,
            payload,
        } => {
            let mut body = Map::new();
            body.insert("agent_id".into(), json!(agent_id));
            body.insert("operation".into(), json!(operation));
            body.insert("payload".into(), json_object("--payload", &payload)?);
            for (key, value) in [
                ("run_at", run_at),
                ("schedule", cron),
                ("timezone", timezone),
                ("name", name),
                ("category", category),
                ("description", description),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), json!(value));
                }
            }
            tasks.create(&Value::Object(body)).await?
        }
        SchedulesCommand::Show { task_id } => {
            let detail = tasks.get(&task_id).await?;
            if json {
                output::print_json(&detail)?;
                return Ok(ExitCode::SUCCESS);
            }
            output::print(&task_text(&detail["task"]))?;
            let runs = detail["runs"].as_array().map_or(&[][..], Vec::as_slice);
            if runs.is_empty() {
                output::print("no runs yet")?;
            } else {
                output::print(&runs_table(runs))?;
                if let Some(line) = footer(runs.len(), &detail["runs_total"]) {
                    output::print(&format!(
                        "{line} runs: upivia schedules runs {task_id} --offset {}",
                        runs.len()
                    ))?;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        SchedulesCommand::Update {
            task_id,
            name,
            description,
            category,
            payload,
            run_at,
            cron,
            timezone,
            status,
        } => {
            let mut body = Map::new();
            for (key, value) in [
                ("name", name),
                ("description", description),
                ("category", category),
                ("run_at", run_at),
                ("schedule", cron),
                ("timezone", timezone),
                ("status", status),
            ] {
                if let Some(value) = value {
                    body.insert(key.into(), json!(value));
                }
            }
            if let Some(raw) = payload {
                body.insert("payload".into(), json_object("--payload", &raw)?);
            }
            anyhow::ensure!(
                !body.is_empty(),
                "nothing to update: pass --status, --cron, --run-at, --timezone, --payload, \
                 --name, --description or --category"
            );
            tasks.update(&task_id, &Value::Object(body)).await?
        }
        SchedulesCommand::Delete { task_id } => {
            tasks.delete(&task_id).await?;
            if json {
                output::print_json(&json!({"deleted": true, "id": task_id}))?;
            } else {
                output::print(&format!("deleted {task_id}"))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        SchedulesCommand::Runs {
            task_id,
            limit,
            offset,
        } => {
            let history = tasks.runs(&task_id, limit, offset).await?;
            if json {
                output::print_json(&history)?;
                return Ok(ExitCode::SUCCESS);
            }
            let runs = history["runs"].as_array().map_or(&[][..], Vec::as_slice);
            if runs.is_empty() {
                output::print("no runs")?;
            } else {
                output::print(&runs_table(runs))?;
                if let Some(line) = footer(runs.len(), &history["total"]) {
                    output::print(&line)?;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json {
        output::print_json(&answer)?;
    } else {
        output::print(&task_text(&answer["task"]))?;
    }
    Ok(ExitCode::SUCCESS)
}
