//! Delegated tasks: request body and filters (API.md §2.7).

use serde::{Deserialize, Serialize};

use super::Cents;

/// Body of `POST /api/v1/agents/{agent_id}/delegated-tasks`. Unset optional
/// fields go out as `null`, like the reference SDK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateDelegatedTask {
    /// The child agent, or `null`.
    #[serde(default)]
    pub child_agent_id: Option<String>,
    /// What the child should achieve.
    pub objective: String,
    /// Hard cap on what the child may spend, or `null`.
    #[serde(default)]
    pub budget_cap_cents: Option<Cents>,
    /// Operation names the child may use, or `null`.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// Model for the child's loop, or `null`.
    #[serde(default)]
    pub model_id: Option<String>,
    /// Start the child's autonomous loop now, or `null`.
    #[serde(default)]
    pub execute_now: Option<bool>,
}

impl CreateDelegatedTask {
    /// A task with `objective`.
    pub fn new(objective: impl Into<String>) -> Self {
        CreateDelegatedTask {
            child_agent_id: None,
            objective: objective.into(),
            budget_cap_cents: None,
            permissions: None,
            model_id: None,
            execute_now: None,
        }
    }
    /// Sets `child_agent_id`.
    pub fn with_child_agent_id(mut self, child: impl Into<String>) -> Self {
        self.child_agent_id = Some(child.into());
        self
    }
    /// Sets `budget_cap_cents`.
    pub fn with_budget_cap_cents(mut self, cap: Cents) -> Self {
        self.budget_cap_cents = Some(cap);
        self
    }
    /// Sets the cap from dollars (`round(dollars * 100)`, ties to even); a
    /// non-finite amount leaves the cap unset.
    pub fn with_budget_dollars(mut self, dollars: f64) -> Self {
        self.budget_cap_cents = Cents::from_dollars_rounded(dollars);
        self
    }
    /// Sets `permissions`.
    pub fn with_permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.permissions = Some(permissions.into_iter().map(Into::into).collect());
        self
    }
    /// Sets `model_id`.
    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = Some(model_id.into());
        self
    }
    /// Sets `execute_now`.
    pub fn with_execute_now(mut self, execute_now: bool) -> Self {
        self.execute_now = Some(execute_now);
        self
    }
}

/// Filters of `GET /api/v1/agents/{agent_id}/delegated-tasks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDelegatedTasks {
    /// `created` (server default) or `received`. The legacy spellings
    /// `outgoing` and `incoming` are rewritten by [`with_direction`](Self::with_direction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Status filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl ListDelegatedTasks {
    /// Sets `direction`, rewriting `incoming` to `received` and `outgoing`
    /// to `created`; any other value is passed through.
    pub fn with_direction(mut self, direction: impl Into<String>) -> Self {
        let direction = direction.into();
        self.direction = Some(match direction.as_str() {
            "incoming" => "received".to_owned(),
            "outgoing" => "created".to_owned(),
            _ => direction,
        });
        self
    }
    /// Sets `status`.
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }
}
