//! `scheduled_tasks` (API.md §2.10).

use serde_json::Value;

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;
use crate::models::ListScheduledTasks;

use super::handle;

handle!(
    /// Scheduled tasks.
    ScheduledTasks
);

impl ScheduledTasks<'_> {
    /// `GET /api/v1/scheduled-tasks` (auth `workspace`): offset paginated.
    pub async fn list(self, filter: ListScheduledTasks) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::SCHEDULED_TASKS_LIST, &[]).query(&filter)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/scheduled-tasks` (auth `workspace`): 201, `{task}`.
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::SCHEDULED_TASKS_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/scheduled-tasks/{task_id}` (auth `workspace`): the task
    /// with its recent runs.
    pub async fn get(self, task_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::SCHEDULED_TASKS_GET, &[task_id]))
            .await
    }

    /// `PATCH /api/v1/scheduled-tasks/{task_id}` (auth `workspace`):
    /// schedule, payload or `status` (`active`, `paused`, `completed`,
    /// `cancelled`).
    pub async fn update(self, task_id: &str, patch: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::SCHEDULED_TASKS_UPDATE, &[task_id]).json(patch)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/scheduled-tasks/{task_id}` (auth `workspace`): 204.
    pub async fn delete(self, task_id: &str) -> Result<()> {
        self.client
            .send_unit(RequestSpec::endpoint(
                &ep::SCHEDULED_TASKS_DELETE,
                &[task_id],
            ))
            .await
    }

    /// `GET /api/v1/scheduled-tasks/{task_id}/runs?limit=&offset=` (auth
    /// `workspace`): the run history.
    pub async fn runs(
        self,
        task_id: &str,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Value> {
        let mut spec = RequestSpec::endpoint(&ep::SCHEDULED_TASKS_RUNS, &[task_id]);
        if let Some(limit) = limit {
            spec = spec.query_pair("limit", limit.to_string());
        }
        if let Some(offset) = offset {
            spec = spec.query_pair("offset", offset.to_string());
        }
        self.client.send_json(spec).await
    }
}
