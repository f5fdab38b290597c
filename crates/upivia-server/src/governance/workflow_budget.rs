//! Service requests of a workflow run's steps (`metadata.workflow_run_id`,
//! set by the runner): the run must be an open run of the requesting
//! agent, and the request holds its estimate on the run's account
//! (`wfrun:<id>`, capped by the run's `budget_cents`, or unlimited and
//! still tracked) in the same all-or-nothing reservation as its other
//! budgets, so the steps of a run never spend more than its budget,
//! parallel branches included.

use super::GovernanceError;
use crate::domains::workflows::runner::RUN_KEY;
use crate::ids::OrgId;
use crate::model::{Account, Agent, Hold, HoldLimit, ReasonCode, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::StoreError;

pub type Block = (ReasonCode, String);

/// The hold on the run's account (`None` when the request names no run),
/// or why it is refused.
pub async fn admit(
    platform: &Platform,
    agent: &Agent,
    request: &ServiceRequest,
) -> Result<Result<Option<Hold>, Block>, GovernanceError> {
    let Some(raw) = request
        .metadata
        .as_ref()
        .and_then(|m| m.get(RUN_KEY))
        .filter(|v| !v.is_null())
    else {
        return Ok(Ok(None));
    };
    let not_found = |why: String| Ok(Err((ReasonCode::WorkflowRunNotFound, why)));
    let Some(run_id) = raw.as_str() else {
        return not_found(format!(
            "metadata.{RUN_KEY} must be a workflow run id (a string)"
        ));
    };
    let run = match platform
        .stores
        .workflows
        .run(&OrgId::from(&agent.org_id), run_id)
        .await
    {
        Ok(run) => run,
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let Some(run) = run.filter(|r| r.agent_id == agent.id && !r.status.is_terminal()) else {
        return not_found(format!(
            "no open workflow run {run_id} belongs to this agent"
        ));
    };
    Ok(Ok(Some(Hold {
        account: Account::WorkflowRun(run.id),
        limit: run
            .budget_cents
            .map_or(HoldLimit::Unlimited, |c| HoldLimit::Cap(Cents::new(c))),
    })))
}
