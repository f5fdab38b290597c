//! `AgentStore` on SQLite: lookups on the read pool, every write a job of
//! the writer (cold writes, which never touch its caches).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::SqliteStore;
use super::agents;
use crate::model::{Agent, AuditEvent, Binding, KeyMode, Role};
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

    async fn agent(&self, org_id: &str, agent_id: &str) -> StoreResult<Option<Agent>> {
        self.lookup(|c| agents::get(c, org_id, agent_id))
    }

    async fn agents(&self, org_id: &str, team_id: Option<&str>) -> StoreResult<Vec<Agent>> {
        let (o, t) = (org_id.to_owned(), team_id.map(str::to_owned));
        self.read(move |c| agents::list(c, &o, t.as_deref())).await
    }

    async fn update_agent(
        &self,
        org_id: &str,
        agent_id: &str,
        patch: AgentPatch,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::update(ctx, &o, &a, patch, now, audit))
            .await
    }

    async fn set_agent_budget(
        &self,
        org_id: &str,
        agent_id: &str,
        change: BudgetChange,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::set_budget(ctx, &o, &a, change, now, audit))
            .await
    }

    async fn rotate_agent_key(
        &self,
        org_id: &str,
        agent_id: &str,
        key_hash: &str,
        key_mode: KeyMode,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a, h) = (org_id.to_owned(), agent_id.to_owned(), key_hash.to_owned());
        self.writer
            .write(move |ctx| agents::rotate_key(ctx, &o, &a, &h, key_mode, now, audit))
            .await
    }

    async fn bindings(&self, agent_id: &str) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::bindings(c, agent_id))
    }

    async fn service_bindings(
        &self,
        agent_id: &str,
        service_id: &str,
    ) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::service_bindings(c, agent_id, service_id))
    }

    async fn upsert_bindings(
        &self,
        org_id: &str,
        agent_id: &str,
        upsert: BindingUpsert,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Vec<Binding>> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::upsert_bindings(ctx, &o, &a, upsert, now, audit))
            .await
    }

    async fn delete_bindings(
        &self,
        org_id: &str,
        agent_id: &str,
        service_id: &str,
        caller: Role,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<usize> {
        let (o, a, s) = (
            org_id.to_owned(),
            agent_id.to_owned(),
            service_id.to_owned(),
        );
        self.writer
            .write(move |ctx| agents::delete_bindings(ctx, &o, &a, (&s, caller), audit, now))
            .await
    }
}
