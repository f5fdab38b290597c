//! The durable runner. A run advances on whichever node takes its lease
//! (a conditional update; a crashed node's lease runs out): it reads the
//! run, lets `state::plan` move what can move, saves that (compare-and-set
//! on the run's revision) *before* sending anything, sends the service
//! requests of ready steps in parallel, each under the idempotency key
//! `workflow-step:<run>:<step>:<attempt>`, and saves what they came to.
//! A crash between the two saves leaves steps `running` with no request
//! recorded; the next pass sends them again under the same key, so a
//! request that got through is replayed, not made twice. Completed steps
//! are never sent again; a retry is a new attempt of one step only.
//!
//! A request a crash interrupted before it reached its provider (reason
//! `interrupted`: it did not happen) gives its step a new attempt, up to
//! three times, so a restarted server carries the run on by itself.
//!
//! Steps waiting on something outside (an asynchronous provider, the
//! approval gate of their own request, a person's answer to a human-input
//! step) are polled on every pass.
//!
//! A human-input step is saved `waiting_input` first, then its request is
//! asked under the key `workflow:<run>:<step>:<attempt>` (`ask_humans`):
//! the store makes one row per key, so a pass cut off between the two, a
//! retried pass or two nodes make one request. Each pass reads the row by
//! that key (asking again if it is missing) and completes the step with
//! `{text, answered_by}` once it is answered.

use futures::future::join_all;
use serde_json::{Value, json};
use time::Duration;

use super::definition::{Definition, StepKind};
use super::state::{self, Action, StepState, StepStatus};
use crate::clock::rfc3339;
use crate::domains::DomainError;
use crate::domains::automation::dispatch::{self, Dispatch, Dispatched};
use crate::domains::automation::template;
use crate::domains::human_input::service as human_input;
use crate::governance::trail;
use crate::ids::{AgentId, OrgId, RequestId};
use crate::model::{AuditEvent, RequestStatus};
use crate::platform::Platform;
use crate::store::{HumanInputStatus, SaveRun, StoreError, WorkflowRun};

/// The metadata keys of a step's service request.
pub const RUN_KEY: &str = "workflow_run_id";
pub const STEP_KEY: &str = "workflow_step_id";

/// How many plan-send-record rounds one pass makes before it lets others in.
const ROUNDS: usize = 20;
const BATCH: u32 = 50;

/// The gate id of an approval step: the run and the step, so a decision
/// finds its run without a lookup table.
pub fn gate_id(run_id: &str, step_id: &str) -> String {
    format!("wfg_{}.{step_id}", run_id.trim_start_matches("wfr_"))
}

/// `(run_id, step_id)` of a gate id.
pub fn parse_gate(gate: &str) -> Option<(String, String)> {
    let rest = gate.strip_prefix("wfg_")?;
    let (run, step) = rest.split_once('.')?;
    (!run.is_empty() && !step.is_empty()).then(|| (format!("wfr_{run}"), step.to_owned()))
}

fn lease_for(platform: &Platform) -> Duration {
    Duration::try_from(platform.settings.provider_timeout).unwrap_or(Duration::seconds(30))
        + Duration::seconds(30)
}

/// One pass over the runs that need one; returns how many were advanced.
pub async fn run_due(platform: &Platform) -> Result<usize, StoreError> {
    let due = platform
        .stores
        .workflows
        .runs_to_advance(platform.clock.now(), BATCH)
        .await?;
    let passes = due.iter().map(|r| advance(platform, &r.id));
    let mut advanced = 0;
    for result in join_all(passes).await {
        if result? {
            advanced += 1;
        }
    }
    Ok(advanced)
}

/// Advances the run in the background (after a change a person made).
pub fn kick(platform: &Platform, run_id: &str) {
    let (platform, run_id) = (platform.clone(), run_id.to_owned());
    tokio::spawn(async move {
        if let Err(e) = advance(&platform, &run_id).await {
            tracing::warn!(run_id, error = %e, "advancing a workflow run failed");
        }
    });
}

/// Advances one run as far as it goes now; `false` when another pass
/// holds it.
pub async fn advance(platform: &Platform, run_id: &str) -> Result<bool, StoreError> {
    let store = platform.stores.workflows.as_ref();
    let now = platform.clock.now();
    if !store
        .lease_run(run_id, now, now + lease_for(platform))
        .await?
    {
        return Ok(false);
    }
    let outcome = rounds(platform, run_id).await;
    if let Err(e) = store.release_run(run_id).await {
        tracing::warn!(run_id, error = %e, "could not release a workflow run's lease");
    }
    outcome.map(|()| true)
}

async fn rounds(platform: &Platform, run_id: &str) -> Result<(), StoreError> {
    for _ in 0..ROUNDS {
        let Some(run) = platform.stores.workflows.run_by_id(run_id).await? else {
            return Ok(());
        };
        if run.status.is_terminal() {
            return Ok(());
        }
        let def = definition(platform, &run).await?;
        let mut steps = state::parse(&run.steps)
            .map_err(|e| StoreError::Corrupt(format!("steps of run {run_id}: {e}")))?;
        let before = steps.clone();
        let now = rfc3339(platform.clock.now());
        poll(platform, &mut steps, &now).await?;
        ask_humans(platform, &run, &def, &mut steps, &now).await?;
        let actions = state::plan(&def, &run.input, &mut steps, &now);
        let asks = actions.iter().any(|a| matches!(a, Action::AskHuman { .. }));
        for action in &actions {
            if let Action::OpenGate { step_id } = action
                && let Some(s) = state::find_mut(&mut steps, step_id)
            {
                s.gate_id = Some(gate_id(&run.id, step_id));
            }
        }
        let saved = if steps != before || run_status_changes(&def, &run, &steps) {
            match save(platform, &run, &def, steps.clone(), Vec::new()).await {
                Ok(saved) => saved,
                // Someone changed the run meanwhile: read it again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        } else {
            run
        };
        let sends: Vec<(String, Value)> = actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Dispatch { step_id, payload } => Some((step_id, payload)),
                Action::OpenGate { .. } | Action::AskHuman { .. } => None,
            })
            .collect();
        if sends.is_empty() {
            if asks {
                // Saved as waiting: the next round asks and records it.
                continue;
            }
            return Ok(());
        }
        let results = join_all(sends.iter().map(|(step_id, payload)| {
            send(platform, &saved, &def, &steps, step_id, payload.clone())
        }))
        .await;
        let mut outcomes = Vec::new();
        for ((step_id, _), result) in sends.into_iter().zip(results) {
            outcomes.push((step_id, result?));
        }
        record(platform, run_id, outcomes).await?;
    }
    Ok(())
}

fn run_status_changes(def: &Definition, run: &WorkflowRun, steps: &[StepState]) -> bool {
    state::run_status(def, steps).0 != run.status
}

async fn definition(platform: &Platform, run: &WorkflowRun) -> Result<Definition, StoreError> {
    let version = platform
        .stores
        .workflows
        .version(&OrgId::from(&run.org_id), &run.version_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("run {} has no version", run.id)))?;
    Definition::parse(&version.definition)
        .map_err(|e| StoreError::Corrupt(format!("version {}: {e}", version.id)))
}

/// Saves `steps` with the run status they imply.
async fn save(
    platform: &Platform,
    run: &WorkflowRun,
    def: &Definition,
    steps: Vec<StepState>,
    mut audit: Vec<AuditEvent>,
) -> Result<WorkflowRun, StoreError> {
    let (status, error) = state::run_status(def, &steps);
    let now = platform.clock.now();
    let mut next = run.clone();
    next.steps = state::to_value(&steps);
    if status != run.status {
        next.status = status;
        next.error = error;
        if status.is_terminal() {
            next.finished_at = Some(now);
            audit.push(
                AuditEvent::new(
                    &run.org_id,
                    &format!("workflow.run_{}", status.as_str()),
                    format!("workflow_run:{}", run.id),
                )
                .with_agent(&run.agent_id)
                .with_details(json!({
                    "workflow_id": run.workflow_id,
                    "run_id": run.id,
                    "version_id": run.version_id,
                    "error": next.error,
                })),
            );
        }
    }
    platform
        .stores
        .workflows
        .save_run(SaveRun {
            expected_revision: run.revision,
            run: next,
            now,
            audit,
        })
        .await
}

/// Reads the requests of steps waiting on one and moves them.
async fn poll(platform: &Platform, steps: &mut [StepState], now: &str) -> Result<(), StoreError> {
    for s in steps.iter_mut() {
        let waiting = matches!(s.status, StepStatus::Running | StepStatus::WaitingApproval);
        let Some(request_id) = s.request_id.clone().filter(|_| waiting) else {
            continue;
        };
        if !request_id.starts_with("req_") {
            continue;
        }
        let Some(request) = platform
            .stores
            .governance
            .request(&RequestId::from(&request_id))
            .await?
        else {
            continue;
        };
        match request.status {
            RequestStatus::Executed => {
                s.status = StepStatus::Completed;
                s.result = request.result.clone();
                s.finished_at = Some(now.to_owned());
            }
            RequestStatus::Blocked | RequestStatus::Failed
                if retry_interrupted(s, request.reason_code.map(|r| r.as_str())) => {}
            RequestStatus::Blocked | RequestStatus::Failed => {
                s.status = StepStatus::Failed;
                s.error = Some(format!(
                    "{}: {}",
                    request.reason_code.map_or("failed", |r| r.as_str()),
                    request
                        .message
                        .as_deref()
                        .unwrap_or("the request did not run")
                ));
                s.finished_at = Some(now.to_owned());
            }
            RequestStatus::AwaitingApproval => s.status = StepStatus::WaitingApproval,
            RequestStatus::Executing | RequestStatus::Running => s.status = StepStatus::Running,
        }
    }
    Ok(())
}

/// The key a human-input step's request is asked under.
pub fn human_input_key(run_id: &str, step_id: &str, attempt: u32) -> String {
    format!("workflow:{run_id}:{step_id}:{attempt}")
}

/// For each step waiting for a person: its request (asked if it is not
/// there yet, idempotently), and the answer once there is one.
async fn ask_humans(
    platform: &Platform,
    run: &WorkflowRun,
    def: &Definition,
    steps: &mut [StepState],
    now: &str,
) -> Result<(), StoreError> {
    let waiting: Vec<String> = steps
        .iter()
        .filter(|s| s.status == StepStatus::WaitingInput)
        .map(|s| s.step_id.clone())
        .collect();
    for step_id in waiting {
        let Some(StepKind::HumanInput {
            prompt,
            title,
            assignee_email,
        }) = def.step(&step_id).map(|s| &s.kind)
        else {
            continue;
        };
        let attempt = state::find(steps, &step_id).map_or(1, |s| s.attempt);
        let key = human_input_key(&run.id, &step_id, attempt);
        let row = match platform.stores.human_input.human_input_by_key(&key).await? {
            Some(row) => row,
            None => {
                let values = state::values(&run.input, steps);
                let fill = |t: &str| match template::fill(&json!(t), &values) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let workflow_name = platform
                    .stores
                    .workflows
                    .workflow(&OrgId::from(&run.org_id), &run.workflow_id)
                    .await?
                    .map(|w| w.name);
                human_input::ask(
                    platform,
                    human_input::Ask {
                        org_id: OrgId::from(&run.org_id),
                        title: fill(title),
                        prompt_text: fill(prompt),
                        assignee_email: assignee_email.clone(),
                        source: human_input::Source::Workflow {
                            workflow_id: run.workflow_id.clone(),
                            workflow_name,
                            run_id: run.id.clone(),
                            step_id: step_id.clone(),
                            agent_id: run.agent_id.clone(),
                        },
                        dedupe_key: Some(key),
                        actor: format!("workflow_run:{}", run.id),
                    },
                )
                .await
                .map_err(|e| match e {
                    DomainError::Store(e) => e,
                    other => StoreError::Corrupt(format!("asking a person: {other}")),
                })?
            }
        };
        let s = state::find_mut(steps, &step_id).expect("collected above");
        s.human_input_id = Some(row.id.clone());
        match row.status {
            HumanInputStatus::Pending => {}
            HumanInputStatus::Answered => {
                s.status = StepStatus::Completed;
                s.result = Some(json!({
                    "text": row.answer_text,
                    "answered_by": row.answered_by_email,
                }));
                s.decided_by = row.answered_by_user_id.as_deref().map(trail::user_actor);
                s.finished_at = Some(now.to_owned());
            }
            HumanInputStatus::Cancelled => {
                s.status = StepStatus::Failed;
                s.error = Some("the human input request was cancelled".into());
                s.finished_at = Some(now.to_owned());
            }
        }
    }
    Ok(())
}

async fn send(
    platform: &Platform,
    run: &WorkflowRun,
    def: &Definition,
    steps: &[StepState],
    step_id: &str,
    payload: Value,
) -> Result<Dispatched, StoreError> {
    let Some(StepKind::ServiceRequest {
        service, operation, ..
    }) = def.step(step_id).map(|s| &s.kind)
    else {
        return Err(StoreError::Corrupt(format!(
            "{step_id} is not a service step"
        )));
    };
    let attempt = state::find(steps, step_id).map_or(1, |s| s.attempt);
    dispatch::dispatch(
        platform,
        Dispatch {
            org_id: OrgId::from(&run.org_id),
            agent_id: AgentId::from(&run.agent_id),
            service: service.clone(),
            operation: operation.clone(),
            payload,
            idempotency_key: Some(format!("workflow-step:{}:{step_id}:{attempt}", run.id)),
            metadata: json!({
                RUN_KEY: run.id,
                STEP_KEY: step_id,
                "workflow_id": run.workflow_id,
                "attempt": attempt,
            }),
        },
    )
    .await
}

/// Writes what the sends came to, on the run as it is now (a person may
/// have changed it meanwhile: a step no longer awaiting its send keeps
/// what they made of it).
async fn record(
    platform: &Platform,
    run_id: &str,
    outcomes: Vec<(String, Dispatched)>,
) -> Result<(), StoreError> {
    for _ in 0..5 {
        let Some(run) = platform.stores.workflows.run_by_id(run_id).await? else {
            return Ok(());
        };
        let def = definition(platform, &run).await?;
        let mut steps = state::parse(&run.steps)
            .map_err(|e| StoreError::Corrupt(format!("steps of run {run_id}: {e}")))?;
        let now = rfc3339(platform.clock.now());
        for (step_id, d) in &outcomes {
            let Some(s) = state::find_mut(&mut steps, step_id) else {
                continue;
            };
            if s.status != StepStatus::Running || s.request_id.is_some() {
                continue;
            }
            apply(s, d, &now);
        }
        match save(platform, &run, &def, steps, Vec::new()).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "run {run_id} kept changing while its results were recorded"
    )))
}

/// How many times a step whose request a crash interrupted before it
/// reached its provider is tried again by itself.
const INTERRUPTED_RETRIES: u32 = 3;

/// A request cut off by a crash before it reached its provider did not
/// happen: the step gets a new attempt (a new key) instead of failing.
fn retry_interrupted(s: &mut StepState, reason: Option<&str>) -> bool {
    if reason != Some("interrupted") || s.attempt > INTERRUPTED_RETRIES {
        return false;
    }
    s.status = StepStatus::Pending;
    s.attempt += 1;
    s.request_id = None;
    s.started_at = None;
    true
}

fn apply(s: &mut StepState, d: &Dispatched, now: &str) {
    s.request_id = d.request_id.clone();
    if retry_interrupted(s, d.reason_code.as_deref()) {
        return;
    }
    match d.status.as_str() {
        "executed" => {
            s.status = StepStatus::Completed;
            s.result = d.result.clone().or(Some(json!({})));
            s.finished_at = Some(now.to_owned());
        }
        "approval_required" => s.status = StepStatus::WaitingApproval,
        // In flight: polled while it runs (with no request id, e.g. the
        // same key still being processed elsewhere, it is sent again).
        "running" => s.status = StepStatus::Running,
        _ => {
            s.status = StepStatus::Failed;
            s.error = Some(format!(
                "{} {}: {}",
                d.status,
                d.reason_code.as_deref().unwrap_or("failed"),
                d.message.as_deref().unwrap_or("the request did not run")
            ));
            s.finished_at = Some(now.to_owned());
        }
    }
}
