//! `memory`: governed agent memory (API.md §2.8).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// Agent memories.
    Memory
);

impl Memory<'_> {
    /// `GET /api/v1/agents/{agent_id}/memories` (auth `agent`):
    /// `{memories: [...]}`.
    pub async fn list(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::MEMORY_LIST, &[agent_id]))
            .await
    }

    /// `GET /api/v1/agents/{agent_id}/memories?q=` (auth `any`):
    /// `{memories, semantic}`; the server decides whether to search
    /// semantically.
    pub async fn search(self, agent_id: &str, q: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::MEMORY_SEARCH, &[agent_id]).query_pair("q", q);
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agents/{agent_id}/memories` (auth `agent`): a governed,
    /// audited write, e.g. `{content}`.
    pub async fn create(self, agent_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::MEMORY_CREATE, &[agent_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/agents/{agent_id}/memories/{memory_id}` (auth
    /// `workspace`): edits or archives a memory.
    pub async fn update(self, agent_id: &str, memory_id: &str, patch: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::MEMORY_UPDATE, &[agent_id, memory_id]).json(patch)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/agents/{agent_id}/memories/{memory_id}` (auth
    /// `workspace`).
    pub async fn delete(self, agent_id: &str, memory_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::MEMORY_DELETE,
                &[agent_id, memory_id],
            ))
            .await
    }

    /// `GET /api/v1/agents/{agent_id}/memories/graph` (auth `workspace`):
    /// `{nodes, edges}`.
    pub async fn graph(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::MEMORY_GRAPH, &[agent_id]))
            .await
    }
}
