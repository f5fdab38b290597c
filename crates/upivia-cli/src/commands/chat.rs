//! `upivia chat`: one chat turn with an agent, streamed in the terminal
//! (PAT). The reply's text goes to stdout as it arrives; tool calls and
//! pauses are reported on stderr; `--json` prints every event as one JSON
//! line instead.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use upivia::models::{ChatTurn, CreateChatSession};

use super::client::ClientArgs;

/// One turn with an agent (a new or reused session, or `--session`).
///
/// Exit code 0: the turn finished or paused; 1: it reported an error;
/// 2: it could not start.
#[derive(Args, Debug)]
pub struct ChatArgs {
    /// What to say (empty when resuming).
    #[arg(default_value = "")]
    pub message: String,
    /// The agent to talk to (opens a session, or reuses your open empty
    /// one with it).
    #[arg(long, required_unless_present = "session")]
    pub agent: Option<String>,
    /// Continue this session.
    #[arg(long, conflicts_with = "agent")]
    pub session: Option<String>,
    /// Resume a turn paused for this request's approval.
    #[arg(long, requires = "session")]
    pub resume: Option<String>,
    /// With --resume: approve the request first (admins).
    #[arg(long, requires = "resume", conflicts_with = "reject")]
    pub approve: bool,
    /// With --resume: reject the request first (admins).
    #[arg(long, requires = "resume")]
    pub reject: bool,
    /// Park every tool call of this turn for a human's approval.
    #[arg(long)]
    pub require_approval_all: bool,
    /// Extra instructions for this turn.
    #[arg(long)]
    pub instructions: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub async fn run(args: ChatArgs) -> anyhow::Result<ExitCode> {
    args.client.require_pat()?;
    let client = args.client.client()?;
    let json_lines = args.client.json;
    let session_id = match (&args.session, &args.agent) {
        (Some(id), _) => id.clone(),
        (None, Some(agent)) => {
            let opened = client
                .chat()
                .sessions()
                .create(
                    CreateChatSession::default()
                        .with_agent_id(agent)
                        .with_title("upivia chat"),
                )
                .await
                .context("could not open a chat session")?;
            opened["id"]
                .as_str()
                .context("the session has no id")?
                .to_owned()
        }
        (None, None) => anyhow::bail!("pass --agent or --session"),
    };
    let mut turn = ChatTurn::new(&session_id).with_require_approval_all(args.require_approval_all);
    if !args.message.is_empty() {
        turn = turn.with_message(&args.message);
    }
    if let Some(extra) = &args.instructions {
        turn = turn.with_instructions(extra);
    }
    if let Some(request_id) = &args.resume {
        let mut from = json!({ "request_id": request_id });
        if args.approve {
            from["action"] = json!("approve");
        } else if args.reject {
            from["action"] = json!("reject");
        }
        turn = turn.with_continue_from(from);
    } else if args.message.trim().is_empty() {
        anyhow::bail!("say something, or pass --resume to continue a paused turn");
    }
    if !json_lines {
        eprintln!("session {session_id}");
    }
    let mut stream = client
        .chat()
        .turn(turn)
        .await
        .context("the turn did not start")?;
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    while let Some(event) = stream.next().await {
        let event = event.context("the stream broke off")?;
        if json_lines {
            writeln!(
                stdout,
                "{}",
                json!({"event": event.event, "data": event.data})
            )?;
            failed |= event.event == "error";
            continue;
        }
        let data = &event.data;
        match event.event.as_str() {
            "message_delta" => {
                write!(stdout, "{}", text(&data["delta"]))?;
                stdout.flush()?;
            }
            "message" => writeln!(stdout)?,
            "tool_planned" => eprintln!("→ {}", text(&data["tool_name"])),
            "tool_done" => eprintln!(
                "← {}: {} {}",
                text(&data["tool_name"]),
                text(&data["status"]),
                text(&data["request_id"])
            ),
            "tool_pending" => eprintln!(
                "⏸ {} needs approval ({}); then: upivia chat --session {session_id} --resume {}",
                text(&data["tool_name"]),
                text(&data["approval_id"]),
                text(&data["request_id"])
            ),
            "local_tools_pending" => {
                eprintln!("⏸ the model asked for local tools, which this command does not run");
            }
            "error" => {
                failed = true;
                eprintln!("error: {}", text(&data["message"]));
            }
            "done" => {
                if let Some(balance) = data["balance_cents"].as_i64() {
                    eprintln!("balance: {}", super::output::dollars(balance));
                }
            }
            _ => {}
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
