//! `upivia inbox list|show|ask|resolve|reject`: the agent-requests inbox.
//! Humans (PAT) list and decide requests; an agent (API key) asks and
//! reads the answers to its own.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use upivia::models::{CreateAgentRequest, ListAgentRequests};

use super::client::ClientArgs;
use super::output::{self, Table};

/// Requests for human attention: list, show, ask, resolve, reject.
#[derive(Args, Debug)]
pub struct InboxArgs {
    #[command(subcommand)]
    pub command: InboxCommand,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum InboxCommand {
    /// Requests you can see (an agent key: the agent's own), newest first.
    List {
        /// pending (default), resolved, rejected or all.
        #[arg(long)]
        status: Option<String>,
        /// Only this request type.
        #[arg(long = "type")]
        kind: Option<String>,
    },
    /// One request, with its response once decided.
    Show {
        /// The request id (areq_…).
        request_id: String,
    },
    /// Ask for human attention (with an agent key: as that agent).
    Ask {
        /// clarification, budget_increase, plan_change, secret_needed,
        /// approval or blocked.
        request_type: String,
        /// What is needed.
        body: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        link: Option<String>,
        /// With a PAT: the agent the request is for.
        #[arg(long)]
        agent_id: Option<String>,
    },
    /// Resolve a pending request, with an optional response for the agent.
    Resolve {
        request_id: String,
        #[arg(long)]
        response: Option<String>,
    },
    /// Reject a pending request, with an optional response for the agent.
    Reject {
        request_id: String,
        #[arg(long)]
        response: Option<String>,
    },
}

pub async fn run(args: InboxArgs) -> anyhow::Result<ExitCode> {
    let as_agent = args
        .client
        .api_key
        .as_deref()
        .is_some_and(|k| !k.is_empty())
        && args.client.pat.as_deref().is_none_or(str::is_empty);
    if !as_agent {
        args.client.require_pat()?;
    }
    let client = args.client.client()?;
    let inbox = client.agent_requests();
    let answer = match args.command {
        InboxCommand::List { status, kind } => {
            let mut filter = ListAgentRequests::default();
            if let Some(status) = status {
                filter = filter.with_status(status);
            }
            if let Some(kind) = kind {
                filter = filter.with_type(kind);
            }
            let listed = if as_agent {
                inbox.list_as_agent(filter).await?
            } else {
                inbox.list(filter).await?
            };
            if !args.client.json {
                let rows = listed["requests"].as_array().cloned().unwrap_or_default();
                if rows.is_empty() {
                    output::print("no requests")?;
                    return Ok(ExitCode::SUCCESS);
                }
                let mut table = Table::new(["REQUEST", "TYPE", "TITLE", "AGENT", "STATUS"]);
                for r in &rows {
                    table.row(vec![
                        output::text(&r["id"]),
                        output::text(&r["request_type"]),
                        output::text(&r["title"]),
                        output::text(&r["agent_name"]),
                        output::text(&r["status"]),
                    ]);
                }
                output::print(&table.render())?;
                return Ok(ExitCode::SUCCESS);
            }
            listed
        }
        InboxCommand::Show { request_id } => inbox.get(&request_id).await?,
        InboxCommand::Ask {
            request_type,
            body,
            title,
            link,
            agent_id,
        } => {
            let mut request = CreateAgentRequest::new(request_type, body);
            request.title = title;
            request.link = link;
            request.agent_id = agent_id;
            if as_agent {
                inbox.create_as_agent(request).await?
            } else {
                inbox.create(request).await?
            }
        }
        InboxCommand::Resolve {
            request_id,
            response,
        } => {
            inbox
                .decide(&request_id, "resolve", response.as_deref())
                .await?
        }
        InboxCommand::Reject {
            request_id,
            response,
        } => {
            inbox
                .decide(&request_id, "reject", response.as_deref())
                .await?
        }
    };
    if args.client.json {
        output::print_json(&answer)?;
    } else {
        let r = &answer["request"];
        output::print(&format!(
            "{} {} ({}){}",
            output::text(&r["id"]),
            output::text(&r["status"]),
            output::text(&r["request_type"]),
            r["response"]
                .as_str()
                .map(|t| format!(": {t}"))
                .unwrap_or_default()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
