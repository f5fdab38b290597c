//! Workflow decisions in the approvals inbox, beside approval gates and
//! outcome reviews: publish requests (`wpr_…`, `kind: "workflow_publish"`;
//! approving publishes the version, rejecting leaves it a draft) and the
//! gates of approval steps (`wfg_…`, `kind: "workflow_approval"`;
//! approving completes the step, rejecting fails it). Each is decided
//! once: a second decision is 409 `approval_already_decided`.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::super::DomainError;
use super::runner::{self, parse_gate};
use super::state::{self, StepStatus};
use crate::clock::rfc3339;
use crate::governance::trail;
use crate::ids::{OrgId, UserId};
use crate::model::{ApprovalStatus, AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    DecidePublish, PublishDecision, PublishRequest, PublishStatus, RunStatus, SaveRun, StoreError,
};

pub fn names(id: &str) -> bool {
    id.starts_with("wpr_") || id.starts_with("wfg_")
}

fn publish_row(p: &PublishRequest) -> Value {
    json!({
        "id": p.id,
        "kind": "workflow_publish",
        "publish_request_id": p.id,
        "workflow_id": p.workflow_id,
        "workflow_name": p.workflow_name,
        "version_id": p.version_id,
        "agent_id": p.agent_id,
        "requested_by": p.requested_by,
        "note": p.note,
        "status": p.status.as_str(),
        "expires_at": null,
        "created_at": rfc3339(p.created_at),
        "decided_at": p.decided_at.map(rfc3339),
        "decided_by": p.decided_by,
    })
}

/// The inbox rows of workflows, with their times (for the inbox's order).
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    status: Option<ApprovalStatus>,
) -> Result<Vec<(OffsetDateTime, Value)>, DomainError> {
    let org = OrgId::from(&user.org_id);
    let publish_filter = match status {
        None => Some(None),
        Some(ApprovalStatus::Pending) => Some(Some(PublishStatus::Pending)),
        Some(ApprovalStatus::Approved) => Some(Some(PublishStatus::Approved)),
        Some(ApprovalStatus::Rejected) => Some(Some(PublishStatus::Rejected)),
        Some(ApprovalStatus::Expired) => None,
    };
    let mut rows = Vec::new();
    if let Some(filter) = publish_filter {
        for p in platform
            .stores
            .workflows
            .publish_requests(&org, filter)
            .await?
        {
            rows.push((p.created_at, publish_row(&p)));
        }
    }
    // Open gates only: a decided gate is the step's state.
    if matches!(status, None | Some(ApprovalStatus::Pending)) {
        let waiting = platform
            .stores
            .workflows
            .runs(&org, None, Some(RunStatus::WaitingApproval), 500)
            .await?;
        for run in waiting {
            let Ok(steps) = state::parse(&run.steps) else {
                continue;
            };
            for s in steps
                .iter()
                .filter(|s| s.status == StepStatus::WaitingApproval)
            {
                let Some(gate) = &s.gate_id else { continue };
                rows.push((
                    run.created_at,
                    json!({
                        "id": gate,
                        "kind": "workflow_approval",
                        "workflow_id": run.workflow_id,
                        "run_id": run.id,
                        "step_id": s.step_id,
                        "label": s.label,
                        "agent_id": run.agent_id,
                        "status": "pending",
                        "expires_at": null,
                        "created_at": s.started_at,
                    }),
                ));
            }
        }
    }
    Ok(rows)
}

fn already(status: &str) -> DomainError {
    DomainError::Conflict {
        code: "approval_already_decided",
        message: format!("this was already {status}"),
    }
}

/// Approves (`true`) or rejects a publish request or a gate.
pub async fn decide(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    approve: bool,
    note: Option<&str>,
) -> Result<Value, DomainError> {
    if id.starts_with("wpr_") {
        decide_publish(platform, user, id, approve, note).await
    } else {
        decide_gate(platform, user, id, approve, note).await
    }
}

async fn decide_publish(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    approve: bool,
    note: Option<&str>,
) -> Result<Value, DomainError> {
    let org = OrgId::from(&user.org_id);
    let request = platform
        .stores
        .workflows
        .publish_request(&org, id)
        .await?
        .ok_or(DomainError::NotFound("approval"))?;
    let kind = if approve {
        "workflow.published"
    } else {
        "workflow.publish_rejected"
    };
    let audit = AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(&request.agent_id)
        .with_details(json!({
            "workflow_id": request.workflow_id,
            "version_id": request.version_id,
            "publish_request_id": request.id,
            "note": note,
        }));
    let decided = platform
        .stores
        .workflows
        .decide_publish(DecidePublish {
            org_id: org,
            id: id.to_owned(),
            approve,
            user_id: UserId::from(&user.user_id),
            note: note.map(str::to_owned),
            now: platform.clock.now(),
            audit,
        })
        .await?;
    match decided {
        PublishDecision::Decided(_) => {
            let latest = platform
                .stores
                .workflows
                .publish_request(&OrgId::from(&user.org_id), id)
                .await?
                .ok_or(DomainError::NotFound("approval"))?;
            Ok(json!({
                "status": latest.status.as_str(),
                "kind": "workflow_publish",
                "publish_request": publish_row(&latest),
                "version_id": latest.version_id,
                "published": approve,
            }))
        }
        PublishDecision::AlreadyDecided(p) => Err(already(p.status.as_str())),
    }
}

async fn decide_gate(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    approve: bool,
    note: Option<&str>,
) -> Result<Value, DomainError> {
    let (run_id, step_id) = parse_gate(id).ok_or(DomainError::NotFound("approval"))?;
    let org = OrgId::from(&user.org_id);
    for _ in 0..5 {
        let run = platform
            .stores
            .workflows
            .run(&org, &run_id)
            .await?
            .ok_or(DomainError::NotFound("approval"))?;
        let mut steps = state::parse(&run.steps)
            .map_err(|e| StoreError::Corrupt(format!("steps of run {run_id}: {e}")))?;
        let s = state::find_mut(&mut steps, &step_id)
            .filter(|s| s.gate_id.as_deref() == Some(id))
            .ok_or(DomainError::NotFound("approval"))?;
        if s.status != StepStatus::WaitingApproval || run.status.is_terminal() {
            return Err(already(match s.status {
                StepStatus::Completed => "approved",
                StepStatus::Failed => "rejected",
                _ => "decided",
            }));
        }
        let by = trail::user_actor(&user.user_id);
        let now = platform.clock.now();
        if approve {
            s.status = StepStatus::Completed;
            s.result = Some(json!({"approved": true, "by": by, "note": note}));
        } else {
            s.status = StepStatus::Failed;
            s.error = Some(match note {
                Some(n) => format!("rejected by {by}: {n}"),
                None => format!("rejected by {by}"),
            });
        }
        s.decided_by = Some(by.clone());
        s.finished_at = Some(rfc3339(now));
        let kind = if approve {
            "workflow.step_approved"
        } else {
            "workflow.step_rejected"
        };
        let audit = AuditEvent::new(&user.org_id, kind, by)
            .with_agent(&run.agent_id)
            .with_details(json!({
                "workflow_id": run.workflow_id,
                "run_id": run.id,
                "step_id": step_id,
                "gate_id": id,
                "note": note,
            }));
        let mut next = run.clone();
        next.steps = state::to_value(&steps);
        match platform
            .stores
            .workflows
            .save_run(SaveRun {
                run: next,
                expected_revision: run.revision,
                now,
                audit: vec![audit],
            })
            .await
        {
            Ok(saved) => {
                runner::kick(platform, &saved.id);
                return Ok(json!({
                    "status": if approve { "approved" } else { "rejected" },
                    "kind": "workflow_approval",
                    "run_id": saved.id,
                    "step_id": step_id,
                }));
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
