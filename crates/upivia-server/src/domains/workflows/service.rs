//! The rules of workflows. A workflow belongs to an agent, and every step
//! runs under that agent's governance. Who sees one: admins, whoever
//! created it, the agent's owner, and, once shared, the agent's team
//! (`team`) or the whole organisation (`org`). Who changes it, saves
//! versions, asks to publish, runs it and grants it: whoever may manage
//! its agent. Publishing is decided in the approvals inbox by an admin
//! (`inbox.rs`); a version that is not published runs only as a test run.

use serde_json::{Value, json};

use super::super::DomainError;
use super::super::agents::service::{manageable, may_act_for};
use super::super::human_input::service as human_input;
use super::definition::Definition;
use super::runner;
use super::state::{self, StepStatus};
use crate::governance::trail;
use crate::ids::{self, AgentId, OrgId, UserId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    GrantChange, HumanInputStatus, PublishRequest, PublishStatus, RunStatus, SaveRun, StoreError,
    VersionStatus, Workflow, WorkflowGrant, WorkflowRun, WorkflowVersion,
};

pub const SHARE_SCOPES: [&str; 3] = ["private", "team", "org"];
pub const STATUSES: [&str; 2] = ["active", "archived"];

fn event(user: &UserPrincipal, kind: &str, w: &Workflow, details: Value) -> AuditEvent {
    let mut details = details;
    details["workflow_id"] = json!(w.id);
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(&w.agent_id)
        .with_details(details)
}

/// Whether `user` may see `w`.
async fn visible(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
) -> Result<bool, DomainError> {
    if user.role >= Role::Admin
        || w.created_by == trail::user_actor(&user.user_id)
        || w.share_scope == "org"
    {
        return Ok(true);
    }
    let org = OrgId::from(&user.org_id);
    let Some(agent) = platform
        .stores
        .agents
        .agent(&org, &AgentId::from(&w.agent_id))
        .await?
    else {
        return Ok(false);
    };
    if agent.owner_user_id.as_deref() == Some(user.user_id.as_str()) {
        return Ok(true);
    }
    if w.share_scope == "team"
        && let Some(team) = &agent.team_id
    {
        return Ok(platform
            .stores
            .teams
            .membership(&org, team, &UserId::from(&user.user_id))
            .await?
            .is_some());
    }
    Ok(false)
}

/// A workflow the caller may see.
pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<Workflow, DomainError> {
    let w = platform
        .stores
        .workflows
        .workflow(&OrgId::from(&user.org_id), id)
        .await?
        .ok_or(DomainError::NotFound("workflow"))?;
    if visible(platform, user, &w).await? {
        Ok(w)
    } else {
        Err(DomainError::NotFound("workflow"))
    }
}

/// A workflow the caller may change (they manage its agent).
pub async fn managed(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<Workflow, DomainError> {
    let w = get(platform, user, id).await?;
    may_act_for(platform, user, &AgentId::from(&w.agent_id), "workflow").await?;
    Ok(w)
}

pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    category: Option<String>,
) -> Result<Vec<Workflow>, DomainError> {
    let all = platform
        .stores
        .workflows
        .workflows(&OrgId::from(&user.org_id), category)
        .await?;
    let mut shown = Vec::new();
    for w in all {
        if visible(platform, user, &w).await? {
            shown.push(w);
        }
    }
    Ok(shown)
}

#[derive(Clone, Debug, Default)]
pub struct WorkflowFields {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub icon: Option<Option<String>>,
    pub status: Option<String>,
}

pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
    fields: WorkflowFields,
) -> Result<Workflow, DomainError> {
    let agent = manageable(platform, user, &AgentId::from(agent_id)).await?;
    let now = platform.clock.now();
    let w = Workflow {
        id: ids::new_id(ids::WORKFLOW),
        org_id: user.org_id.clone(),
        agent_id: agent.agent().id.clone(),
        name: fields.name.unwrap_or_else(|| "Untitled workflow".into()),
        description: fields.description.flatten(),
        category: fields.category.flatten(),
        icon: fields.icon.flatten(),
        status: fields.status.unwrap_or_else(|| "active".into()),
        share_scope: "private".into(),
        created_by: trail::user_actor(&user.user_id),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let audit = event(user, "workflow.created", &w, json!({"name": w.name}));
    Ok(platform.stores.workflows.create_workflow(w, audit).await?)
}

async fn save(
    platform: &Platform,
    user: &UserPrincipal,
    current: &Workflow,
    next: Workflow,
    kind: &str,
    details: Value,
) -> Result<Workflow, DomainError> {
    let audit = event(user, kind, &next, details);
    platform
        .stores
        .workflows
        .save_workflow(next, current.updated_at, audit)
        .await
        .map_err(DomainError::missing("workflow"))
}

pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    f: WorkflowFields,
) -> Result<Workflow, DomainError> {
    let current = managed(platform, user, id).await?;
    let mut next = current.clone();
    if let Some(v) = f.name {
        next.name = v;
    }
    if let Some(v) = f.description {
        next.description = v;
    }
    if let Some(v) = f.category {
        next.category = v;
    }
    if let Some(v) = f.icon {
        next.icon = v;
    }
    if let Some(v) = f.status {
        next.status = v;
    }
    next.updated_at = platform.clock.now();
    save(
        platform,
        user,
        &current,
        next,
        "workflow.updated",
        json!({}),
    )
    .await
}

pub async fn share(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    scope: &str,
) -> Result<Workflow, DomainError> {
    let current = managed(platform, user, id).await?;
    let mut next = current.clone();
    next.share_scope = scope.to_owned();
    next.updated_at = platform.clock.now();
    save(
        platform,
        user,
        &current,
        next,
        "workflow.shared",
        json!({"scope": scope}),
    )
    .await
}

/// Deletes the workflow (its versions and runs stay, for the record); its
/// open runs are cancelled.
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<(), DomainError> {
    let current = managed(platform, user, id).await?;
    let mut next = current.clone();
    let now = platform.clock.now();
    next.updated_at = now;
    next.deleted_at = Some(now);
    save(
        platform,
        user,
        &current,
        next,
        "workflow.deleted",
        json!({"name": current.name}),
    )
    .await?;
    let open = platform
        .stores
        .workflows
        .runs(
            &OrgId::from(&user.org_id),
            Some(current.id.clone()),
            None,
            500,
        )
        .await?;
    for run in open.into_iter().filter(|r| !r.status.is_terminal()) {
        cancel_run(platform, user, &current, &run.id).await?;
    }
    Ok(())
}

pub async fn versions(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
) -> Result<Vec<WorkflowVersion>, DomainError> {
    Ok(platform
        .stores
        .workflows
        .versions(&OrgId::from(&user.org_id), &w.id)
        .await?)
}

/// Saves a draft version after checking its definition.
pub async fn create_version(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    body: Value,
) -> Result<WorkflowVersion, DomainError> {
    let w = managed(platform, user, id).await?;
    let def = Definition::parse(&body).map_err(|e| DomainError::Invalid(e.0))?;
    let org = OrgId::from(&user.org_id);
    for step in &def.steps {
        if let super::definition::StepKind::ServiceRequest {
            service, operation, ..
        } = &step.kind
        {
            crate::domains::triggers::service::check_operation(platform, &org, service, operation)
                .await
                .map_err(|e| match e {
                    DomainError::Invalid(m) => {
                        DomainError::Invalid(format!("step {:?}: {m}", step.id))
                    }
                    other => other,
                })?;
        }
    }
    let definition =
        json!({"steps": body["steps"], "edges": body.get("edges").cloned().unwrap_or(json!([]))});
    let v = WorkflowVersion {
        id: ids::new_id(ids::WORKFLOW_VERSION),
        workflow_id: w.id.clone(),
        org_id: user.org_id.clone(),
        number: 0,
        status: VersionStatus::Draft,
        definition,
        created_by: trail::user_actor(&user.user_id),
        created_at: platform.clock.now(),
        published_at: None,
    };
    let audit = event(
        user,
        "workflow.version_created",
        &w,
        json!({"version_id": v.id, "steps": def.steps.len()}),
    );
    Ok(platform.stores.workflows.create_version(v, audit).await?)
}

async fn version_of(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    version_id: &str,
) -> Result<WorkflowVersion, DomainError> {
    platform
        .stores
        .workflows
        .version(&OrgId::from(&user.org_id), version_id)
        .await?
        .filter(|v| v.workflow_id == w.id)
        .ok_or(DomainError::NotFound("workflow version"))
}

/// Asks for a version to be published: a pending request an admin
/// decides in the approvals inbox.
pub async fn request_publish(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    version_id: &str,
    note: Option<String>,
) -> Result<PublishRequest, DomainError> {
    let w = managed(platform, user, id).await?;
    let v = version_of(platform, user, &w, version_id).await?;
    if v.status == VersionStatus::Published {
        return Err(DomainError::Conflict {
            code: "already_published",
            message: format!("version {} is already published", v.id),
        });
    }
    let request = PublishRequest {
        id: ids::new_id(ids::PUBLISH_REQUEST),
        org_id: user.org_id.clone(),
        workflow_id: w.id.clone(),
        version_id: v.id.clone(),
        workflow_name: w.name.clone(),
        agent_id: w.agent_id.clone(),
        status: PublishStatus::Pending,
        requested_by: trail::user_actor(&user.user_id),
        note,
        decided_by: None,
        decided_at: None,
        created_at: platform.clock.now(),
    };
    let audit = event(
        user,
        "workflow.publish_requested",
        &w,
        json!({"version_id": v.id, "publish_request_id": request.id}),
    );
    Ok(platform
        .stores
        .workflows
        .request_publish(request, audit)
        .await?)
}

pub async fn unpublish(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    version_id: &str,
) -> Result<WorkflowVersion, DomainError> {
    let w = managed(platform, user, id).await?;
    let v = version_of(platform, user, &w, version_id).await?;
    if v.status != VersionStatus::Published {
        return Err(DomainError::Conflict {
            code: "not_published",
            message: format!("version {} is not published", v.id),
        });
    }
    let audit = event(
        user,
        "workflow.unpublished",
        &w,
        json!({"version_id": v.id}),
    );
    platform
        .stores
        .workflows
        .unpublish_version(
            &OrgId::from(&user.org_id),
            &v.id,
            platform.clock.now(),
            audit,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => DomainError::Conflict {
                code: "not_published",
                message: format!("version {} is not published", v.id),
            },
            other => other.into(),
        })
}

/// What starting a run asks for.
#[derive(Clone, Debug)]
pub struct StartRun {
    pub version_id: Option<String>,
    pub input: Value,
    pub budget_cents: Option<i64>,
    pub test_run: bool,
    /// The run's id when the caller fixes it (`workflow.run` derives it
    /// from its request, so a repeated request finds its run); else fresh.
    pub run_id: Option<String>,
}

/// Starts a run (the runner takes it in the background); `by` is who
/// started it (`user:…`, or `agent:…` through `workflow.run`).
pub async fn start_run(
    platform: &Platform,
    w: &Workflow,
    start: StartRun,
    by: String,
    audit_actor: String,
) -> Result<WorkflowRun, DomainError> {
    let org = OrgId::from(&w.org_id);
    let versions = platform.stores.workflows.versions(&org, &w.id).await?;
    let version = match &start.version_id {
        Some(id) => versions
            .iter()
            .find(|v| &v.id == id)
            .ok_or(DomainError::NotFound("workflow version"))?,
        None => versions
            .iter()
            .find(|v| v.status == VersionStatus::Published)
            .ok_or_else(|| DomainError::Conflict {
                code: "no_published_version",
                message: "the workflow has no published version: name workflow_version_id \
                          and test_run: true to run a draft"
                    .into(),
            })?,
    };
    if version.status != VersionStatus::Published && !start.test_run {
        return Err(DomainError::Conflict {
            code: "version_not_published",
            message: format!(
                "version {} is a draft: publish it (an admin approves), or run it with test_run: true",
                version.id
            ),
        });
    }
    let def = Definition::parse(&version.definition)
        .map_err(|e| StoreError::Corrupt(format!("version {}: {e}", version.id)))?;
    let now = platform.clock.now();
    let run = WorkflowRun {
        id: start
            .run_id
            .clone()
            .unwrap_or_else(|| ids::new_id(ids::WORKFLOW_RUN)),
        org_id: w.org_id.clone(),
        workflow_id: w.id.clone(),
        version_id: version.id.clone(),
        agent_id: w.agent_id.clone(),
        status: RunStatus::Pending,
        input: start.input,
        budget_cents: start.budget_cents,
        test_run: start.test_run,
        error: None,
        steps: state::to_value(&state::initial(&def)),
        revision: 0,
        triggered_by: by,
        lease_until: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let audit = AuditEvent::new(&w.org_id, "workflow.run_started", audit_actor)
        .with_agent(&w.agent_id)
        .with_details(json!({
            "workflow_id": w.id,
            "run_id": run.id,
            "version_id": version.id,
            "test_run": start.test_run,
            "budget_cents": start.budget_cents,
        }));
    let run = platform.stores.workflows.create_run(run, audit).await?;
    runner::kick(platform, &run.id);
    Ok(run)
}

pub async fn run_of(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
) -> Result<WorkflowRun, DomainError> {
    platform
        .stores
        .workflows
        .run(&OrgId::from(&user.org_id), run_id)
        .await?
        .filter(|r| r.workflow_id == w.id)
        .ok_or(DomainError::NotFound("workflow run"))
}

/// Applies `change` to the run's steps (compare-and-set, retried when the
/// runner moved it meanwhile), writing `kind`; the runner then goes on.
async fn change_run(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
    kind: &str,
    change: impl Fn(&mut WorkflowRun, &mut Vec<state::StepState>) -> Result<Value, DomainError>,
) -> Result<WorkflowRun, DomainError> {
    for _ in 0..5 {
        let mut run = run_of(platform, user, w, run_id).await?;
        let mut steps = state::parse(&run.steps)
            .map_err(|e| StoreError::Corrupt(format!("steps of run {run_id}: {e}")))?;
        let details = change(&mut run, &mut steps)?;
        let expected = run.revision;
        run.steps = state::to_value(&steps);
        let mut details = details;
        details["run_id"] = json!(run.id);
        let audit = event(user, kind, w, details);
        match platform
            .stores
            .workflows
            .save_run(SaveRun {
                run,
                expected_revision: expected,
                now: platform.clock.now(),
                audit: vec![audit],
            })
            .await
        {
            Ok(saved) => {
                runner::kick(platform, &saved.id);
                return Ok(saved);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(DomainError::Conflict {
        code: "conflict",
        message: "the run kept changing; try again".into(),
    })
}

fn refuse_terminal(run: &WorkflowRun) -> Result<(), DomainError> {
    if run.status.is_terminal() && run.status != RunStatus::Failed {
        return Err(DomainError::Conflict {
            code: "run_finished",
            message: format!("the run is {}", run.status.as_str()),
        });
    }
    Ok(())
}

pub async fn cancel_run(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
) -> Result<WorkflowRun, DomainError> {
    let now = platform.clock.now();
    let run = change_run(
        platform,
        user,
        w,
        run_id,
        "workflow.run_cancelled",
        |run, _| {
            if run.status.is_terminal() {
                return Err(DomainError::Conflict {
                    code: "run_finished",
                    message: format!("the run is already {}", run.status.as_str()),
                });
            }
            run.status = RunStatus::Cancelled;
            run.finished_at = Some(now);
            run.error = Some(format!("cancelled by {}", trail::user_actor(&user.user_id)));
            Ok(json!({}))
        },
    )
    .await?;
    // Its questions to people no longer wait for an answer.
    human_input::cancel_for_run(
        platform,
        &OrgId::from(&run.org_id),
        &run.id,
        "the workflow run was cancelled",
    )
    .await?;
    Ok(run)
}

/// A new attempt of each step in `which` that failed: completed steps keep
/// their results; what follows them runs after.
fn retry(
    run: &mut WorkflowRun,
    steps: &mut [state::StepState],
    which: Option<&str>,
) -> Result<Value, DomainError> {
    refuse_terminal(run)?;
    let mut retried = Vec::new();
    for s in steps.iter_mut() {
        if which.is_some_and(|id| id != s.step_id) {
            continue;
        }
        if s.status != StepStatus::Failed {
            if which.is_some() {
                return Err(DomainError::Conflict {
                    code: "step_not_failed",
                    message: format!(
                        "step {} is {}: only a failed step is retried",
                        s.step_id,
                        s.status.as_str()
                    ),
                });
            }
            continue;
        }
        s.status = StepStatus::Pending;
        s.attempt += 1;
        s.error = None;
        s.request_id = None;
        s.gate_id = None;
        s.result = None;
        s.started_at = None;
        s.finished_at = None;
        retried.push(s.step_id.clone());
    }
    if which.is_some() && retried.is_empty() {
        return Err(DomainError::NotFound("workflow step"));
    }
    if retried.is_empty() {
        return Err(DomainError::Conflict {
            code: "nothing_failed",
            message: "no step of the run failed".into(),
        });
    }
    run.status = RunStatus::Running;
    run.error = None;
    run.finished_at = None;
    Ok(json!({"steps": retried}))
}

pub async fn rerun_failed(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
) -> Result<WorkflowRun, DomainError> {
    change_run(
        platform,
        user,
        w,
        run_id,
        "workflow.run_retried",
        |run, steps| retry(run, steps, None),
    )
    .await
}

pub async fn retry_step(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
    step_id: &str,
) -> Result<WorkflowRun, DomainError> {
    change_run(
        platform,
        user,
        w,
        run_id,
        "workflow.step_retried",
        |run, steps| {
            if state::find(steps, step_id).is_none() {
                return Err(DomainError::NotFound("workflow step"));
            }
            retry(run, steps, Some(step_id))
        },
    )
    .await
}

/// Skips a step that has not completed: what follows it runs as if it had.
pub async fn skip_step(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
    run_id: &str,
    step_id: &str,
) -> Result<WorkflowRun, DomainError> {
    let now = crate::clock::rfc3339(platform.clock.now());
    let run = change_run(
        platform,
        user,
        w,
        run_id,
        "workflow.step_skipped",
        |run, steps| {
            refuse_terminal(run)?;
            let s =
                state::find_mut(steps, step_id).ok_or(DomainError::NotFound("workflow step"))?;
            if matches!(
                s.status,
                StepStatus::Completed | StepStatus::Skipped | StepStatus::Running
            ) {
                return Err(DomainError::Conflict {
                    code: "step_not_skippable",
                    message: format!(
                        "step {step_id} is {}: only a pending, waiting or failed step is skipped",
                        s.status.as_str()
                    ),
                });
            }
            s.status = StepStatus::Skipped;
            s.skip_reason = Some("manual".into());
            s.decided_by = Some(trail::user_actor(&user.user_id));
            s.finished_at = Some(now.clone());
            run.status = RunStatus::Running;
            run.error = None;
            run.finished_at = None;
            Ok(json!({"step_id": step_id}))
        },
    )
    .await?;
    // A skipped human-input step no longer waits for its answer.
    for row in platform
        .stores
        .human_input
        .human_inputs_of_run(&OrgId::from(&run.org_id), &run.id)
        .await?
    {
        if row.step_id.as_deref() == Some(step_id) && row.status == HumanInputStatus::Pending {
            human_input::cancel(platform, &row, "the step was skipped").await?;
        }
    }
    Ok(run)
}

pub async fn grants(
    platform: &Platform,
    user: &UserPrincipal,
    w: &Workflow,
) -> Result<Vec<WorkflowGrant>, DomainError> {
    Ok(platform
        .stores
        .workflows
        .grants(&OrgId::from(&user.org_id), &w.id)
        .await?)
}

/// Grants the workflow to an agent of the organisation as a skill it may
/// start itself (`workflow.run`); its steps still run as the workflow's
/// agent, under that agent's governance.
pub async fn set_grant(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    agent_id: &str,
    granted: bool,
) -> Result<(), DomainError> {
    let w = managed(platform, user, id).await?;
    let org = OrgId::from(&user.org_id);
    let agent = platform
        .stores
        .agents
        .agent(&org, &AgentId::from(agent_id))
        .await?
        .ok_or(DomainError::NotFound("agent"))?;
    let kind = if granted {
        "workflow.granted"
    } else {
        "workflow.revoked"
    };
    let audit = event(user, kind, &w, json!({"granted_agent_id": agent.id}));
    platform
        .stores
        .workflows
        .set_grant(GrantChange {
            org_id: org,
            workflow_id: w.id.clone(),
            agent_id: AgentId::from(&agent.id),
            granted,
            by: trail::user_actor(&user.user_id),
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("grant"))
}
