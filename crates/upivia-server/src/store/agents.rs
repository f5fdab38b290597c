//! Agent persistence: agents (their keys, budgets and governance values)
//! and their bindings to services.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::{StoreError, StoreResult};
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

/// Every agent store also holds the lifecycle ([`AgentLifecycleStore`]).
#[async_trait]
pub trait AgentStore: AgentLifecycleStore + Send + Sync + 'static {
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

/// Deleting an agent: its bindings go with it and its key stops at once.
/// A protected agent (`profile.protected`) is refused (`Conflict`).
#[derive(Clone, Debug)]
pub struct AgentDeletion;

/// A copy of an agent under a new id and key, owned by the caller, with
/// every binding row and every limit (and the role that set each).
#[derive(Clone, Debug)]
pub struct AgentClone {
    /// The clone's id (`ids::AGENT`).
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub owner_user_id: String,
    /// The clone's `agent.created` entry (the command's `audit` is the
    /// source's `agent.cloned`).
    pub created: AuditEvent,
}

/// Handing an agent to another member of its organisation, with a new key.
#[derive(Clone, Debug)]
pub struct AgentTransfer {
    /// The new owner, by id or by email: a member of the agent's
    /// organisation (`NotFound` otherwise).
    pub to: NewOwner,
    pub key_hash: String,
}

#[derive(Clone, Debug)]
pub enum NewOwner {
    UserId(String),
    Email(String),
}

/// One of an agent's recorded service requests, as health and activity
/// read it.
#[derive(Clone, Debug)]
pub struct RequestSample {
    pub id: String,
    pub service: String,
    pub operation: String,
    /// `executed`, `failed`, `blocked`, `running`, `executing` or
    /// `awaiting_approval`.
    pub status: String,
    pub reason_code: Option<String>,
    pub cost: Cents,
    pub created_at: OffsetDateTime,
    /// When execution began (after any approval); `None` before.
    pub started_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// An agent's requests, newest first.
#[derive(Clone, Debug)]
pub struct AgentRequestQuery {
    pub agent_id: AgentId,
    /// Only requests made at or after this time.
    pub since: Option<OffsetDateTime>,
    pub limit: u32,
}

/// What an agent has spent and asked for, over its whole life and in the
/// month starting at `month_start`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentSpend {
    pub requests: i64,
    pub executed: i64,
    pub blocked: i64,
    pub failed: i64,
    pub total: Cents,
    pub month: Cents,
    pub last_request_at: Option<OffsetDateTime>,
}

/// A child agent spawned by the command's agent (its parent), in one
/// transaction: the child under the parent's organisation, team, owner,
/// key mode and limits (the roles that set them too), a binding per
/// operation copied from the parent's binding that allows it, and the
/// carve of its budget out of the parent, with both audit events.
#[derive(Clone, Debug)]
pub struct AgentSpawn {
    /// The child's id (`ids::AGENT`).
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub key_hash: String,
    pub profile: Value,
    /// The child's monthly cap: its budget.
    pub monthly_budget: Cents,
    pub bindings: Vec<SpawnBinding>,
    /// The parent's money moving to the child's allowance (`None` for a
    /// zero budget). Refused whole when the parent has too little.
    pub carve: Option<super::Transfer>,
    /// The child's `agent.created` entry (the command's `audit` is the
    /// parent's `agent.spawned`).
    pub created: AuditEvent,
}

/// One binding of a spawned child: the parent's binding row it copies
/// (its limits and the roles that set them) for one operation.
#[derive(Clone, Debug)]
pub struct SpawnBinding {
    pub source_binding_id: String,
    pub operation: String,
}

#[derive(Clone, Debug)]
pub enum Spawned {
    Created(Box<Agent>),
    /// The parent had only `available` left to carve; nothing was written.
    Short {
        available: Cents,
    },
    /// The parent is no longer active (or gone); nothing was written.
    ParentStopped,
}

/// Agent lifecycle and the reads behind health and activity.
#[async_trait]
pub trait AgentLifecycleStore: Send + Sync + 'static {
    /// Marks the agent deleted (its key stops at once) and removes its
    /// bindings; returns how many binding rows went. `Conflict` when it is
    /// protected.
    async fn delete_agent(&self, deletion: AgentCommand<AgentDeletion>) -> StoreResult<usize>;
    /// The clone, made in one transaction with both audit entries.
    async fn clone_agent(&self, clone: AgentCommand<AgentClone>) -> StoreResult<Agent>;
    /// The agent under its new owner and key; `NotFound` when the new
    /// owner is no member of the organisation.
    async fn transfer_agent(&self, transfer: AgentCommand<AgentTransfer>) -> StoreResult<Agent>;
    /// Spawns a child of the command's agent (see [`AgentSpawn`]).
    async fn spawn_agent(&self, spawn: AgentCommand<AgentSpawn>) -> StoreResult<Spawned>;
    async fn agent_requests(&self, query: AgentRequestQuery) -> StoreResult<Vec<RequestSample>>;
    async fn agent_spend(
        &self,
        agent_id: &AgentId,
        month_start: OffsetDateTime,
    ) -> StoreResult<AgentSpend>;
}

/// Whether an agent's profile marks it protected from deletion.
pub fn is_protected(agent: &Agent) -> bool {
    agent.profile.get("protected") == Some(&serde_json::Value::Bool(true))
}

/// Deleting a parent would leave its children without the lineage that
/// stops them with it.
pub fn has_children_refusal(children: i64) -> StoreError {
    StoreError::Conflict(format!(
        "this agent has {children} live child agent(s); delete them first"
    ))
}

pub fn protected_refusal() -> StoreError {
    StoreError::Conflict(
        "this agent is protected from deletion; clear its protected flag first".into(),
    )
}
