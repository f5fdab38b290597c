//! Agent memories: short texts an agent writes for itself, listed newest
//! first and searched by rank (any query term, English stemming, BM25-style
//! on SQLite's FTS5, `ts_rank` on PostgreSQL). A write counts against the
//! agent's quota in the same transaction as the row and its audit entry, so
//! concurrent writes cannot overshoot it.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub content: String,
    pub tags: Vec<String>,
    pub archived: bool,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewMemory {
    pub id: String,
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub content: String,
    pub tags: Vec<String>,
    /// Most memories the agent may hold (archived ones count: they are
    /// still stored); the write is refused at it.
    pub quota: u32,
    pub created_by: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// What a create came to.
#[derive(Clone, Debug)]
pub enum MemoryCreated {
    Created(Memory),
    /// The agent already holds `quota` memories: nothing was written.
    QuotaReached,
}

/// A change of a memory; `None` leaves a field as it is.
#[derive(Clone, Debug)]
pub struct UpdateMemory {
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub id: String,
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
    pub archived: Option<bool>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

#[async_trait]
pub trait MemoryStore: Send + Sync + 'static {
    async fn create_memory(&self, new: NewMemory) -> StoreResult<MemoryCreated>;
    async fn memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
    ) -> StoreResult<Option<Memory>>;
    /// The agent's live (not archived) memories, newest first.
    async fn memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<Memory>>;
    /// The agent's live memories holding any of `terms` (from
    /// `search::terms`), best first; none for no terms.
    async fn search_memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Memory>>;
    /// `NotFound` when the agent has no such memory.
    async fn update_memory(&self, update: UpdateMemory) -> StoreResult<Memory>;
    /// Deletes the row and its index entry for good; `NotFound` when the
    /// agent has no such memory.
    async fn delete_memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
}
