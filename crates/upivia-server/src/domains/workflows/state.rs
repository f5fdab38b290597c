//! A run's step states (stored as one JSON list on the run) and the pure
//! rules that move them: which steps are ready, what a condition decides,
//! what the run's status is. No I/O here; `runner.rs` does that.
//!
//! A step is `pending` until every step it waits for is `completed` (or
//! skipped by a person); then a condition is decided at once, an approval
//! opens a gate (`waiting_approval`), a service request is sent
//! (`running`, then `completed`, `failed` or `waiting_approval` while its
//! own approval gate is open), a human-input step asks a person
//! (`waiting_input` until answered, then `completed` with the answer as
//! its result). A run with a step waiting on a person, either way, is
//! `waiting_approval`. A false condition skips what follows it
//! (`skipped`, reason `condition`). The run fails when a step failed and
//! nothing else can proceed; it completes when every step is completed or
//! skipped.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{Definition, StepKind};
use crate::store::RunStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    WaitingApproval,
    /// A human-input step waiting for its answer.
    WaitingInput,
    Completed,
    Failed,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::WaitingApproval => "waiting_approval",
            StepStatus::WaitingInput => "waiting_input",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub step_id: String,
    pub label: String,
    pub step_type: String,
    pub status: StepStatus,
    /// 1 for the first try; a retry adds one (and a new idempotency key).
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The service request of this attempt, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// An approval step's gate in the approvals inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_id: Option<String>,
    /// A human-input step's request (`hin_…`), once asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_input_id: Option<String>,
    /// `condition` (a false condition upstream) or `manual` (a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl StepState {
    pub fn is_done(&self) -> bool {
        matches!(self.status, StepStatus::Completed | StepStatus::Skipped)
    }
}

/// The initial states: every step pending, first attempt.
pub fn initial(def: &Definition) -> Vec<StepState> {
    def.steps
        .iter()
        .map(|s| StepState {
            step_id: s.id.clone(),
            label: s.label.clone(),
            step_type: s.kind.type_name().to_owned(),
            status: StepStatus::Pending,
            attempt: 1,
            result: None,
            error: None,
            request_id: None,
            gate_id: None,
            human_input_id: None,
            skip_reason: None,
            decided_by: None,
            started_at: None,
            finished_at: None,
        })
        .collect()
}

pub fn parse(raw: &Value) -> Result<Vec<StepState>, serde_json::Error> {
    serde_json::from_value(raw.clone())
}

pub fn to_value(steps: &[StepState]) -> Value {
    serde_json::to_value(steps).unwrap_or_else(|_| json!([]))
}

pub fn find<'s>(steps: &'s [StepState], id: &str) -> Option<&'s StepState> {
    steps.iter().find(|s| s.step_id == id)
}

pub fn find_mut<'s>(steps: &'s mut [StepState], id: &str) -> Option<&'s mut StepState> {
    steps.iter_mut().find(|s| s.step_id == id)
}

/// What templates and conditions read: `{input, steps: {<id>: {result,
/// output, status}}}` (`output` is `result` by another name).
pub fn values(input: &Value, steps: &[StepState]) -> Value {
    let mut by_id = Map::new();
    for s in steps {
        by_id.insert(
            s.step_id.clone(),
            json!({
                "result": s.result.clone().unwrap_or(Value::Null),
                "output": s.result.clone().unwrap_or(Value::Null),
                "status": s.status.as_str(),
            }),
        );
    }
    json!({"input": input, "steps": by_id})
}

/// Whether what `id` waits for lets it run: `Some(true)` ready,
/// `Some(false)` to be skipped (a false condition or a condition-skip
/// upstream), `None` not yet (or never: something upstream failed).
fn readiness(def: &Definition, steps: &[StepState], id: &str) -> Option<bool> {
    let mut ready = true;
    for up in def.upstream_of(id) {
        let state = find(steps, up)?;
        match state.status {
            StepStatus::Completed => {
                let is_condition =
                    matches!(def.step(up).map(|s| &s.kind), Some(StepKind::Condition(_)));
                if is_condition
                    && state.result.as_ref().and_then(|r| r["value"].as_bool()) == Some(false)
                {
                    ready = false;
                }
            }
            StepStatus::Skipped if state.skip_reason.as_deref() == Some("condition") => {
                ready = false
            }
            StepStatus::Skipped => {}
            _ => return None,
        }
    }
    Some(ready)
}

/// What the runner should do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Send the step's service request (with its filled payload).
    Dispatch { step_id: String, payload: Value },
    /// Open the step's approval gate.
    OpenGate { step_id: String },
    /// Ask a person: the step's human-input request (`runner::ask_humans`).
    AskHuman { step_id: String },
}

/// Moves every step whose turn has come, deciding conditions and skips at
/// once (in `steps`), and returns the work that needs the outside world.
/// Steps already `running` without a request (a pass cut off before it
/// recorded what it sent) are sent again, under the same attempt's key.
pub fn plan(def: &Definition, input: &Value, steps: &mut [StepState], now: &str) -> Vec<Action> {
    let mut actions = Vec::new();
    loop {
        let mut moved = false;
        for step in &def.steps {
            let Some(state) = find(steps, &step.id) else {
                continue;
            };
            if state.status == StepStatus::Running && state.request_id.is_none() {
                if let StepKind::ServiceRequest { payload, .. } = &step.kind
                    && !actions.iter().any(
                        |a| matches!(a, Action::Dispatch { step_id, .. } if *step_id == step.id),
                    )
                {
                    let filled =
                        super::super::automation::template::fill(payload, &values(input, steps));
                    actions.push(Action::Dispatch {
                        step_id: step.id.clone(),
                        payload: filled,
                    });
                }
                continue;
            }
            if state.status != StepStatus::Pending {
                continue;
            }
            let Some(ready) = readiness(def, steps, &step.id) else {
                continue;
            };
            let vals = values(input, steps);
            let state = find_mut(steps, &step.id).expect("found above");
            if !ready {
                state.status = StepStatus::Skipped;
                state.skip_reason = Some("condition".into());
                state.finished_at = Some(now.to_owned());
                moved = true;
                continue;
            }
            state.started_at = Some(now.to_owned());
            match &step.kind {
                StepKind::Condition(c) => {
                    state.status = StepStatus::Completed;
                    state.result = Some(json!({"value": c.holds(&vals)}));
                    state.finished_at = Some(now.to_owned());
                    moved = true;
                }
                StepKind::Approval { .. } => {
                    state.status = StepStatus::WaitingApproval;
                    actions.push(Action::OpenGate {
                        step_id: step.id.clone(),
                    });
                }
                StepKind::HumanInput { .. } => {
                    state.status = StepStatus::WaitingInput;
                    actions.push(Action::AskHuman {
                        step_id: step.id.clone(),
                    });
                }
                StepKind::ServiceRequest { payload, .. } => {
                    state.status = StepStatus::Running;
                    actions.push(Action::Dispatch {
                        step_id: step.id.clone(),
                        payload: super::super::automation::template::fill(payload, &vals),
                    });
                }
            }
        }
        if !moved {
            return actions;
        }
    }
}

/// The run's status from its steps, and the error of a failed run.
pub fn run_status(def: &Definition, steps: &[StepState]) -> (RunStatus, Option<String>) {
    if steps.iter().all(StepState::is_done) {
        return (RunStatus::Completed, None);
    }
    let active =
        |s: &&StepState| matches!(s.status, StepStatus::Running | StepStatus::WaitingApproval);
    if steps
        .iter()
        .any(|s| active(&s) && s.status == StepStatus::Running)
    {
        return (RunStatus::Running, None);
    }
    if steps.iter().any(|s| {
        matches!(
            s.status,
            StepStatus::WaitingApproval | StepStatus::WaitingInput
        )
    }) {
        return (RunStatus::WaitingApproval, None);
    }
    // Only pending, failed and done steps remain: can a pending one still run?
    let can_proceed = steps
        .iter()
        .filter(|s| s.status == StepStatus::Pending)
        .any(|s| readiness(def, steps, &s.step_id).is_some());
    if can_proceed {
        return (RunStatus::Running, None);
    }
    let failed = steps.iter().find(|s| s.status == StepStatus::Failed);
    let error = failed.map(|s| {
        format!(
            "step {} failed: {}",
            s.step_id,
            s.error.as_deref().unwrap_or("no reason given")
        )
    });
    (RunStatus::Failed, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(v: Value) -> Definition {
        Definition::parse(&v).unwrap()
    }

    fn status(steps: &[StepState], id: &str) -> StepStatus {
        find(steps, id).unwrap().status
    }

    #[test]
    fn independent_branches_start_together_and_joins_wait() {
        let d = def(json!({"steps": [
            {"id": "a", "type": "service_request", "operation": "email.send", "payload": {"to": "{{input.to}}"}},
            {"id": "b", "type": "service_request", "operation": "email.send"},
            {"id": "join", "type": "service_request", "operation": "email.send",
             "payload": {"body": "{{steps.a.result.id}}"}}
        ], "edges": [{"from": "a", "to": "join"}, {"from": "b", "to": "join"}]}));
        let mut steps = initial(&d);
        let actions = plan(&d, &json!({"to": "x@example.com"}), &mut steps, "t0");
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert_eq!(
            actions[0],
            Action::Dispatch {
                step_id: "a".into(),
                payload: json!({"to": "x@example.com"})
            }
        );
        assert_eq!(status(&steps, "join"), StepStatus::Pending);
        // Planning again sends nothing twice while they are in flight.
        for s in steps.iter_mut().filter(|s| s.step_id != "join") {
            s.request_id = Some(format!("req_{}", s.step_id));
        }
        assert!(plan(&d, &json!({}), &mut steps, "t1").is_empty());
        for s in steps.iter_mut().filter(|s| s.step_id != "join") {
            s.status = StepStatus::Completed;
            s.result = Some(json!({"id": format!("m-{}", s.step_id)}));
        }
        let actions = plan(&d, &json!({}), &mut steps, "t2");
        assert_eq!(
            actions,
            [Action::Dispatch {
                step_id: "join".into(),
                payload: json!({"body": "m-a"})
            }]
        );
    }

    #[test]
    fn a_false_condition_skips_its_branch_and_the_run_completes() {
        let d = def(json!({"steps": [
            {"id": "c", "type": "condition", "if": {"path": "input.severity", "equals": "critical"}},
            {"id": "page", "type": "service_request", "operation": "email.send"},
            {"id": "after", "type": "approval"}
        ], "edges": [{"from": "c", "to": "page"}, {"from": "page", "to": "after"}]}));
        let mut steps = initial(&d);
        assert!(plan(&d, &json!({"severity": "low"}), &mut steps, "t").is_empty());
        assert_eq!(status(&steps, "page"), StepStatus::Skipped);
        assert_eq!(status(&steps, "after"), StepStatus::Skipped);
        assert_eq!(run_status(&d, &steps).0, RunStatus::Completed);

        let mut steps = initial(&d);
        let actions = plan(&d, &json!({"severity": "critical"}), &mut steps, "t");
        assert_eq!(actions.len(), 1);
        assert_eq!(run_status(&d, &steps).0, RunStatus::Running);
    }

    #[test]
    fn a_failure_fails_the_run_only_when_nothing_else_can_proceed() {
        let d = def(json!({"steps": [
            {"id": "a", "type": "service_request", "operation": "email.send"},
            {"id": "b", "type": "approval"},
            {"id": "after_a", "type": "approval"}
        ], "edges": [{"from": "a", "to": "after_a"}]}));
        let mut steps = initial(&d);
        plan(&d, &json!({}), &mut steps, "t");
        find_mut(&mut steps, "a").unwrap().status = StepStatus::Failed;
        find_mut(&mut steps, "a").unwrap().error = Some("blocked: budget_exceeded".into());
        assert_eq!(
            run_status(&d, &steps).0,
            RunStatus::WaitingApproval,
            "b still waits"
        );
        find_mut(&mut steps, "b").unwrap().status = StepStatus::Completed;
        let (status, error) = run_status(&d, &steps);
        assert_eq!(status, RunStatus::Failed);
        assert!(error.unwrap().contains("step a failed: blocked"));
        // A manual skip of the failed step lets what follows it run.
        let a = find_mut(&mut steps, "a").unwrap();
        a.status = StepStatus::Skipped;
        a.skip_reason = Some("manual".into());
        let actions = plan(&d, &json!({}), &mut steps, "t");
        assert_eq!(
            actions,
            [Action::OpenGate {
                step_id: "after_a".into()
            }]
        );
    }

    #[test]
    fn a_human_input_step_waits_for_its_answer_which_later_steps_read_as_output() {
        let d = def(json!({"steps": [
            {"id": "ask", "type": "human_input", "prompt": "Notes?"},
            {"id": "mail", "type": "service_request", "operation": "email.send",
             "payload": {"body": "{{steps.ask.output.text}}"}}
        ], "edges": [{"from": "ask", "to": "mail"}]}));
        let mut steps = initial(&d);
        let actions = plan(&d, &json!({}), &mut steps, "t");
        assert_eq!(
            actions,
            [Action::AskHuman {
                step_id: "ask".into()
            }]
        );
        assert_eq!(status(&steps, "ask"), StepStatus::WaitingInput);
        assert_eq!(run_status(&d, &steps).0, RunStatus::WaitingApproval);
        assert!(
            plan(&d, &json!({}), &mut steps, "t").is_empty(),
            "asked once"
        );
        let ask = find_mut(&mut steps, "ask").unwrap();
        ask.status = StepStatus::Completed;
        ask.result = Some(json!({"text": "ship it", "answered_by": "a@example.com"}));
        assert_eq!(
            plan(&d, &json!({}), &mut steps, "t"),
            [Action::Dispatch {
                step_id: "mail".into(),
                payload: json!({"body": "ship it"})
            }]
        );
    }

    #[test]
    fn a_step_cut_off_after_it_was_marked_running_is_sent_again() {
        let d = def(
            json!({"steps": [{"id": "a", "type": "service_request", "operation": "email.send"}]}),
        );
        let mut steps = initial(&d);
        assert_eq!(plan(&d, &json!({}), &mut steps, "t").len(), 1);
        // Saved as running, nothing recorded after: the next plan resends.
        assert_eq!(plan(&d, &json!({}), &mut steps, "t").len(), 1);
        assert_eq!(
            find(&steps, "a").unwrap().attempt,
            1,
            "the same attempt, the same key"
        );
    }
}
