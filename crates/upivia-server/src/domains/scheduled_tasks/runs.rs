//! The scheduled-task pass, run by every node: a due task's run is
//! claimed (its `next_run_at` moved on and a pending run row inserted, in
//! one transaction: one node wins), dispatched as a service request of the
//! task's agent with the run's id as idempotency key, and completed with
//! what the dispatch came to. A run still pending a minute after its claim
//! is taken over and dispatched again under the same key. Missed ticks
//! after downtime run once (the catch-up); the next is the first after now.

use futures::future::join_all;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::clock::rfc3339;
use crate::domains::automation::dispatch::{self, Dispatch};
use crate::domains::automation::schedule::{CronExpr, Zone};
use crate::ids::{self, AgentId, OrgId};
use crate::model::AuditEvent;
use crate::platform::Platform;
use crate::store::{ClaimRun, FinishRun, RunState, ScheduledTask, StoreError, TaskRun};

pub const STALE_AFTER: Duration = Duration::seconds(60);
const BATCH: u32 = 100;

fn next_tick(
    task: &ScheduledTask,
    tick: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let expr = task.schedule.as_deref()?;
    let cron = CronExpr::parse(expr).ok()?;
    let zone = Zone::parse(Some(&task.timezone)).ok()?;
    cron.next_after(&zone, tick.max(now))
}

/// One pass; returns how many runs this node dispatched.
pub async fn run_due(platform: &Platform) -> Result<usize, StoreError> {
    let store = platform.stores.scheduled_tasks.as_ref();
    let now = platform.clock.now();
    let stale_before = now - STALE_AFTER;
    let mut work: Vec<(TaskRun, ScheduledTask)> = Vec::new();
    for run in store.stale_task_runs(stale_before, BATCH).await? {
        let Some(task) = store
            .scheduled_task(&OrgId::from(&run.org_id), &run.task_id)
            .await?
        else {
            continue;
        };
        if store.reclaim_task_run(&run.id, stale_before, now).await? {
            tracing::warn!(run_id = %run.id, "dispatching a task run a stopped pass had claimed");
            work.push((run, task));
        }
    }
    for task in store.due_scheduled_tasks(now, BATCH).await? {
        let Some(tick) = task.next_run_at else {
            continue;
        };
        let claim = ClaimRun {
            task_id: task.id.clone(),
            run_id: ids::new_id(ids::TASK_RUN),
            tick,
            next: next_tick(&task, tick, now),
            now,
        };
        if let Some(run) = store.claim_task_run(claim).await? {
            work.push((run, task));
        }
    }
    let ran = work.len();
    for result in join_all(
        work.iter()
            .map(|(run, task)| dispatch_run(platform, run, task)),
    )
    .await
    {
        result?;
    }
    Ok(ran)
}

async fn dispatch_run(
    platform: &Platform,
    run: &TaskRun,
    task: &ScheduledTask,
) -> Result<(), StoreError> {
    let dispatched = dispatch::dispatch(
        platform,
        Dispatch {
            org_id: OrgId::from(&task.org_id),
            agent_id: AgentId::from(&task.agent_id),
            service: task.service.clone(),
            operation: task.operation.clone(),
            payload: task.payload.clone(),
            idempotency_key: Some(format!("scheduled-task-run:{}", run.id)),
            metadata: json!({
                "scheduled_task_id": task.id,
                "scheduled_task_run_id": run.id,
                "scheduled_for": rfc3339(run.scheduled_for),
            }),
        },
    )
    .await?;
    tracing::info!(task_id = %task.id, run_id = %run.id, status = %dispatched.status, "scheduled task ran");
    let reached = dispatched.reached_pipeline();
    let audit = (!reached).then(|| {
        AuditEvent::new(
            &task.org_id,
            "scheduled_task.run_refused",
            format!("scheduled_task:{}", task.id),
        )
        .with_agent(&task.agent_id)
        .with_operation(&task.service, &task.operation)
        .with_details(json!({
            "scheduled_task_id": task.id,
            "run_id": run.id,
            "dispatch_status": dispatched.status,
            "reason_code": dispatched.reason_code,
            "message": dispatched.message,
        }))
    });
    platform
        .stores
        .scheduled_tasks
        .finish_task_run(FinishRun {
            run_id: run.id.clone(),
            state: if reached {
                RunState::Dispatched
            } else {
                RunState::Refused
            },
            service_request_id: dispatched.request_id.clone(),
            dispatch_status: dispatched.status.clone(),
            reason_code: dispatched.reason_code.clone(),
            error: dispatched
                .message
                .clone()
                .filter(|_| dispatched.status != "executed"),
            now: platform.clock.now(),
            audit,
        })
        .await
}
