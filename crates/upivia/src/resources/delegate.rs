//! `delegate`: delegated tasks (API.md §2.7).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::{CreateDelegatedTask, ListDelegatedTasks};

use super::handle;

handle!(
    /// Delegated tasks.
    Delegate
);

impl Delegate<'_> {
    /// `POST /api/v1/agents/{agent_id}/delegated-tasks` (auth `agent`):
    /// delegates an objective from the parent `agent_id`.
    pub async fn create(self, agent_id: &str, task: CreateDelegatedTask) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DELEGATE_CREATE, &[agent_id]).json(&task)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/{agent_id}/delegated-tasks` (auth `agent`): tasks
    /// the agent created or received, as `{tasks: [...]}`.
    pub async fn list(self, agent_id: &str, filter: ListDelegatedTasks) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DELEGATE_LIST, &[agent_id]).query(&filter)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/agents/{agent_id}/delegated-tasks/{task_id}` (auth
    /// `workspace`): one task; `agent_id` must be its parent or child.
    pub async fn get_task(self, agent_id: &str, task_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::DELEGATE_GET_TASK,
                &[agent_id, task_id],
            ))
            .await
    }

    /// `PATCH /api/v1/agents/{agent_id}/delegated-tasks/{task_id}` (auth
    /// `workspace`): moves the task's state machine, e.g. `{status, result}`.
    pub async fn update_task(self, agent_id: &str, task_id: &str, body: &Value) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::DELEGATE_UPDATE_TASK, &[agent_id, task_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/delegated-tasks/{task_id}?since=` (auth `workspace`):
    /// the task's status and the file writes after event `since`.
    pub async fn reattach(self, task_id: &str, since: Option<i64>) -> Result<Value> {
        let mut spec = RequestSpec::endpoint(&ep::DELEGATE_REATTACH, &[task_id]);
        if let Some(since) = since {
            spec = spec.query_pair("since", since.to_string());
        }
        self.client.send_json(spec).await
    }
}
