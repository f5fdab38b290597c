//! `MemoryStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, memories};
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::store::*;

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn create_memory(&self, new: NewMemory) -> StoreResult<MemoryCreated> {
        self.writer
            .write(move |ctx| memories::create(ctx, new))
            .await
    }

    async fn memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
    ) -> StoreResult<Option<Memory>> {
        self.lookup(|c| memories::get(c, org_id.as_str(), agent_id.as_str(), id))
    }

    async fn memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<Memory>> {
        let (org, agent) = (org_id.as_str().to_owned(), agent_id.as_str().to_owned());
        self.read(move |c| memories::list(c, &org, &agent, limit))
            .await
    }

    async fn search_memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Memory>> {
        let (org, agent) = (org_id.as_str().to_owned(), agent_id.as_str().to_owned());
        let terms = terms.to_vec();
        self.read(move |c| memories::search(c, &org, &agent, &terms, limit))
            .await
    }

    async fn update_memory(&self, update: UpdateMemory) -> StoreResult<Memory> {
        self.writer
            .write(move |ctx| memories::update(ctx, update))
            .await
    }

    async fn delete_memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (org, agent, id) = (
            org_id.as_str().to_owned(),
            agent_id.as_str().to_owned(),
            id.to_owned(),
        );
        self.writer
            .write(move |ctx| memories::delete(ctx, &org, &agent, &id, audit, now))
            .await
    }
}
