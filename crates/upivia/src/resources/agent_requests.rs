//! `agent_requests`: the inbox for human attention (API.md §2.11).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints::{self as ep, AuthMode, HttpMethod};
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

    /// `PATCH /api/v1/agent-requests` with `action` `"resolve"` or
    /// `"reject"` (as the terminal client sends it: `request_id` only).
    pub async fn decide(
        self,
        request_id: &str,
        action: &str,
        response: Option<&str>,
    ) -> Result<Value> {
        let body = json!({"request_id": request_id, "action": action, "response": response});
        let spec = RequestSpec::endpoint(&ep::AGENT_REQUESTS_RESOLVE, &[]).json(&body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agent-requests/{request_id}` (auth `any`: an agent
    /// reads its own request and the response to it with its key).
    /// This server's route.
    pub async fn get(self, request_id: &str) -> Result<Value> {
        let path = format!("/api/v1/agent-requests/{request_id}");
        let spec = RequestSpec::new(HttpMethod::Get, path, AuthMode::Any);
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agent-requests` with the agent key (auth `agent`):
    /// the agent asks for itself.
    pub async fn create_as_agent(self, request: CreateAgentRequest) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Post, "/api/v1/agent-requests", AuthMode::Agent)
            .json(&request)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agent-requests` with the agent key (auth `agent`): the
    /// agent's own requests and their responses.
    pub async fn list_as_agent(self, filter: ListAgentRequests) -> Result<Value> {
        let spec = RequestSpec::new(HttpMethod::Get, "/api/v1/agent-requests", AuthMode::Agent)
            .query(&filter)?;
        self.client.send_json(spec).await
    }
}
