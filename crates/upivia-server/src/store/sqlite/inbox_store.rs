//! `InboxStore` on SQLite.

use async_trait::async_trait;

use super::{SqliteStore, inbox};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl InboxStore for SqliteStore {
    async fn create_agent_request(&self, new: NewAgentRequest) -> StoreResult<AgentRequest> {
        self.writer.write(move |ctx| inbox::create(ctx, new)).await
    }

    async fn agent_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<AgentRequest>> {
        self.lookup(|c| inbox::get(c, org_id.as_str(), id))
    }

    async fn agent_requests(&self, query: InboxQuery) -> StoreResult<Vec<AgentRequest>> {
        self.read(move |c| inbox::list(c, query)).await
    }

    async fn decide_agent_request(&self, decide: DecideRequest) -> StoreResult<Decision> {
        self.writer
            .write(move |ctx| inbox::decide(ctx, decide))
            .await
    }
}
