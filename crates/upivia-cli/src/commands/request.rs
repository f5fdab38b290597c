//! `upivia request <service> <operation> --payload JSON`: one governed
//! service request, optionally followed to its final state (`--wait`);
//! `upivia request get <request_id>`: where one stands now.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use upivia::WaitOptions;
use upivia::models::{CreateServiceRequest, ServiceRequestOutcome};

use super::client::ClientArgs;
use super::{output, progress};

/// Submit a governed service request as an agent (needs --api-key), or
/// read one back with `get`.
///
/// Exit code 0 when the request executed, is running or awaits approval;
/// 1 when it was blocked or failed; 2 on an error.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RequestArgs {
    #[command(subcommand)]
    pub command: Option<RequestCommand>,
    /// Catalog service id, e.g. `email`.
    #[arg(required = true)]
    pub service: Option<String>,
    /// Operation within the service, e.g. `send`.
    #[arg(required = true)]
    pub operation: Option<String>,
    /// The operation's input, a JSON object.
    #[arg(long, default_value = "{}")]
    pub payload: String,
    /// Free-form metadata, a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Idempotency key; a repeat with the same key replays the first answer.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Follow the request to its final state: through a human's approval
    /// when it needs one, and while a running request completes.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Subcommand, Debug)]
pub enum RequestCommand {
    /// One of the agent's requests as it stands now (the agent's key:
    /// agents see only their own), with the same exit codes.
    Get {
        /// The request id (req_…, or rfs_… for a refusal).
        request_id: String,
    },
}

/// A flag's value, which must be a JSON object.
pub(super) fn json_object(flag: &str, raw: &str) -> anyhow::Result<Value> {
    let value: Value =
        serde_json::from_str(raw).with_context(|| format!("{flag} is not valid JSON"))?;
    anyhow::ensure!(value.is_object(), "{flag} must be a JSON object");
    Ok(value)
}

/// A spinner on stderr (drawn only when stderr is a terminal).
pub(super) fn spinner(message: String) -> ProgressBar {
    let bar = progress::shown(ProgressBar::new_spinner());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

pub async fn run(args: RequestArgs) -> anyhow::Result<ExitCode> {
    args.client.require_api_key()?;
    if let Some(RequestCommand::Get { request_id }) = &args.command {
        let client = args.client.client()?;
        let outcome = client
            .service_requests()
            .get(request_id)
            .await
            .with_context(|| format!("could not read {request_id}"))?;
        return output::report_outcome(&outcome, args.client.json);
    }
    let (Some(service), Some(operation)) = (&args.service, &args.operation) else {
        anyhow::bail!("name the service and the operation: upivia request <service> <operation>");
    };
    let mut request =
        CreateServiceRequest::new(service, operation, json_object("--payload", &args.payload)?);
    if let Some(raw) = &args.metadata {
        request = request.with_metadata(json_object("--metadata", raw)?);
    }
    if let Some(key) = &args.idempotency_key {
        request = request.with_idempotency_key(key);
    }
    let client = args.client.client()?;
    let requests = client.service_requests();
    let name = format!("{service}.{operation}");
    let bar = spinner(if args.wait {
        format!("{name}: waiting for the final state")
    } else {
        format!("{name}: submitting")
    });
    let result = if args.wait {
        let wait = WaitOptions::default()
            .with_poll_interval(Duration::from_millis(500))
            .with_timeout(Duration::from_secs(args.timeout_secs));
        requests.create_and_wait(request, wait).await
    } else {
        requests.create(request).await
    };
    bar.finish_and_clear();
    let mut outcome = result.with_context(|| format!("{name} failed"))?;
    if args.wait
        && let ServiceRequestOutcome::ApprovalRequired(gate) = &outcome
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout_secs);
        let request_id = outcome
            .request_id()
            .context("an approval_required answer without a request_id")?
            .to_owned();
        let bar = spinner(format!(
            "{name}: waiting for a human to decide {} (upivia approvals approve {0})",
            gate.approval_id
        ));
        let decided = await_decision(&requests, &request_id, deadline).await;
        bar.finish_and_clear();
        outcome = decided?;
    }
    output::report_outcome(&outcome, args.client.json)
}

/// Polls until the request leaves `approval_required` (and, once approved,
/// `running`), or the deadline passes.
async fn await_decision(
    requests: &upivia::resources::ServiceRequests<'_>,
    request_id: &str,
    deadline: std::time::Instant,
) -> anyhow::Result<ServiceRequestOutcome> {
    let mut interval = Duration::from_millis(500);
    loop {
        let now = requests.get(request_id).await?;
        let settled = !matches!(
            now,
            ServiceRequestOutcome::ApprovalRequired(_) | ServiceRequestOutcome::Running(_)
        );
        if settled {
            return Ok(now);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{request_id} is still {} after --timeout-secs",
            now.status().unwrap_or("pending")
        );
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(5));
    }
}
