//! `workflows`, `workflows.runs`, `workflows.agents`,
//! `workflows.from_template` (API.md §2.9).

use serde_json::{Value, json};

use crate::client::{RequestSpec, decode};
use crate::endpoints as ep;
use crate::error::{Error, Result};
use crate::models::{RunWorkflow, WorkflowRun};

use super::{WaitOptions, handle, poll_until};

handle!(
    /// Workflows: CRUD, versions, governed publishing, sharing, export.
    Workflows
);
handle!(
    /// Workflow runs.
    WorkflowRuns
);
handle!(
    /// Which agents may call a workflow as a skill.
    WorkflowAgents
);
handle!(
    /// The template catalogue.
    WorkflowTemplates
);

fn run_of(value: Value, path: &str) -> Result<WorkflowRun> {
    let run = value.get("run").cloned().unwrap_or(Value::Null);
    decode("GET", path, run)
}

impl<'a> Workflows<'a> {
    /// `workflows.runs`.
    pub fn runs(&self) -> WorkflowRuns<'a> {
        WorkflowRuns::new(self.client)
    }

    /// `workflows.agents`.
    pub fn agents(&self) -> WorkflowAgents<'a> {
        WorkflowAgents::new(self.client)
    }

    /// `workflows.from_template`.
    pub fn from_template(&self) -> WorkflowTemplates<'a> {
        WorkflowTemplates::new(self.client)
    }

    /// `GET /api/v1/workflows` (auth `workspace`), optionally by category.
    pub async fn list(self, category: Option<&str>) -> Result<Value> {
        let mut spec = RequestSpec::endpoint(&ep::WORKFLOWS_LIST, &[]);
        if let Some(category) = category {
            spec = spec.query_pair("category", category);
        }
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows` (auth `workspace`, permission
    /// `workflow.create`): an empty workflow; add versions next.
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/workflows/{workflow_id}` (auth `workspace`):
    /// `{workflow, versions: [{id, status, ..}]}`.
    pub async fn get(self, workflow_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::WORKFLOWS_GET, &[workflow_id]))
            .await
    }

    /// `PATCH /api/v1/workflows/{workflow_id}` (auth `workspace`): `name`,
    /// `description`, `status`, `icon`, `category`.
    pub async fn update(self, workflow_id: &str, patch: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_UPDATE, &[workflow_id]).json(patch)?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/workflows/{workflow_id}` (auth `workspace`): 204.
    pub async fn delete(self, workflow_id: &str) -> Result<()> {
        self.client
            .send_unit(RequestSpec::endpoint(&ep::WORKFLOWS_DELETE, &[workflow_id]))
            .await
    }

    /// `POST /api/v1/workflows/{workflow_id}/versions` (auth `workspace`):
    /// saves a draft version (steps and edges).
    pub async fn create_version(self, workflow_id: &str, body: &Value) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::WORKFLOWS_CREATE_VERSION, &[workflow_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows/{workflow_id}/versions/{version_id}/publish`
    /// (auth `workspace`, permission `publish.request`): asks for
    /// publication; an admin must approve, so the version is not live yet.
    /// `body` defaults to `{}`.
    pub async fn publish_version(
        self,
        workflow_id: &str,
        version_id: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let empty = json!({});
        let spec =
            RequestSpec::endpoint(&ep::WORKFLOWS_PUBLISH_VERSION, &[workflow_id, version_id])
                .json(body.unwrap_or(&empty))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows/{workflow_id}/versions/{version_id}/unpublish`
    /// (auth `workspace`, permission `publish.manage`): back to draft.
    /// `body` defaults to `{}`.
    pub async fn unpublish_version(
        self,
        workflow_id: &str,
        version_id: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let empty = json!({});
        let spec =
            RequestSpec::endpoint(&ep::WORKFLOWS_UNPUBLISH_VERSION, &[workflow_id, version_id])
                .json(body.unwrap_or(&empty))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows/{workflow_id}/share` (auth `workspace`,
    /// permission `workflow.edit`): `scope` is `team` or `org`.
    pub async fn share(self, workflow_id: &str, scope: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_SHARE, &[workflow_id])
            .json(&json!({ "scope": scope }))?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/workflows/{workflow_id}/export` (auth `workspace`): the
    /// latest version as a Skill Manifest.
    pub async fn export(self, workflow_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::WORKFLOWS_EXPORT, &[workflow_id]))
            .await
    }

    /// Runs a workflow and polls until the run is `completed`, `failed` or
    /// `cancelled` (`waiting_approval` keeps polling).
    ///
    /// Without `run.workflow_version_id`, first reads the workflow (`GET
    /// /api/v1/workflows/{workflow_id}`) and runs the first version whose
    /// status is `published`; there being none is an error of kind `Http`.
    /// Then `POST .../runs` and `GET .../runs/{run_id}` (auth `workspace`).
    pub async fn run_and_wait(
        self,
        workflow_id: &str,
        run: RunWorkflow,
        wait: WaitOptions,
    ) -> Result<WorkflowRun> {
        let mut run = run;
        if run.workflow_version_id.as_deref().is_none_or(str::is_empty) {
            let detail = self.get(workflow_id).await?;
            let published = detail
                .get("versions")
                .and_then(Value::as_array)
                .and_then(|versions| {
                    versions
                        .iter()
                        .find(|v| v.get("status").and_then(Value::as_str) == Some("published"))
                })
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str);
            let Some(version_id) = published else {
                return Err(Error::NoPublishedVersion {
                    workflow_id: workflow_id.to_owned(),
                });
            };
            run.workflow_version_id = Some(version_id.to_owned());
        }
        let path = ep::WORKFLOWS_RUNS_CREATE.render(&[workflow_id]);
        let started = run_of(self.runs().create(workflow_id, &run).await?, &path)?;
        if started.is_terminal() {
            return Ok(started);
        }
        let run_id = started.id;
        let path = ep::WORKFLOWS_RUNS_GET.render(&[workflow_id, &run_id]);
        poll_until(wait, format!("workflow run {run_id}"), || async {
            let current = run_of(self.runs().get(workflow_id, &run_id).await?, &path)?;
            Ok(current.is_terminal().then_some(current))
        })
        .await
    }
}

impl WorkflowRuns<'_> {
    /// `GET /api/v1/workflows/{workflow_id}/runs` (auth `workspace`): run
    /// history.
    pub async fn list(self, workflow_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::WORKFLOWS_RUNS_LIST,
                &[workflow_id],
            ))
            .await
    }

    /// `POST /api/v1/workflows/{workflow_id}/runs` (auth `workspace`): starts
    /// a run (201, `{run}`); the steps run in the background. A draft
    /// version needs `test_run`.
    pub async fn create(self, workflow_id: &str, run: &RunWorkflow) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_RUNS_CREATE, &[workflow_id]).json(run)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/workflows/{workflow_id}/runs/{run_id}` (auth
    /// `workspace`): `{run: {id, status, error, steps}}`.
    pub async fn get(self, workflow_id: &str, run_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::WORKFLOWS_RUNS_GET,
                &[workflow_id, run_id],
            ))
            .await
    }

    /// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/cancel` (auth
    /// `workspace`).
    pub async fn cancel(self, workflow_id: &str, run_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_RUNS_CANCEL, &[workflow_id, run_id])
            .json(&json!({}))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/rerun-failed`
    /// (auth `workspace`): retries every failed step.
    pub async fn rerun_failed(self, workflow_id: &str, run_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_RUNS_RERUN_FAILED, &[workflow_id, run_id])
            .json(&json!({}))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/steps/{step_id}/retry`
    /// (auth `workspace`): retries one failed step. `body` defaults to `{}`.
    pub async fn retry_step(
        self,
        workflow_id: &str,
        run_id: &str,
        step_id: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let empty = json!({});
        let spec = RequestSpec::endpoint(
            &ep::WORKFLOWS_RUNS_RETRY_STEP,
            &[workflow_id, run_id, step_id],
        )
        .json(body.unwrap_or(&empty))?;
        self.client.send_json(spec).await
    }
}

impl WorkflowAgents<'_> {
    /// `GET /api/v1/workflows/{workflow_id}/agents` (auth `workspace`).
    pub async fn list(self, workflow_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::WORKFLOWS_AGENTS_LIST,
                &[workflow_id],
            ))
            .await
    }

    /// `POST /api/v1/workflows/{workflow_id}/agents` with `{agent_id}` (auth
    /// `workspace`, permission `workflow.edit`): grants the workflow as a
    /// callable skill.
    pub async fn grant(self, workflow_id: &str, agent_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_AGENTS_GRANT, &[workflow_id])
            .json(&json!({ "agent_id": agent_id }))?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/workflows/{workflow_id}/agents?agent_id=` (auth
    /// `workspace`): revokes the grant (204).
    pub async fn revoke(self, workflow_id: &str, agent_id: &str) -> Result<()> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_AGENTS_REVOKE, &[workflow_id])
            .query_pair("agent_id", agent_id);
        self.client.send_unit(spec).await
    }
}

impl WorkflowTemplates<'_> {
    /// `GET /api/v1/workflows/from-template` (auth `workspace`): the
    /// template catalogue.
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::WORKFLOWS_FROM_TEMPLATE_LIST,
                &[],
            ))
            .await
    }

    /// `POST /api/v1/workflows/from-template` (auth `workspace`, permission
    /// `workflow.create`): a workflow from a template, granted to an agent.
    pub async fn create(self, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::WORKFLOWS_FROM_TEMPLATE_CREATE, &[]).json(body)?;
        self.client.send_json(spec).await
    }
}
