//! Agents, the identities that send service requests, and their bindings:
//! which operations an agent may use and under which limits.

use serde_json::Value;
use time::OffsetDateTime;

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
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
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
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
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
