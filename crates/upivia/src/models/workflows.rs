//! Workflow runs (API.md §2.9).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Cents, JsonMap};

/// Body of `POST /api/v1/workflows/{workflow_id}/runs`. Unset fields go out
/// as `null`, like the reference SDK's `run_and_wait`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunWorkflow {
    /// The version to run; `run_and_wait` picks the published one when unset.
    #[serde(default)]
    pub workflow_version_id: Option<String>,
    /// Run input (an object; `{}` when unset).
    #[serde(default)]
    pub input: Value,
    /// Budget for the run, or `null`.
    #[serde(default)]
    pub budget_cents: Option<Cents>,
    /// Required to run a draft version.
    #[serde(default)]
    pub test_run: Option<bool>,
}

impl RunWorkflow {
    /// A run with input `{}`.
    pub fn new() -> Self {
        RunWorkflow {
            workflow_version_id: None,
            input: Value::Object(JsonMap::new()),
            budget_cents: None,
            test_run: None,
        }
    }
    /// Sets `workflow_version_id`.
    pub fn with_version_id(mut self, version_id: impl Into<String>) -> Self {
        self.workflow_version_id = Some(version_id.into());
        self
    }
    /// Sets `input`.
    pub fn with_input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }
    /// Sets `budget_cents`.
    pub fn with_budget_cents(mut self, budget: Cents) -> Self {
        self.budget_cents = Some(budget);
        self
    }
    /// Sets `test_run` (needed for draft versions).
    pub fn with_test_run(mut self, test_run: bool) -> Self {
        self.test_run = Some(test_run);
        self
    }
}

impl Default for RunWorkflow {
    fn default() -> Self {
        RunWorkflow::new()
    }
}

/// A workflow run (`run` in the run replies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// Run id.
    pub id: String,
    /// `pending`, `running`, `waiting_approval`, `completed`, `failed` or
    /// `cancelled`.
    #[serde(default)]
    pub status: String,
    /// Error text of a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Step records (`{step_id, label, step_type, status, error}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Value>>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl WorkflowRun {
    /// `completed`, `failed` and `cancelled` are terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }
}
