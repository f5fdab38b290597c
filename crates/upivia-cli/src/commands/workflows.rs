//! `upivia workflows list|show|run|inspect|retry|cancel`: workflows and
//! their runs (PAT). `run --wait` polls until the run ends, with a spinner
//! on a terminal; a run waiting at an approval step keeps waiting (approve
//! it with `upivia approvals approve wfg_…`).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;
use upivia::models::{Cents, RunWorkflow};
use upivia::resources::WaitOptions;

use super::client::ClientArgs;
use super::output::{self, Table};
use super::request::{json_object, spinner};

/// Workflows: list, show, run, inspect, retry, cancel.
#[derive(Args, Debug)]
pub struct WorkflowsArgs {
    #[command(subcommand)]
    pub command: WorkflowsCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum WorkflowsCommand {
    /// The workflows you can see.
    List {
        #[arg(long)]
        category: Option<String>,
    },
    /// A workflow and its versions.
    Show { workflow_id: String },
    /// Start a run of the published version (or --version, a draft with
    /// --test-run).
    Run {
        workflow_id: String,
        /// The version to run (wfv_…); the published one when left out.
        #[arg(long)]
        version: Option<String>,
        /// The run's input, a JSON object.
        #[arg(long, default_value = "{}", value_name = "JSON")]
        input: String,
        /// What the whole run may spend, in cents.
        #[arg(long)]
        budget_cents: Option<i64>,
        /// Run a draft version for real (governed and charged).
        #[arg(long)]
        test_run: bool,
        /// Wait until the run completes, fails or is cancelled.
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
    },
    /// A run and its steps.
    Inspect { workflow_id: String, run_id: String },
    /// Retry one failed step (a new attempt; completed steps keep their
    /// results), or every failed step with --all-failed.
    Retry {
        workflow_id: String,
        run_id: String,
        /// The step (its id in the workflow's definition).
        #[arg(required_unless_present = "all_failed")]
        step_id: Option<String>,
        #[arg(long)]
        all_failed: bool,
    },
    /// Cancel a run.
    Cancel { workflow_id: String, run_id: String },
}

fn steps_table(run: &Value) -> String {
    let mut table = Table::new(["STEP", "TYPE", "STATUS", "ATTEMPT", "ERROR"]);
    for s in run["steps"].as_array().into_iter().flatten() {
        table.row(vec![
            output::text(&s["label"]),
            output::text(&s["step_type"]),
            output::text(&s["status"]),
            output::text(&s["attempt"]),
            output::text(&s["error"]),
        ]);
    }
    table.render()
}

fn run_text(run: &Value) -> String {
    let mut out = format!(
        "run {}: {}\n",
        output::text(&run["id"]),
        output::text(&run["status"])
    );
    if let Some(error) = run["error"].as_str() {
        out.push_str(&format!("error: {error}\n"));
    }
    out.push_str(&steps_table(run));
    out
}

/// Exit 0 for a completed run, 1 for any other end.
fn exit_for(run: &Value) -> ExitCode {
    if run["status"] == "completed" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub async fn run(args: WorkflowsArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let json = args.client.json;
    let workflows = client.workflows();
    match args.command {
        WorkflowsCommand::List { category } => {
            let listed = workflows.list(category.as_deref()).await?;
            if json {
                output::print_json(&listed)?;
            } else {
                let mut table = Table::new(["ID", "NAME", "AGENT", "CATEGORY", "SHARED"]);
                for w in listed["workflows"].as_array().into_iter().flatten() {
                    table.row(vec![
                        output::text(&w["id"]),
                        output::text(&w["name"]),
                        output::text(&w["agent_id"]),
                        output::text(&w["category"]),
                        output::text(&w["share_scope"]),
                    ]);
                }
                output::print(&table.render())?;
            }
        }
        WorkflowsCommand::Show { workflow_id } => {
            let got = workflows.get(&workflow_id).await?;
            if json {
                output::print_json(&got)?;
            } else {
                let mut table = Table::new(["VERSION", "ID", "STATUS", "STEPS"]);
                for v in got["versions"].as_array().into_iter().flatten() {
                    table.row(vec![
                        output::text(&v["version"]),
                        output::text(&v["id"]),
                        output::text(&v["status"]),
                        v["steps"].as_array().map_or(0, Vec::len).to_string(),
                    ]);
                }
                output::print(&format!(
                    "{} ({})\n{}",
                    output::text(&got["workflow"]["name"]),
                    output::text(&got["workflow"]["id"]),
                    table.render()
                ))?;
            }
        }
        WorkflowsCommand::Run {
            workflow_id,
            version,
            input,
            budget_cents,
            test_run,
            wait,
            timeout_secs,
        } => {
            let mut run = RunWorkflow::new().with_input(json_object("--input", &input)?);
            if let Some(v) = version {
                run = run.with_version_id(v);
            }
            if let Some(c) = budget_cents {
                run = run.with_budget_cents(Cents::new(c));
            }
            if test_run {
                run = run.with_test_run(true);
            }
            let finished = if wait {
                let bar = spinner(format!("running workflow {workflow_id}"));
                let waited = workflows
                    .run_and_wait(
                        &workflow_id,
                        run,
                        WaitOptions {
                            poll_interval: Duration::from_millis(500),
                            timeout: Duration::from_secs(timeout_secs),
                        },
                    )
                    .await;
                bar.finish_and_clear();
                let done = waited?;
                serde_json::to_value(&done).context("the run's answer")?
            } else {
                let started = workflows.runs().create(&workflow_id, &run).await?;
                started["run"].clone()
            };
            if json {
                output::print_json(&finished)?;
            } else {
                output::print(&run_text(&finished))?;
            }
            if wait {
                return Ok(exit_for(&finished));
            }
        }
        WorkflowsCommand::Inspect {
            workflow_id,
            run_id,
        } => {
            let got = workflows.runs().get(&workflow_id, &run_id).await?;
            if json {
                output::print_json(&got)?;
            } else {
                output::print(&run_text(&got["run"]))?;
            }
        }
        WorkflowsCommand::Retry {
            workflow_id,
            run_id,
            step_id,
            all_failed,
        } => {
            let answer = match step_id.filter(|_| !all_failed) {
                Some(step) => {
                    workflows
                        .runs()
                        .retry_step(&workflow_id, &run_id, &step, None)
                        .await?
                }
                None => workflows.runs().rerun_failed(&workflow_id, &run_id).await?,
            };
            if json {
                output::print_json(&answer)?;
            } else {
                output::print(&run_text(&answer["run"]))?;
            }
        }
        WorkflowsCommand::Cancel {
            workflow_id,
            run_id,
        } => {
            let answer = workflows.runs().cancel(&workflow_id, &run_id).await?;
            if json {
                output::print_json(&answer)?;
            } else {
                output::print(&run_text(&answer["run"]))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
