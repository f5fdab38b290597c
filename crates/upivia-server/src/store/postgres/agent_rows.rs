//! Rows of `agents` and `bindings` as PostgreSQL returns them, converted
//! to the domain records with checked conversions: a value the store never
//! writes is `Corrupt`, never a panic.

use time::OffsetDateTime;

use super::error::corrupt;
use crate::model::agent::{AgentSetters, BindingSetters};
use crate::model::{Agent, AgentStatus, Binding, KeyMode, Role};
use crate::money::Cents;
use crate::store::StoreResult;

pub(super) const AGENT_COLUMNS: &str = "id, org_id, team_id, owner_user_id, name, description, \
    status, key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, \
    default_model_id, profile, created_at, updated_at, status_set_by_role, \
    monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role, \
    parent_agent_id, spawn_depth";

pub(super) const BINDING_COLUMNS: &str = "id, agent_id, service_id, operation, require_approval, \
    approval_threshold_cents, max_cost_cents, monthly_budget_cents, daily_request_limit, \
    rate_limit_per_minute, created_at, updated_at, enabled, enabled_set_by_role, \
    require_approval_set_by_role, approval_threshold_set_by_role, max_cost_set_by_role, \
    monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role";

#[derive(sqlx::FromRow)]
pub(super) struct AgentRow {
    id: String,
    org_id: String,
    team_id: Option<String>,
    owner_user_id: Option<String>,
    name: String,
    description: Option<String>,
    status: String,
    key_mode: String,
    monthly_budget_cents: Option<i64>,
    daily_request_limit: Option<i64>,
    rate_limit_per_minute: Option<i64>,
    default_model_id: Option<String>,
    profile: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    status_set_by_role: String,
    monthly_budget_set_by_role: String,
    daily_request_limit_set_by_role: String,
    rate_limit_set_by_role: String,
    parent_agent_id: Option<String>,
    spawn_depth: i32,
}

impl AgentRow {
    pub(super) fn into_agent(self) -> StoreResult<Agent> {
        Ok(Agent {
            status: AgentStatus::parse(&self.status)
                .ok_or_else(|| bad("agents.status", &self.status))?,
            key_mode: KeyMode::parse(&self.key_mode)
                .ok_or_else(|| bad("agents.key_mode", &self.key_mode))?,
            monthly_budget: self.monthly_budget_cents.map(Cents::new),
            daily_request_limit: opt_u32("agents.daily_request_limit", self.daily_request_limit)?,
            rate_limit_per_minute: opt_u32(
                "agents.rate_limit_per_minute",
                self.rate_limit_per_minute,
            )?,
            profile: serde_json::from_str(&self.profile)
                .map_err(|_| bad("agents.profile", &self.profile))?,
            set_by: AgentSetters {
                status: role("agents.status_set_by_role", &self.status_set_by_role)?,
                monthly_budget: role(
                    "agents.monthly_budget_set_by_role",
                    &self.monthly_budget_set_by_role,
                )?,
                daily_request_limit: role(
                    "agents.daily_request_limit_set_by_role",
                    &self.daily_request_limit_set_by_role,
                )?,
                rate_limit: role(
                    "agents.rate_limit_set_by_role",
                    &self.rate_limit_set_by_role,
                )?,
            },
            spawn_depth: u8::try_from(self.spawn_depth)
                .map_err(|_| bad("agents.spawn_depth", &self.spawn_depth.to_string()))?,
            parent_agent_id: self.parent_agent_id,
            id: self.id,
            org_id: self.org_id,
            team_id: self.team_id,
            owner_user_id: self.owner_user_id,
            name: self.name,
            description: self.description,
            default_model_id: self.default_model_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BindingRow {
    id: String,
    agent_id: String,
    service_id: String,
    operation: String,
    require_approval: bool,
    approval_threshold_cents: Option<i64>,
    max_cost_cents: Option<i64>,
    monthly_budget_cents: Option<i64>,
    daily_request_limit: Option<i64>,
    rate_limit_per_minute: Option<i64>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    enabled: bool,
    enabled_set_by_role: String,
    require_approval_set_by_role: String,
    approval_threshold_set_by_role: String,
    max_cost_set_by_role: String,
    monthly_budget_set_by_role: String,
    daily_request_limit_set_by_role: String,
    rate_limit_set_by_role: String,
}

impl BindingRow {
    pub(super) fn into_binding(self) -> StoreResult<Binding> {
        Ok(Binding {
            daily_request_limit: opt_u32("bindings.daily_request_limit", self.daily_request_limit)?,
            rate_limit_per_minute: opt_u32(
                "bindings.rate_limit_per_minute",
                self.rate_limit_per_minute,
            )?,
            set_by: BindingSetters {
                enabled: role("bindings.enabled_set_by_role", &self.enabled_set_by_role)?,
                require_approval: role(
                    "bindings.require_approval_set_by_role",
                    &self.require_approval_set_by_role,
                )?,
                approval_threshold: role(
                    "bindings.approval_threshold_set_by_role",
                    &self.approval_threshold_set_by_role,
                )?,
                max_cost: role("bindings.max_cost_set_by_role", &self.max_cost_set_by_role)?,
                monthly_budget: role(
                    "bindings.monthly_budget_set_by_role",
                    &self.monthly_budget_set_by_role,
                )?,
                daily_request_limit: role(
                    "bindings.daily_request_limit_set_by_role",
                    &self.daily_request_limit_set_by_role,
                )?,
                rate_limit: role(
                    "bindings.rate_limit_set_by_role",
                    &self.rate_limit_set_by_role,
                )?,
            },
            id: self.id,
            agent_id: self.agent_id,
            service_id: self.service_id,
            // '*' binds the whole service (the row's key cannot hold NULL).
            operation: (self.operation != "*").then_some(self.operation),
            require_approval: self.require_approval,
            approval_threshold: self.approval_threshold_cents.map(Cents::new),
            max_cost: self.max_cost_cents.map(Cents::new),
            monthly_budget: self.monthly_budget_cents.map(Cents::new),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub(super) fn role(column: &str, raw: &str) -> StoreResult<Role> {
    Role::parse(raw).ok_or_else(|| bad(column, raw))
}

fn opt_u32(column: &str, raw: Option<i64>) -> StoreResult<Option<u32>> {
    raw.map(|v| u32::try_from(v).map_err(|_| bad(column, &v.to_string())))
        .transpose()
}

fn bad(column: &str, raw: &str) -> crate::store::StoreError {
    corrupt(format!("bad value in column {column}: {raw:?}"))
}
