//! `spawn` (API.md §2.6).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::SpawnAgent;

use super::handle;

handle!(
    /// Bounded child agents.
    Spawn
);

impl Spawn<'_> {
    /// `POST /api/v1/agents/spawn` (auth `agent`, the parent): spawns a
    /// child whose services are a subset of the parent's and whose budget
    /// comes out of the parent's (depth at most 3). The child's plaintext
    /// key is returned once.
    pub async fn create(self, request: SpawnAgent) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::SPAWN_CREATE, &[]).json(&request)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/spawn?operations=a.b,c.d` (auth `agent`): the
    /// budget a child with these operations needs.
    pub async fn estimate(self, operations: &[&str]) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::SPAWN_ESTIMATE, &[])
            .query_pair("operations", operations.join(","));
        self.client.send_json(spec).await
    }
}
