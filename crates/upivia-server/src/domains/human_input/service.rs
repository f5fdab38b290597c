//! The rules of human-input requests. The platform asks (a workflow's
//! `human_input` step through the runner, a room's agent through the
//! rooms domain) with `ask`, idempotent under a key. A member sees and
//! answers the requests assigned to their email and the unassigned ones;
//! an admin or the owner every request of the organisation; nobody another
//! organisation's (404). A request is answered once (409
//! `human_input_already_answered`, or `human_input_cancelled`); the answer
//! and its audit event are one transaction, and then the paused work is
//! resumed by its source: a workflow run is advanced (its runner reads the
//! answer into the step's result), a room is handed the row.

use serde_json::json;

use super::super::DomainError;
use crate::governance::trail;
use crate::ids::{self, OrgId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    AnswerHumanInput, CancelHumanInput, HumanInput, HumanInputAsked, HumanInputClosed,
    HumanInputQuery, HumanInputSource, HumanInputStatus, HumanInputViewer, NewHumanInput,
    StoreError,
};

/// The id prefix of a request.
pub const PREFIX: &str = "hin";
/// The longest answer, in bytes.
pub const ANSWER_MAX_BYTES: usize = 16 * 1024;
const LIST_LIMIT: u32 = 500;

/// What paused, and so what an answer resumes.
#[derive(Clone, Debug)]
pub enum Source {
    Workflow {
        workflow_id: String,
        workflow_name: Option<String>,
        run_id: String,
        step_id: String,
        agent_id: String,
    },
    Room {
        room_id: String,
        agent_id: Option<String>,
    },
}

/// A question for a person.
#[derive(Clone, Debug)]
pub struct Ask {
    pub org_id: OrgId,
    pub title: String,
    pub prompt_text: String,
    /// `None`: anyone of the organisation may answer.
    pub assignee_email: Option<String>,
    pub source: Source,
    /// Asked again under the same key, the first request is returned and
    /// nothing is written (a retried or concurrent caller).
    pub dedupe_key: Option<String>,
    /// Who asks, for the audit trail (`workflow_run:<id>`, `agent:<id>`).
    pub actor: String,
}

/// Makes a pending request (audited `human_input.requested`), or returns
/// the one asked under the same key before.
pub async fn ask(platform: &Platform, ask: Ask) -> Result<HumanInput, DomainError> {
    let id = ids::new_id(PREFIX);
    let assignee = ask
        .assignee_email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let (source, workflow_id, workflow_name, run_id, step_id, room_id, agent_id) = match ask.source
    {
        Source::Workflow {
            workflow_id,
            workflow_name,
            run_id,
            step_id,
            agent_id,
        } => (
            HumanInputSource::Workflow,
            Some(workflow_id),
            workflow_name,
            Some(run_id),
            Some(step_id),
            None,
            Some(agent_id),
        ),
        Source::Room { room_id, agent_id } => (
            HumanInputSource::Room,
            None,
            None,
            None,
            None,
            Some(room_id),
            agent_id,
        ),
    };
    let mut audit = AuditEvent::new(ask.org_id.as_str(), "human_input.requested", ask.actor)
        .with_details(json!({
            "human_input_id": id,
            "source": source.as_str(),
            "title": ask.title,
            "assignee_email": assignee,
            "workflow_id": workflow_id,
            "workflow_run_id": run_id,
            "step_id": step_id,
            "room_id": room_id,
        }));
    if let Some(agent) = &agent_id {
        audit = audit.with_agent(agent);
    }
    let asked = platform
        .stores
        .human_input
        .ask_human(NewHumanInput {
            id,
            org_id: ask.org_id,
            source,
            title: ask.title,
            prompt_text: ask.prompt_text,
            assignee_email: assignee,
            workflow_id,
            workflow_name,
            workflow_run_id: run_id,
            step_id,
            room_id,
            agent_id,
            dedupe_key: ask.dedupe_key,
            now: platform.clock.now(),
            audit,
        })
        .await?;
    Ok(match asked {
        HumanInputAsked::Created(r) | HumanInputAsked::Existing(r) => r,
    })
}

fn sees_all(user: &UserPrincipal) -> bool {
    user.role >= Role::Admin
}

fn assigned_to(row: &HumanInput, user: &UserPrincipal) -> bool {
    row.assignee_email
        .as_deref()
        .is_none_or(|e| e.eq_ignore_ascii_case(&user.email))
}

/// The requests the caller may see, newest first; `status` `None` is all.
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    status: Option<HumanInputStatus>,
) -> Result<Vec<HumanInput>, DomainError> {
    let viewer = if sees_all(user) {
        HumanInputViewer::Everyone
    } else {
        HumanInputViewer::Assignee(user.email.clone())
    };
    Ok(platform
        .stores
        .human_input
        .human_inputs(HumanInputQuery {
            org_id: OrgId::from(&user.org_id),
            viewer,
            status,
            limit: LIST_LIMIT,
        })
        .await?)
}

/// A request the caller may see: another organisation's is 404, one
/// assigned to someone else is 403 for a member.
async fn visible(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<HumanInput, DomainError> {
    let row = platform
        .stores
        .human_input
        .human_input(&OrgId::from(&user.org_id), id)
        .await?
        .ok_or(DomainError::NotFound("human input request"))?;
    if !sees_all(user) && !assigned_to(&row, user) {
        return Err(DomainError::Forbidden(
            "this request is assigned to someone else; an admin or its assignee answers it".into(),
        ));
    }
    Ok(row)
}

fn closed(row: &HumanInput) -> DomainError {
    match row.status {
        HumanInputStatus::Cancelled => DomainError::Conflict {
            code: "human_input_cancelled",
            message: "this request was cancelled: the work that asked no longer waits".into(),
        },
        _ => DomainError::Conflict {
            code: "human_input_already_answered",
            message: format!(
                "this request was already answered by {}",
                row.answered_by_email.as_deref().unwrap_or("someone")
            ),
        },
    }
}

/// Checks what the caller may answer before the answer's text is read,
/// so an unknown id is 404 and someone else's 403 whatever the body.
pub async fn answerable(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<HumanInput, DomainError> {
    let row = visible(platform, user, id).await?;
    if row.status != HumanInputStatus::Pending {
        return Err(closed(&row));
    }
    Ok(row)
}

/// Answers a pending request once, then resumes what it paused.
pub async fn answer(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    text: String,
) -> Result<HumanInput, DomainError> {
    let row = answerable(platform, user, id).await?;
    if text.trim().is_empty() {
        return Err(DomainError::Invalid(
            "invalid field text: must not be empty".into(),
        ));
    }
    // A request whose run ended meanwhile (a cancel whose cleanup a crash
    // cut off) no longer resumes anything: it is cancelled instead.
    if let (HumanInputSource::Workflow, Some(run_id)) = (row.source, &row.workflow_run_id) {
        let run = platform
            .stores
            .workflows
            .run(&OrgId::from(&row.org_id), run_id)
            .await?;
        if run.is_none_or(|r| r.status.is_terminal()) {
            cancel(platform, &row, "the workflow run ended").await?;
            return Err(closed(&HumanInput {
                status: HumanInputStatus::Cancelled,
                ..row
            }));
        }
    }
    let by = trail::user_actor(&user.user_id);
    let mut audit = AuditEvent::new(&user.org_id, "human_input.answered", by).with_details(json!({
        "human_input_id": row.id,
        "source": row.source.as_str(),
        "title": row.title,
        "answer_text": text,
        "answered_by": user.email,
        "workflow_run_id": row.workflow_run_id,
        "step_id": row.step_id,
        "room_id": row.room_id,
    }));
    if let Some(agent) = &row.agent_id {
        audit = audit.with_agent(agent);
    }
    let closed_row = platform
        .stores
        .human_input
        .answer_human_input(AnswerHumanInput {
            org_id: OrgId::from(&user.org_id),
            id: row.id.clone(),
            text,
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("human input request"))?;
    let answered = match closed_row {
        HumanInputClosed::Closed(r) => r,
        HumanInputClosed::AlreadyClosed(r) => return Err(closed(&r)),
    };
    resume(platform, &answered).await?;
    Ok(answered)
}

/// Hands an answered request to the work it paused.
async fn resume(platform: &Platform, row: &HumanInput) -> Result<(), DomainError> {
    match row.source {
        // The runner reads the answer into the step (`runner.rs`, on its
        // next pass of the run); this pass starts now rather than on the
        // automation loop's next tick.
        HumanInputSource::Workflow => {
            if let Some(run_id) = &row.workflow_run_id {
                crate::domains::workflows::runner::kick(platform, run_id);
            }
            Ok(())
        }
        // Nothing pauses a room on a person yet (its agents' replies run
        // to the end or fail), so no request of this source is created;
        // an answer to one would be recorded (row and audit event) and
        // resume nothing.
        HumanInputSource::Room => Ok(()),
    }
}

/// Cancels a pending request (audited `human_input.cancelled`); one no
/// longer pending is left as it is.
pub async fn cancel(
    platform: &Platform,
    row: &HumanInput,
    reason: &str,
) -> Result<(), DomainError> {
    let mut audit = AuditEvent::new(
        &row.org_id,
        "human_input.cancelled",
        match &row.workflow_run_id {
            Some(run) => format!("workflow_run:{run}"),
            None => trail::SYSTEM.to_owned(),
        },
    )
    .with_details(json!({
        "human_input_id": row.id,
        "source": row.source.as_str(),
        "reason": reason,
        "workflow_run_id": row.workflow_run_id,
        "step_id": row.step_id,
        "room_id": row.room_id,
    }));
    if let Some(agent) = &row.agent_id {
        audit = audit.with_agent(agent);
    }
    match platform
        .stores
        .human_input
        .cancel_human_input(CancelHumanInput {
            org_id: OrgId::from(&row.org_id),
            id: row.id.clone(),
            now: platform.clock.now(),
            audit,
        })
        .await
    {
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Cancels the pending requests of a workflow run (it was cancelled).
pub async fn cancel_for_run(
    platform: &Platform,
    org_id: &OrgId,
    run_id: &str,
    reason: &str,
) -> Result<(), DomainError> {
    for row in platform
        .stores
        .human_input
        .human_inputs_of_run(org_id, run_id)
        .await?
    {
        if row.status == HumanInputStatus::Pending {
            cancel(platform, &row, reason).await?;
        }
    }
    Ok(())
}

/// How many of the organisation's requests are pending.
pub async fn pending_count(platform: &Platform, org_id: &OrgId) -> Result<u64, DomainError> {
    Ok(platform
        .stores
        .human_input
        .pending_human_inputs(org_id)
        .await?)
}
