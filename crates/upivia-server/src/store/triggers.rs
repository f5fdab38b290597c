//! Triggers: webhooks that an outside system fires with an HMAC signature,
//! and cron schedules; each fire is a service request of the trigger's
//! agent. A cron tick is claimed by a conditional update of the trigger's
//! `next_run_at` (of several nodes, one wins) and stays *pending* until its
//! dispatch is recorded, so a crash between the two is dispatched again
//! (with the same idempotency key) rather than lost.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerKind {
    Webhook,
    Cron,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Webhook => "webhook",
            TriggerKind::Cron => "cron",
        }
    }

    pub fn parse(raw: &str) -> Option<TriggerKind> {
        match raw {
            "webhook" => Some(TriggerKind::Webhook),
            "cron" => Some(TriggerKind::Cron),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Trigger {
    pub id: String,
    pub org_id: String,
    pub agent_id: String,
    pub kind: TriggerKind,
    pub service: String,
    pub operation: String,
    pub payload_template: Value,
    pub schedule_expr: Option<String>,
    pub timezone: Option<String>,
    pub disabled: bool,
    /// The signing secret, sealed under the organisation's data key.
    pub sealed_secret: String,
    /// The next cron tick to claim.
    pub next_run_at: Option<OffsetDateTime>,
    /// A claimed tick whose dispatch is not recorded yet, and since when.
    pub pending_tick: Option<OffsetDateTime>,
    pub pending_since: Option<OffsetDateTime>,
    pub last_fired_at: Option<OffsetDateTime>,
    pub last_request_id: Option<String>,
    pub last_dispatch_status: Option<String>,
    pub fire_count: i64,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewTrigger {
    pub id: String,
    pub org_id: OrgId,
    pub agent_id: AgentId,
    pub kind: TriggerKind,
    pub service: String,
    pub operation: String,
    pub payload_template: Value,
    pub schedule_expr: Option<String>,
    pub timezone: Option<String>,
    pub sealed_secret: String,
    pub next_run_at: Option<OffsetDateTime>,
    pub created_by: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// A change of the fields that may change; `None` leaves one as it is.
#[derive(Clone, Debug)]
pub struct UpdateTrigger {
    pub org_id: OrgId,
    pub id: String,
    pub disabled: Option<bool>,
    pub schedule_expr: Option<String>,
    pub payload_template: Option<Value>,
    /// Set with a schedule change or a re-enable (the next tick from now).
    pub next_run_at: Option<Option<OffsetDateTime>>,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Claiming the cron tick `tick` (the trigger's `next_run_at` as read).
#[derive(Clone, Debug)]
pub struct ClaimTick {
    pub id: String,
    pub tick: OffsetDateTime,
    /// The tick after it (`None`: the expression never matches again).
    pub next: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

/// What a fire came to.
#[derive(Clone, Debug)]
pub struct RecordFire {
    pub id: String,
    /// The claimed cron tick this settles (cleared only if still pending).
    pub tick: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub dispatch_status: String,
    pub now: OffsetDateTime,
    /// Written when the fire reached no service request (whose own entries
    /// would otherwise record it).
    pub audit: Option<AuditEvent>,
}

#[async_trait]
pub trait TriggerStore: Send + Sync + 'static {
    async fn create_trigger(&self, new: NewTrigger) -> StoreResult<Trigger>;
    async fn trigger(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Trigger>>;
    /// By id alone: a fire names no organisation (its signature proves it).
    async fn trigger_for_fire(&self, id: &str) -> StoreResult<Option<Trigger>>;
    /// Newest first, ids below `before` (the cursor), at most `limit`.
    async fn triggers(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>>;
    /// `NotFound` when the organisation has no such trigger.
    async fn update_trigger(&self, update: UpdateTrigger) -> StoreResult<Trigger>;
    async fn purge_trigger(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Enabled cron triggers whose tick is due at `now`, and those whose
    /// claimed tick has been pending since before `stale_before`.
    async fn due_triggers(
        &self,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>>;
    /// Whether this caller won the tick (moved `next_run_at` from it).
    async fn claim_tick(&self, claim: ClaimTick) -> StoreResult<bool>;
    /// Whether this caller took over a stale pending tick.
    async fn reclaim_tick(
        &self,
        id: &str,
        tick: OffsetDateTime,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    async fn record_fire(&self, fire: RecordFire) -> StoreResult<()>;
}
