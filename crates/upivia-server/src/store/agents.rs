//! Agent persistence: agents (their keys, budgets and governance values)
//! and their bindings to services.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId};
use crate::model::{
    Agent, AgentStatus, AuditEvent, Binding, KeyMode, Role,
    agent::{AgentRules, AgentSetters, BindingRules, BindingSetters, BindingSettings},
};
use crate::money::Cents;

#[derive(Clone, Debug)]
pub struct NewAgent {
    pub org_id: String,
    pub team_id: Option<String>,
    pub owner_user_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub key_hash: String,
    pub key_mode: KeyMode,
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub default_model_id: Option<String>,
    pub profile: Value,
    /// Who set each governance value (the creator's role, see
    /// `governance::roles::check_new_agent`).
    pub set_by: AgentSetters,
    pub now: OffsetDateTime,
    pub actor: String,
}

/// A human added to an organisation (by the members API of the
/// A partial update of an agent; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<AgentStatus>,
    pub default_model_id: Option<Option<String>>,
    pub daily_request_limit: Option<Option<u32>>,
    pub rate_limit_per_minute: Option<Option<u32>>,
    /// Profile keys to merge in (a JSON null removes the key).
    pub profile: serde_json::Map<String, Value>,
    /// The roles to record for the governance values.
    pub set_by: Option<AgentSetters>,
    /// The governance values the change was checked against: the update
    /// is refused (`Conflict`) if they changed since.
    pub expect: Option<AgentRules>,
}

/// A new monthly cap for an agent, checked by `governance::roles`.
#[derive(Clone, Copy, Debug)]
pub struct BudgetChange {
    /// `None`: no cap.
    pub monthly_budget: Option<Cents>,
    pub set_by: Role,
    /// The governance values the change was checked against.
    pub expect: AgentRules,
}

#[derive(Clone, Debug)]
pub struct BindingUpsert {
    pub service_id: String,
    pub operations: Vec<BindingWrite>,
    pub settings: BindingSettings,
}

/// One binding row to enable (or update) with checked settings.
#[derive(Clone, Debug)]
pub struct BindingWrite {
    /// `None` binds every operation of the service.
    pub operation: Option<String>,
    pub set_by: BindingSetters,
    /// The row the change was checked against (`None`: there was none);
    /// refused (`Conflict`) if it changed since.
    pub expect: Option<BindingRules>,
}

/// A change to one agent: the command (`change`) with who the agent is,
/// when, and the audit event written in the same transaction.
#[derive(Clone, Debug)]
pub struct AgentCommand<T> {
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub change: T,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// A new key for an agent; the old one stops at once.
#[derive(Clone, Debug)]
pub struct KeyRotation {
    pub key_hash: String,
    pub key_mode: KeyMode,
}

/// Disabling a service's bindings.
#[derive(Clone, Debug)]
pub struct BindingRemoval {
    pub service_id: String,
    /// The caller's role; see [`AgentStore::delete_bindings`].
    pub caller: Role,
}

#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    async fn agent_by_key(&self, key_hash: &str) -> StoreResult<Option<Agent>>;
    async fn create_agent(&self, agent: NewAgent) -> StoreResult<Agent>;
    async fn agent(&self, org_id: &OrgId, agent_id: &AgentId) -> StoreResult<Option<Agent>>;
    async fn agents(&self, org_id: &OrgId, team_id: Option<&str>) -> StoreResult<Vec<Agent>>;
    async fn update_agent(&self, update: AgentCommand<AgentPatch>) -> StoreResult<Agent>;
    /// Sets the monthly cap, recording `set_by`; refused (`Conflict`) if
    /// the agent's governance values are no longer `expect`.
    async fn set_agent_budget(&self, change: AgentCommand<BudgetChange>) -> StoreResult<Agent>;
    async fn rotate_agent_key(&self, rotation: AgentCommand<KeyRotation>) -> StoreResult<Agent>;
    /// The agent's enabled bindings: what policy reads.
    async fn bindings(&self, agent_id: &AgentId) -> StoreResult<Vec<Binding>>;
    /// Every binding row of the agent's service, disabled ones too: what a
    /// role check reads before enabling or changing one.
    async fn service_bindings(
        &self,
        agent_id: &AgentId,
        service_id: &str,
    ) -> StoreResult<Vec<Binding>>;
    async fn upsert_bindings(
        &self,
        upsert: AgentCommand<BindingUpsert>,
    ) -> StoreResult<Vec<Binding>>;
    /// Disables the service's bindings (rows are kept, see `Binding`),
    /// recording the higher of `caller` and the role that enabled each.
    async fn delete_bindings(&self, removal: AgentCommand<BindingRemoval>) -> StoreResult<usize>;
}
