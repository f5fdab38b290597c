//! Agents, the identities that send service requests, and their bindings:
//! which operations an agent may use and under which limits.

use serde_json::Value;
use time::OffsetDateTime;

use super::identity::Role;
use crate::money::Cents;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStatus {
    Active,
    Paused,
    Disabled,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Paused => "paused",
            AgentStatus::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<AgentStatus> {
        match raw {
            "active" => Some(AgentStatus::Active),
            "paused" => Some(AgentStatus::Paused),
            "disabled" => Some(AgentStatus::Disabled),
            _ => None,
        }
    }
}

/// `live` keys reach every provider; `test` keys only the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    Live,
    Test,
}

impl KeyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Live => "live",
            KeyMode::Test => "test",
        }
    }

    pub fn parse(raw: &str) -> Option<KeyMode> {
        match raw {
            "live" => Some(KeyMode::Live),
            "test" => Some(KeyMode::Test),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Agent {
    pub id: String,
    pub org_id: String,
    pub team_id: Option<String>,
    pub owner_user_id: Option<String>,
    /// The agent that spawned this one, if any.
    pub parent_agent_id: Option<String>,
    /// 1 for an agent a person created, one more per spawn below it.
    pub spawn_depth: u8,
    pub name: String,
    pub description: Option<String>,
    pub status: AgentStatus,
    pub key_mode: KeyMode,
    /// Cap on what the agent may spend per calendar month (UTC); `None` = no cap.
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub default_model_id: Option<String>,
    /// Free-form profile fields (icon, category, personality, …) kept as sent.
    pub profile: Value,
    /// Who set each governance value (see `governance::roles`).
    pub set_by: AgentSetters,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The governance values of an agent and who set them: what a role check
/// reads, and what the store compares before it writes the checked change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentRules {
    pub status: AgentStatus,
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub set_by: AgentSetters,
}

impl Agent {
    pub fn rules(&self) -> AgentRules {
        AgentRules {
            status: self.status,
            monthly_budget: self.monthly_budget,
            daily_request_limit: self.daily_request_limit,
            rate_limit_per_minute: self.rate_limit_per_minute,
            set_by: self.set_by,
        }
    }
}

/// The role that set each of an agent's governance values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentSetters {
    pub status: Role,
    pub monthly_budget: Role,
    pub daily_request_limit: Role,
    pub rate_limit: Role,
}

/// Permission for one agent to use one operation (or a whole service when
/// `operation` is `None`), with the limits that apply to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub id: String,
    pub agent_id: String,
    pub service_id: String,
    pub operation: Option<String>,
    pub require_approval: bool,
    pub approval_threshold: Option<Cents>,
    pub max_cost: Option<Cents>,
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    /// A disabled binding is kept, with who disabled it, so enabling it
    /// again follows the same role rules as any loosening.
    pub enabled: bool,
    pub set_by: BindingSetters,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A binding's values and who set them, compared by the store before it
/// writes a checked change.
#[derive(Clone, Debug, PartialEq)]
pub struct BindingRules {
    pub enabled: bool,
    pub settings: BindingSettings,
    pub set_by: BindingSetters,
}

impl Binding {
    pub fn settings(&self) -> BindingSettings {
        BindingSettings {
            require_approval: self.require_approval,
            approval_threshold: self.approval_threshold,
            max_cost: self.max_cost,
            monthly_budget: self.monthly_budget,
            daily_request_limit: self.daily_request_limit,
            rate_limit_per_minute: self.rate_limit_per_minute,
        }
    }

    pub fn rules(&self) -> BindingRules {
        BindingRules {
            enabled: self.enabled,
            settings: self.settings(),
            set_by: self.set_by,
        }
    }
}

impl AgentSetters {
    pub fn all(role: Role) -> AgentSetters {
        AgentSetters {
            status: role,
            monthly_budget: role,
            daily_request_limit: role,
            rate_limit: role,
        }
    }
}

/// The role that set each of a binding's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingSetters {
    pub enabled: Role,
    pub require_approval: Role,
    pub approval_threshold: Role,
    pub max_cost: Role,
    pub monthly_budget: Role,
    pub daily_request_limit: Role,
    pub rate_limit: Role,
}

impl BindingSetters {
    pub fn all(role: Role) -> BindingSetters {
        BindingSetters {
            enabled: role,
            require_approval: role,
            approval_threshold: role,
            max_cost: role,
            monthly_budget: role,
            daily_request_limit: role,
            rate_limit: role,
        }
    }
}

/// The settings of a binding as an operator writes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BindingSettings {
    pub require_approval: bool,
    pub approval_threshold: Option<Cents>,
    pub max_cost: Option<Cents>,
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
}
