//! The cron pass, run by every node: each due tick is claimed by a
//! conditional update (one node wins it), then dispatched with an
//! idempotency key made of the trigger and the tick, then recorded. A tick
//! still pending a minute after its claim (the node died between claim and
//! record) is taken over and dispatched again: the key makes that the same
//! request if the first dispatch got through.
//!
//! After downtime the missed ticks are not replayed one by one: the first
//! overdue tick runs once (the catch-up) and the next is the first one
//! after now.

use futures::future::join_all;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::fire::record;
use super::service::schedule;
use crate::clock::rfc3339;
use crate::domains::automation::dispatch::{self, Dispatch};
use crate::domains::automation::template;
use crate::ids::{AgentId, OrgId};
use crate::platform::Platform;
use crate::store::{ClaimTick, StoreError, Trigger};

/// How long a claimed tick may stay pending before another pass takes it.
pub const STALE_AFTER: Duration = Duration::seconds(60);
/// Ticks handled in one pass (the rest wait for the next).
const BATCH: u32 = 100;

/// The tick after `tick`, from now on (at most one catch-up).
fn next_tick(t: &Trigger, tick: OffsetDateTime, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let expr = t.schedule_expr.as_deref()?;
    let (cron, zone) = schedule(expr, t.timezone.as_deref()).ok()?;
    cron.next_after(&zone, tick.max(now))
}

/// One pass; returns how many ticks this node dispatched.
pub async fn run_due(platform: &Platform) -> Result<usize, StoreError> {
    let store = platform.stores.triggers.as_ref();
    let now = platform.clock.now();
    let stale_before = now - STALE_AFTER;
    let due = store.due_triggers(now, stale_before, BATCH).await?;
    let mut won = Vec::new();
    for t in due {
        let tick = match t.pending_tick {
            Some(pending) => {
                if !store
                    .reclaim_tick(&t.id, pending, stale_before, now)
                    .await?
                {
                    continue;
                }
                tracing::warn!(trigger_id = %t.id, tick = %rfc3339(pending), "dispatching a cron tick a stopped pass had claimed");
                pending
            }
            None => {
                let Some(tick) = t.next_run_at else { continue };
                let claim = ClaimTick {
                    id: t.id.clone(),
                    tick,
                    next: next_tick(&t, tick, now),
                    now,
                };
                if !store.claim_tick(claim).await? {
                    continue;
                }
                tick
            }
        };
        won.push((t, tick));
    }
    let fired = won.len();
    for result in join_all(won.iter().map(|(t, tick)| fire_tick(platform, t, *tick))).await {
        result?;
    }
    Ok(fired)
}

async fn fire_tick(
    platform: &Platform,
    t: &Trigger,
    tick: OffsetDateTime,
) -> Result<(), StoreError> {
    let values = json!({"trigger_id": t.id, "scheduled_for": rfc3339(tick)});
    let dispatched = dispatch::dispatch(
        platform,
        Dispatch {
            org_id: OrgId::from(&t.org_id),
            agent_id: AgentId::from(&t.agent_id),
            service: t.service.clone(),
            operation: t.operation.clone(),
            payload: template::fill(&t.payload_template, &values),
            idempotency_key: Some(format!("trigger-tick:{}:{}", t.id, tick.unix_timestamp())),
            metadata: json!({
                "trigger_id": t.id,
                "trigger_kind": "cron",
                "scheduled_for": rfc3339(tick),
            }),
        },
    )
    .await?;
    tracing::info!(trigger_id = %t.id, tick = %rfc3339(tick), status = %dispatched.status, "cron trigger fired");
    record(platform, t, Some(tick), &dispatched).await
}
