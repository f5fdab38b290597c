//! `agents` (API.md §2.5).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{ListAgentActivity, Page};

use super::audit_logs::fetch_page;
use super::{ItemStream, handle};

handle!(
    /// Agents: CRUD, keys, clone and transfer, budgets, service bindings,
    /// health, activity and skills.
    Agents
);

impl Agents<'_> {
    /// `GET /api/v1/agents` (auth `agent`): the calling agent plus the
    /// agents shared with it, as `{agents: [...]}`.
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_LIST, &[]))
            .await
    }

    /// `GET /api/v1/agents` (auth `workspace`): every agent of the
    /// workspace as `{agents: [...]}`, or of one team with `team_id`. The
    /// same route as [`list`](Self::list) seen by a member (the TUI's
    /// `list_agents`).
    ///
    /// ```no_run
    /// # async fn demo(client: upivia::Client) -> upivia::Result<()> {
    /// let all = client.agents().list_workspace(None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn list_workspace(self, team_id: Option<&str>) -> Result<Value> {
        let mut spec = RequestSpec::new(
            ep::AGENTS_LIST.method,
            ep::AGENTS_LIST.path,
            crate::AuthMode::Workspace,
        );
        if let Some(team_id) = team_id {
            spec = spec.query_pair("team_id", team_id);
        }
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agents` (auth `workspace`, permission
    /// `agent.createOwn`): creates an agent; the reply carries its
    /// plaintext key, once.
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/{agent_id}` (auth `workspace`): the agent with
    /// its service bindings.
    pub async fn get(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_GET, &[agent_id]))
            .await
    }

    /// `PATCH /api/v1/agents/{agent_id}` (auth `workspace`, permission
    /// `agent.manageAny`): `name`, `description`, `status`, `icon`,
    /// `category`, `defaultModelId`, `personality`, `systemPrompt`,
    /// `voiceConfig`, `memoryMode`.
    pub async fn update(self, agent_id: &str, patch: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_UPDATE, &[agent_id]).json(patch)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/agents/{agent_id}` (auth `workspace`, permission
    /// `agent.deleteAny`): deletes the agent and its bindings.
    pub async fn delete(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_DELETE, &[agent_id]))
            .await
    }

    /// `PATCH /api/v1/agents/{agent_id}/key` with `{"confirm": true}` (auth
    /// `workspace`): rotates the key; the old one dies at once and the new
    /// plaintext key is returned once.
    pub async fn reset_key(self, agent_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_RESET_KEY, &[agent_id])
            .json(&json!({"confirm": true}))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agents/{agent_id}/clone` (auth `workspace`): copies the
    /// agent with its bindings; `overrides` defaults to `{}`.
    pub async fn clone(self, agent_id: &str, overrides: Option<&Value>) -> Result<Value> {
        let empty = json!({});
        let spec = RequestSpec::endpoint(&ep::AGENTS_CLONE, &[agent_id])
            .json(overrides.unwrap_or(&empty))?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/agents/{agent_id}/transfer` (auth `workspace`): hands
    /// the agent to another member; a new key is returned once.
    pub async fn transfer(self, agent_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_TRANSFER, &[agent_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/agents/{agent_id}/budget` (auth `workspace`): sets the
    /// monthly cap in integer cents.
    pub async fn set_budget(self, agent_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_SET_BUDGET, &[agent_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/agents/{agent_id}/services` (auth `workspace`,
    /// permission `service.toggle`): enables a service.
    pub async fn enable_service(self, agent_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_ENABLE_SERVICE, &[agent_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/agents/{agent_id}/services?service_id=` (auth
    /// `workspace`): removes every binding of the service.
    pub async fn disable_service(self, agent_id: &str, service_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_DISABLE_SERVICE, &[agent_id])
            .query_pair("service_id", service_id);
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/{agent_id}/health` (auth `workspace`): `healthy`,
    /// `degraded`, `failing` or `idle`, with statistics.
    pub async fn health(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_HEALTH, &[agent_id]))
            .await
    }

    /// [`health`](Self::health) over another window: `24h` (the
    /// default), `1h` or `7d` (this server's `window` query parameter).
    ///
    /// ```no_run
    /// # async fn demo(client: upivia::Client) -> upivia::Result<()> {
    /// let h = client.agents().health_over("agt_1", "1h").await?;
    /// println!("{}", h["health"]);
    /// # Ok(()) }
    /// ```
    pub async fn health_over(self, agent_id: &str, window: &str) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::AGENTS_HEALTH, &[agent_id]).query_pair("window", window);
        self.client.send_json(spec).await
    }

    /// [`fleet_health`](Self::fleet_health) over another window (`24h`,
    /// `1h` or `7d`).
    pub async fn fleet_health_over(self, window: &str) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::AGENTS_FLEET_HEALTH, &[]).query_pair("window", window);
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/health` (auth `workspace`): health of every
    /// visible agent.
    pub async fn fleet_health(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_FLEET_HEALTH, &[]))
            .await
    }

    /// `GET /api/v1/agents/{agent_id}/activity` (auth `workspace`): one page
    /// of the accountability ledger. Rows are `logs`; the cursor is the
    /// camelCase `nextCursor` (and `hasMore`); the other keys are in
    /// `extra`.
    pub async fn activity(self, agent_id: &str, filter: ListAgentActivity) -> Result<Page<Value>> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_ACTIVITY, &[agent_id]).query(&filter)?;
        fetch_page(self.client, spec, "logs", "nextCursor").await
    }

    /// Every activity `logs` row, following `nextCursor` (`GET
    /// /api/v1/agents/{agent_id}/activity` repeatedly, auth `workspace`).
    pub fn activity_iter(&self, agent_id: &str, filter: ListAgentActivity) -> ItemStream<Value> {
        let client = self.client.clone();
        let agent_id = agent_id.to_owned();
        Box::pin(crate::pagination::paginate(move |cursor| {
            let client = client.clone();
            let agent_id = agent_id.clone();
            let filter = ListAgentActivity {
                cursor,
                ..filter.clone()
            };
            async move { client.agents().activity(&agent_id, filter).await }
        }))
    }

    /// `GET /api/v1/agents/{agent_id}/skills` (auth `workspace`): granted
    /// workflows and enabled services.
    pub async fn skills(self, agent_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::AGENTS_SKILLS, &[agent_id]))
            .await
    }

    /// `DELETE /api/v1/agents/{agent_id}/skills?workflow_id=` (auth
    /// `workspace`, permission `workflow.create`): takes a workflow grant
    /// away.
    pub async fn remove_skill(self, agent_id: &str, workflow_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::AGENTS_REMOVE_SKILL, &[agent_id])
            .query_pair("workflow_id", workflow_id);
        self.client.send_json(spec).await
    }
}
