//! `agent_requests`: the inbox for human attention (API.md §2.11).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{CreateAgentRequest, ListAgentRequests};

use super::handle;

handle!(
    /// Agent requests.
    AgentRequests
);

impl AgentRequests<'_> {
    /// `GET /api/v1/agent-requests` (auth `workspace`): `{requests: [...]}`.
    pub async fn list(self, filter: ListAgentRequests) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENT_REQUESTS_LIST, &[]).query(&filter)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agent-requests` (auth `workspace`): asks a human.
    pub async fn create(self, request: CreateAgentRequest) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENT_REQUESTS_CREATE, &[]).json(&request)?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/agent-requests` (auth `workspace`): resolves a
    /// request, sending its id as both `request_id` and `id`, with
    /// `action: "resolve"` and an optional `response` for the agent.
    pub async fn resolve(self, request_id: &str, response: Option<&str>) -> Result<Value> {
        let body = json!({
            "request_id": request_id,
            "id": request_id,
            "action": "resolve",
            "response": response,
        });
        let spec = RequestSpec::endpoint(&ep::AGENT_REQUESTS_RESOLVE, &[]).json(&body)?;
        self.client.send_json(spec).await
    }
}
