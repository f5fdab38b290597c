//! `AgentStore` on SQLite: lookups on the read pool, every write a job of
//! the writer (cold writes, which never touch its caches).

use async_trait::async_trait;

use super::SqliteStore;
use super::agents;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, Binding};
use crate::store::*;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn agent_by_key(&self, key_hash: &str) -> StoreResult<Option<Agent>> {
        self.lookup(|c| agents::by_key(c, key_hash))
    }

    async fn create_agent(&self, agent: NewAgent) -> StoreResult<Agent> {
        self.writer
            .write(move |ctx| agents::create(ctx, agent))
            .await
    }

    async fn agent(&self, org_id: &OrgId, agent_id: &AgentId) -> StoreResult<Option<Agent>> {
        self.lookup(|c| agents::get(c, org_id.as_str(), agent_id.as_str()))
    }

    async fn agents(&self, org_id: &OrgId, team_id: Option<&str>) -> StoreResult<Vec<Agent>> {
        let (o, t) = (org_id.clone(), team_id.map(str::to_owned));
        self.read(move |c| agents::list(c, o.as_str(), t.as_deref()))
            .await
    }

    async fn update_agent(&self, u: AgentCommand<AgentPatch>) -> StoreResult<Agent> {
        self.writer
            .write(move |ctx| {
                let (o, a) = (u.org_id.as_str(), u.agent_id.as_str());
                agents::update(ctx, o, a, u.change, u.now, u.audit)
            })
            .await
    }

    async fn set_agent_budget(&self, b: AgentCommand<BudgetChange>) -> StoreResult<Agent> {
        self.writer
            .write(move |ctx| {
                let (o, a) = (b.org_id.as_str(), b.agent_id.as_str());
                agents::set_budget(ctx, o, a, b.change, b.now, b.audit)
            })
            .await
    }

    async fn rotate_agent_key(&self, r: AgentCommand<KeyRotation>) -> StoreResult<Agent> {
        self.writer
            .write(move |ctx| {
                let (o, a) = (r.org_id.as_str(), r.agent_id.as_str());
                let (hash, mode) = (&r.change.key_hash, r.change.key_mode);
                agents::rotate_key(ctx, o, a, hash, mode, r.now, r.audit)
            })
            .await
    }

    async fn bindings(&self, agent_id: &AgentId) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::bindings(c, agent_id.as_str()))
    }

    async fn service_bindings(
        &self,
        agent_id: &AgentId,
        service_id: &str,
    ) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::service_bindings(c, agent_id.as_str(), service_id))
    }

    async fn upsert_bindings(&self, u: AgentCommand<BindingUpsert>) -> StoreResult<Vec<Binding>> {
        self.writer
            .write(move |ctx| {
                let (o, a) = (u.org_id.as_str(), u.agent_id.as_str());
                agents::upsert_bindings(ctx, o, a, u.change, u.now, u.audit)
            })
            .await
    }

    async fn delete_bindings(&self, d: AgentCommand<BindingRemoval>) -> StoreResult<usize> {
        self.writer
            .write(move |ctx| {
                let (o, a) = (d.org_id.as_str(), d.agent_id.as_str());
                let what = (d.change.service_id.as_str(), d.change.caller);
                agents::delete_bindings(ctx, o, a, what, d.audit, d.now)
            })
            .await
    }
}
