//! `workflow.run`: an agent starts a workflow it was granted (or its own)
//! through a governed request, so the start needs a binding, may need an
//! approval and is audited like any other. The run's steps still execute
//! as the workflow's agent, each its own governed request.
//!
//! Checked before anything is held and again when it executes (an
//! approval may come in between): the workflow exists in the agent's
//! organisation, is active, has a published version (an agent never
//! starts a draft), and the agent is its owner agent or holds a grant.
//! The run's id is derived from the request's, so a request executed again
//! (after a crash) finds the run it already started instead of a second.

use serde_json::{Map, Value, json};

use super::super::DomainError;
use super::service::{self, StartRun};
use crate::governance::trail;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, ServiceRequest};
use crate::platform::Platform;
use crate::store::{VersionStatus, Workflow};

pub const SERVICE: &str = "workflow";
pub const OPERATION: &str = "run";

/// Is `service.operation` this operation?
pub fn handles(service: &str, operation: &str) -> bool {
    service == SERVICE && operation == OPERATION
}

fn invalid(field: &str, message: &str) -> DomainError {
    DomainError::Invalid(format!("invalid field payload.{field}: {message}"))
}

/// The workflow a payload names, if `agent` may start it.
pub async fn check(
    platform: &Platform,
    agent: &Agent,
    payload: &Value,
) -> Result<Workflow, DomainError> {
    let map = payload
        .as_object()
        .ok_or_else(|| invalid("workflow_id", "the payload must be an object"))?;
    let id = map
        .get("workflow_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("workflow_id", "required"))?;
    if !matches!(map.get("input"), None | Some(Value::Object(_))) {
        return Err(invalid("input", "must be an object"));
    }
    let org = OrgId::from(&agent.org_id);
    let w = platform
        .stores
        .workflows
        .workflow(&org, id)
        .await?
        .filter(|w| w.deleted_at.is_none())
        .ok_or(DomainError::NotFound("workflow"))?;
    let own = w.agent_id == agent.id;
    if !own {
        let granted = platform
            .stores
            .workflows
            .granted_workflows(&org, &AgentId::from(&agent.id))
            .await?
            .iter()
            .any(|g| g.id == w.id);
        if !granted {
            // Not granted reads like not there: an agent learns nothing of
            // the organisation's other workflows.
            return Err(DomainError::NotFound("workflow"));
        }
    }
    if w.status != "active" {
        return Err(DomainError::Conflict {
            code: "workflow_archived",
            message: format!("workflow {} is archived", w.id),
        });
    }
    let published = platform
        .stores
        .workflows
        .versions(&org, &w.id)
        .await?
        .iter()
        .any(|v| v.status == VersionStatus::Published);
    if !published {
        return Err(DomainError::Conflict {
            code: "no_published_version",
            message: format!("workflow {} has no published version", w.id),
        });
    }
    Ok(w)
}

/// The id of the run `request` starts.
fn run_id(request: &ServiceRequest) -> String {
    let suffix = request
        .id
        .strip_prefix(ids::REQUEST)
        .and_then(|s| s.strip_prefix('_'))
        .unwrap_or(&request.id);
    format!("{}_{suffix}", ids::WORKFLOW_RUN)
}

fn result(run_id: &str, workflow_id: &str, version_id: &str, status: &str) -> Value {
    json!({
        "run_id": run_id,
        "workflow_id": workflow_id,
        "version_id": version_id,
        "status": status,
    })
}

/// Starts the run of a reserved request; the result the request reports.
pub async fn execute(
    platform: &Platform,
    agent: &Agent,
    request: &ServiceRequest,
) -> Result<Value, DomainError> {
    let org = OrgId::from(&request.org_id);
    let run_id = run_id(request);
    if let Some(run) = platform.stores.workflows.run(&org, &run_id).await? {
        return Ok(result(
            &run.id,
            &run.workflow_id,
            &run.version_id,
            run.status.as_str(),
        ));
    }
    let w = check(platform, agent, &request.payload).await?;
    let input = request
        .payload
        .get("input")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let start = StartRun {
        version_id: None,
        input,
        budget_cents: None,
        test_run: false,
        run_id: Some(run_id),
    };
    let by = trail::agent_actor(&agent.id);
    let run = service::start_run(platform, &w, start, by.clone(), by).await?;
    Ok(result(
        &run.id,
        &run.workflow_id,
        &run.version_id,
        run.status.as_str(),
    ))
}
