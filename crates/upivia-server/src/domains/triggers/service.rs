//! The rules of triggers. Every member of an organisation sees its
//! triggers (as they see its agents); creating, changing and deleting one
//! takes whoever may manage its agent (an admin, or the agent's owner).
//! The signing secret is made here, returned once, and stored sealed
//! under the organisation's data key: a fire needs the secret itself to
//! check an HMAC, so a hash would not do, and no route reads it back.

use secrecy::SecretString;
use serde_json::{Value, json};

use super::super::DomainError;
use super::super::agents::service::{manageable, may_act_for};
use super::super::automation::schedule::{CronExpr, Zone};
use crate::auth;
use crate::governance::{resolve, secrets, trail};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{NewTrigger, Trigger, TriggerKind, UpdateTrigger};

/// The sealing name of a trigger's secret: binds the sealed value to it.
pub(super) fn secret_name(trigger_id: &str) -> String {
    format!("upivia.trigger.{trigger_id}")
}

/// A trigger as the caller asks for it (shapes already checked).
#[derive(Clone, Debug)]
pub struct CreateTrigger {
    pub agent_id: String,
    pub kind: TriggerKind,
    /// `service.operation`.
    pub operation: String,
    pub payload_template: Value,
    pub schedule_expr: Option<String>,
    pub timezone: Option<String>,
}

/// `service.operation` split at its first dot.
pub fn split_operation(raw: &str) -> Result<(String, String), DomainError> {
    match raw.split_once('.') {
        Some((s, o)) if !s.is_empty() && !o.is_empty() => Ok((s.to_owned(), o.to_owned())),
        _ => Err(DomainError::Invalid(format!(
            "invalid field operation: must be \"service.operation\" (e.g. email.send), got {raw:?}"
        ))),
    }
}

/// Refuses an operation the organisation cannot call.
pub async fn check_operation(
    platform: &Platform,
    org: &OrgId,
    service: &str,
    operation: &str,
) -> Result<(), DomainError> {
    resolve::resolve(platform, org, service, operation)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            crate::governance::GovernanceError::Store(s) => s.into(),
            other => DomainError::Invalid(format!("invalid field operation: {other}")),
        })
}

/// The cron schedule of a trigger, checked.
pub(super) fn schedule(
    expr: &str,
    timezone: Option<&str>,
) -> Result<(CronExpr, Zone), DomainError> {
    let cron = CronExpr::parse(expr)
        .map_err(|m| DomainError::Invalid(format!("invalid field schedule_expr: {m}")))?;
    let zone = Zone::parse(timezone)
        .map_err(|m| DomainError::Invalid(format!("invalid field timezone: {m}")))?;
    Ok((cron, zone))
}

fn event(
    user: &UserPrincipal,
    kind: &str,
    trigger: &str,
    agent: &str,
    details: Value,
) -> AuditEvent {
    let mut details = details;
    details["trigger_id"] = json!(trigger);
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(agent)
        .with_details(details)
}

/// Creates a trigger; the secret is in the answer and nowhere else.
pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    c: CreateTrigger,
) -> Result<(Trigger, SecretString), DomainError> {
    let managed = manageable(platform, user, &AgentId::from(&c.agent_id)).await?;
    let agent = managed.agent();
    let org = OrgId::from(&user.org_id);
    let (service, operation) = split_operation(&c.operation)?;
    check_operation(platform, &org, &service, &operation).await?;
    let now = platform.clock.now();
    let next_run_at = match (c.kind, &c.schedule_expr) {
        (TriggerKind::Cron, Some(expr)) => {
            let (cron, zone) = schedule(expr, c.timezone.as_deref())?;
            Some(cron.next_after(&zone, now).ok_or_else(|| {
                DomainError::Invalid(format!(
                    "invalid field schedule_expr: {expr:?} never matches a future time"
                ))
            })?)
        }
        (TriggerKind::Cron, None) => {
            return Err(DomainError::Invalid(
                "invalid field schedule_expr: a cron trigger needs one".into(),
            ));
        }
        (TriggerKind::Webhook, Some(_)) => {
            return Err(DomainError::Invalid(
                "invalid field schedule_expr: only cron triggers have a schedule".into(),
            ));
        }
        (TriggerKind::Webhook, None) => None,
    };
    if c.kind == TriggerKind::Webhook && c.timezone.is_some() {
        return Err(DomainError::Invalid(
            "invalid field timezone: only cron triggers have a time zone".into(),
        ));
    }
    let id = ids::new_id(ids::TRIGGER);
    let secret = SecretString::from(auth::new_trigger_secret());
    let sealed = secrets::seal_private(platform, &org, &secret_name(&id), &secret).await?;
    let audit = event(
        user,
        "trigger.created",
        &id,
        &agent.id,
        json!({
            "kind": c.kind.as_str(),
            "operation": c.operation,
            "schedule_expr": c.schedule_expr,
            "timezone": c.timezone,
        }),
    );
    let trigger = platform
        .stores
        .triggers
        .create_trigger(NewTrigger {
            id,
            org_id: org,
            agent_id: AgentId::from(&agent.id),
            kind: c.kind,
            service,
            operation,
            payload_template: c.payload_template,
            schedule_expr: c.schedule_expr,
            timezone: c.timezone,
            sealed_secret: sealed,
            next_run_at,
            created_by: trail::user_actor(&user.user_id),
            now,
            audit,
        })
        .await?;
    Ok((trigger, secret))
}

pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<Trigger, DomainError> {
    platform
        .stores
        .triggers
        .trigger(&OrgId::from(&user.org_id), id)
        .await?
        .ok_or(DomainError::NotFound("trigger"))
}

/// Newest first; `before` is the id the previous page ended with.
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    before: Option<String>,
    limit: u32,
) -> Result<Vec<Trigger>, DomainError> {
    Ok(platform
        .stores
        .triggers
        .triggers(&OrgId::from(&user.org_id), before, limit)
        .await?)
}

/// The change a caller asks for; only these fields can change.
#[derive(Clone, Debug, Default)]
pub struct TriggerChange {
    pub disabled: Option<bool>,
    pub schedule_expr: Option<String>,
    pub payload_template: Option<Value>,
}

/// A trigger the caller may change: it exists and its agent is theirs to
/// manage (an agent since deleted leaves it to admins).
async fn managed_trigger(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<Trigger, DomainError> {
    let trigger = get(platform, user, id).await?;
    may_act_for(platform, user, &AgentId::from(&trigger.agent_id), "trigger").await?;
    Ok(trigger)
}

pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    change: TriggerChange,
) -> Result<Trigger, DomainError> {
    let trigger = managed_trigger(platform, user, id).await?;
    let now = platform.clock.now();
    if change.schedule_expr.is_some() && trigger.kind != TriggerKind::Cron {
        return Err(DomainError::Invalid(
            "invalid field schedule_expr: only cron triggers have a schedule".into(),
        ));
    }
    // A new schedule, or a cron trigger enabled again, starts from now:
    // the ticks it missed while disabled are not made up.
    let expr = change
        .schedule_expr
        .as_ref()
        .or(trigger.schedule_expr.as_ref());
    let reschedule = trigger.kind == TriggerKind::Cron
        && (change.schedule_expr.is_some() || (trigger.disabled && change.disabled == Some(false)));
    let next_run_at = match (reschedule, expr) {
        (true, Some(expr)) => {
            let (cron, zone) = schedule(expr, trigger.timezone.as_deref())?;
            Some(cron.next_after(&zone, now))
        }
        _ => None,
    };
    let audit = event(
        user,
        "trigger.updated",
        &trigger.id,
        &trigger.agent_id,
        json!({
            "disabled": change.disabled,
            "schedule_expr": change.schedule_expr,
            "payload_template_changed": change.payload_template.is_some(),
        }),
    );
    platform
        .stores
        .triggers
        .update_trigger(UpdateTrigger {
            org_id: OrgId::from(&user.org_id),
            id: trigger.id,
            disabled: change.disabled,
            schedule_expr: change.schedule_expr,
            payload_template: change.payload_template,
            next_run_at,
            now,
            audit,
        })
        .await
        .map_err(DomainError::missing("trigger"))
}

/// What a delete came to.
pub enum Deleted {
    Disabled(Box<Trigger>),
    Purged,
}

/// Disables the trigger, or with `purge` (where the server allows it)
/// deletes it for good.
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    purge: bool,
    purge_allowed: bool,
) -> Result<Deleted, DomainError> {
    let trigger = managed_trigger(platform, user, id).await?;
    let now = platform.clock.now();
    if !purge {
        let audit = event(
            user,
            "trigger.disabled",
            &trigger.id,
            &trigger.agent_id,
            json!({}),
        );
        let disabled = platform
            .stores
            .triggers
            .update_trigger(UpdateTrigger {
                org_id: OrgId::from(&user.org_id),
                id: trigger.id,
                disabled: Some(true),
                schedule_expr: None,
                payload_template: None,
                next_run_at: None,
                now,
                audit,
            })
            .await
            .map_err(DomainError::missing("trigger"))?;
        return Ok(Deleted::Disabled(Box::new(disabled)));
    }
    if !purge_allowed {
        return Err(DomainError::Refused {
            code: "purge_not_allowed",
            message: "this server keeps deleted triggers (disabled); purging needs \
                      --allow-trigger-purge"
                .into(),
        });
    }
    let audit = event(
        user,
        "trigger.purged",
        &trigger.id,
        &trigger.agent_id,
        json!({"kind": trigger.kind.as_str(), "operation": format!("{}.{}", trigger.service, trigger.operation)}),
    );
    platform
        .stores
        .triggers
        .purge_trigger(&OrgId::from(&user.org_id), &trigger.id, now, audit)
        .await
        .map_err(DomainError::missing("trigger"))?;
    Ok(Deleted::Purged)
}
