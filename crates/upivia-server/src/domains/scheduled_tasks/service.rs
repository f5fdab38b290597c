//! The rules of scheduled tasks. Every member of an organisation sees its
//! tasks; creating, changing and deleting one takes whoever may manage its
//! agent. A task is one-time (`run_at`) or recurring (`schedule`, cron),
//! in UTC or the IANA `timezone` it names (see `automation::schedule` for
//! daylight saving time). Its status is `active` (it runs), `paused`
//! (it does not; resuming starts from the next tick after now), or final:
//! `completed` (a one-time task after its run) and `cancelled`.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::super::DomainError;
use super::super::agents::service::{manageable, may_act_for};
use super::super::automation::schedule::{CronExpr, Zone};
use super::super::triggers::service::check_operation;
use crate::governance::trail;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    NewScheduledTask, ReplaceScheduledTask, ScheduledTask, ScheduledTaskQuery, ScheduledTaskStatus,
    TaskRun,
};

/// How far in the past a one-time `run_at` may be (a clock a little
/// behind); older is a mistake, refused rather than run at once.
const RUN_AT_SLACK: Duration = Duration::seconds(60);

/// When a task runs.
#[derive(Clone, Debug)]
pub enum When {
    /// RFC 3339, or a local time read on the task's zone.
    Once(String),
    Cron(String),
}

#[derive(Clone, Debug)]
pub struct CreateTask {
    pub agent_id: String,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub service: String,
    pub operation: String,
    pub payload: Value,
    pub when: When,
    pub timezone: Option<String>,
}

/// The first run of a schedule: `(schedule, run_at, next_run_at)`.
fn plan(
    when: &When,
    zone: &Zone,
    now: OffsetDateTime,
) -> Result<(Option<String>, Option<OffsetDateTime>, OffsetDateTime), DomainError> {
    match when {
        When::Cron(expr) => {
            let cron = CronExpr::parse(expr)
                .map_err(|m| DomainError::Invalid(format!("invalid field schedule: {m}")))?;
            let next = cron.next_after(zone, now).ok_or_else(|| {
                DomainError::Invalid(format!(
                    "invalid field schedule: {expr:?} never matches a future time"
                ))
            })?;
            Ok((Some(expr.clone()), None, next))
        }
        When::Once(raw) => {
            let at = zone
                .instant(raw)
                .map_err(|m| DomainError::Invalid(format!("invalid field run_at: {m}")))?;
            if at < now - RUN_AT_SLACK {
                return Err(DomainError::Invalid(format!(
                    "invalid field run_at: {raw:?} is in the past"
                )));
            }
            Ok((None, Some(at), at))
        }
    }
}

fn zone(raw: Option<&str>) -> Result<Zone, DomainError> {
    Zone::parse(raw).map_err(|m| DomainError::Invalid(format!("invalid field timezone: {m}")))
}

fn event(user: &UserPrincipal, kind: &str, task: &ScheduledTask, details: Value) -> AuditEvent {
    let mut details = details;
    details["scheduled_task_id"] = json!(task.id);
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(&task.agent_id)
        .with_operation(&task.service, &task.operation)
        .with_details(details)
}

pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    c: CreateTask,
) -> Result<ScheduledTask, DomainError> {
    let managed = manageable(platform, user, &AgentId::from(&c.agent_id)).await?;
    let org = OrgId::from(&user.org_id);
    check_operation(platform, &org, &c.service, &c.operation).await?;
    let zone = zone(c.timezone.as_deref())?;
    let now = platform.clock.now();
    let (schedule, run_at, next) = plan(&c.when, &zone, now)?;
    let id = ids::new_id(ids::SCHEDULED_TASK);
    let audit = AuditEvent::new(
        &user.org_id,
        "scheduled_task.created",
        trail::user_actor(&user.user_id),
    )
    .with_agent(&managed.agent().id)
    .with_operation(&c.service, &c.operation)
    .with_details(json!({
        "scheduled_task_id": id,
        "name": c.name,
        "schedule": schedule,
        "run_at": run_at.map(crate::clock::rfc3339),
        "timezone": zone.name(),
    }));
    Ok(platform
        .stores
        .scheduled_tasks
        .create_scheduled_task(NewScheduledTask {
            id,
            org_id: org,
            agent_id: AgentId::from(&managed.agent().id),
            name: c.name,
            description: c.description,
            category: c.category,
            service: c.service,
            operation: c.operation,
            payload: c.payload,
            schedule,
            run_at,
            timezone: zone.name().to_owned(),
            next_run_at: Some(next),
            created_by: trail::user_actor(&user.user_id),
            now,
            audit,
        })
        .await?)
}

pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<ScheduledTask, DomainError> {
    platform
        .stores
        .scheduled_tasks
        .scheduled_task(&OrgId::from(&user.org_id), id)
        .await?
        .ok_or(DomainError::NotFound("scheduled task"))
}

pub async fn list(
    platform: &Platform,
    query: ScheduledTaskQuery,
) -> Result<(Vec<ScheduledTask>, u64), DomainError> {
    Ok(platform
        .stores
        .scheduled_tasks
        .scheduled_tasks(query)
        .await?)
}

pub async fn runs(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    limit: u32,
    offset: u32,
) -> Result<(Vec<TaskRun>, u64), DomainError> {
    let task = get(platform, user, id).await?;
    Ok(platform
        .stores
        .scheduled_tasks
        .task_runs(&OrgId::from(&user.org_id), &task.id, limit, offset)
        .await?)
}

/// What a caller may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TaskChange {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub payload: Option<Value>,
    pub when: Option<When>,
    pub timezone: Option<String>,
    pub status: Option<ScheduledTaskStatus>,
}

async fn managed_task(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<ScheduledTask, DomainError> {
    let task = get(platform, user, id).await?;
    may_act_for(
        platform,
        user,
        &AgentId::from(&task.agent_id),
        "scheduled task",
    )
    .await?;
    Ok(task)
}

pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    change: TaskChange,
) -> Result<ScheduledTask, DomainError> {
    let current = managed_task(platform, user, id).await?;
    let now = platform.clock.now();
    let mut task = current.clone();
    if let Some(status) = change.status
        && status != current.status
        && current.status.is_final()
    {
        return Err(DomainError::Conflict {
            code: "task_finished",
            message: format!(
                "the task is {}; it cannot become {} (create a new one)",
                current.status.as_str(),
                status.as_str()
            ),
        });
    }
    if let Some(name) = change.name {
        task.name = name;
    }
    if let Some(description) = change.description {
        task.description = description;
    }
    if let Some(category) = change.category {
        task.category = category;
    }
    if let Some(payload) = change.payload {
        task.payload = payload;
    }
    if let Some(tz) = &change.timezone {
        task.timezone = zone(Some(tz))?.name().to_owned();
    }
    if let Some(status) = change.status {
        task.status = status;
    }
    // A new time, a new zone, or a resume: the next run is planned from now.
    let resumed =
        current.status == ScheduledTaskStatus::Paused && task.status == ScheduledTaskStatus::Active;
    if change.when.is_some() || change.timezone.is_some() || resumed {
        let when = match change.when {
            Some(w) => w,
            None => match (&current.schedule, current.run_at) {
                (Some(expr), _) => When::Cron(expr.clone()),
                (None, Some(at)) => When::Once(crate::clock::rfc3339(at)),
                (None, None) => {
                    return Err(DomainError::Invalid(
                        "the task has neither schedule nor run_at".into(),
                    ));
                }
            },
        };
        let (schedule, run_at, next) = plan(&when, &zone(Some(&task.timezone))?, now)?;
        task.schedule = schedule;
        task.run_at = run_at;
        task.next_run_at = Some(next);
    }
    if task.status.is_final() {
        task.next_run_at = None;
    }
    let audit = event(
        user,
        "scheduled_task.updated",
        &task,
        json!({
            "status": task.status.as_str(),
            "previous_status": current.status.as_str(),
            "schedule": task.schedule,
            "run_at": task.run_at.map(crate::clock::rfc3339),
            "timezone": task.timezone,
            "payload_changed": task.payload != current.payload,
        }),
    );
    platform
        .stores
        .scheduled_tasks
        .replace_scheduled_task(ReplaceScheduledTask {
            expected_updated_at: current.updated_at,
            task,
            now,
            audit,
        })
        .await
        .map_err(DomainError::missing("scheduled task"))
}

pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<(), DomainError> {
    let task = managed_task(platform, user, id).await?;
    let audit = event(
        user,
        "scheduled_task.deleted",
        &task,
        json!({"name": task.name}),
    );
    platform
        .stores
        .scheduled_tasks
        .delete_scheduled_task(
            &OrgId::from(&user.org_id),
            &task.id,
            platform.clock.now(),
            audit,
        )
        .await
        .map_err(DomainError::missing("scheduled task"))
}
