//! `AgentStore` on PostgreSQL.
#![allow(unused_variables)] // until the methods below are filled in

use async_trait::async_trait;

use super::PgStore;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, Binding};
use crate::store::*;

// TODO(issue 8, PostgreSQL AgentStore): filled in by that part of the backend.
fn not_yet(what: &str) -> StoreError {
    StoreError::Other(format!("{what} is not available on PostgreSQL yet").into())
}

#[async_trait]
impl AgentStore for PgStore {
    async fn agent_by_key(&self, _key_hash: &str) -> StoreResult<Option<Agent>> {
        Err(not_yet("agent_by_key"))
    }

    async fn create_agent(&self, _agent: NewAgent) -> StoreResult<Agent> {
        Err(not_yet("create_agent"))
    }

    async fn agent(&self, _org_id: &OrgId, _agent_id: &AgentId) -> StoreResult<Option<Agent>> {
        Err(not_yet("agent"))
    }

    async fn agents(&self, _org_id: &OrgId, _team_id: Option<&str>) -> StoreResult<Vec<Agent>> {
        Err(not_yet("agents"))
    }

    async fn update_agent(&self, _update: AgentCommand<AgentPatch>) -> StoreResult<Agent> {
        Err(not_yet("update_agent"))
    }

    async fn set_agent_budget(&self, _change: AgentCommand<BudgetChange>) -> StoreResult<Agent> {
        Err(not_yet("set_agent_budget"))
    }

    async fn rotate_agent_key(&self, _rotation: AgentCommand<KeyRotation>) -> StoreResult<Agent> {
        Err(not_yet("rotate_agent_key"))
    }

    async fn bindings(&self, _agent_id: &AgentId) -> StoreResult<Vec<Binding>> {
        Err(not_yet("bindings"))
    }

    async fn service_bindings(
        &self,
        _agent_id: &AgentId,
        _service_id: &str,
    ) -> StoreResult<Vec<Binding>> {
        Err(not_yet("service_bindings"))
    }

    async fn upsert_bindings(
        &self,
        _upsert: AgentCommand<BindingUpsert>,
    ) -> StoreResult<Vec<Binding>> {
        Err(not_yet("upsert_bindings"))
    }

    async fn delete_bindings(&self, _removal: AgentCommand<BindingRemoval>) -> StoreResult<usize> {
        Err(not_yet("delete_bindings"))
    }
}
