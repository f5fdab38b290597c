//! Background work: reconciling `running` requests, expiring approvals,
//! summing refusals into the audit trail, and a heartbeat that readiness
//! reads. Each pass is a plain `tick` that
//! tests may call directly; the loop runs it on an interval until
//! cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::audit::Sealer;
use crate::governance::{approvals, idempotency, reconcile, refusals};
use crate::platform::Platform;

/// When the workers last completed a pass (unix ms; 0 = never).
#[derive(Clone, Debug, Default)]
pub struct WorkerHealth {
    last_pass_ms: Arc<AtomicI64>,
    interval_ms: i64,
}

#[derive(Debug)]
pub struct WorkerStatus {
    pub healthy: bool,
    pub age_ms: Option<i64>,
}

impl WorkerHealth {
    pub fn new(interval: Duration) -> WorkerHealth {
        WorkerHealth {
            last_pass_ms: Arc::new(AtomicI64::new(0)),
            interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn beat(&self, now: OffsetDateTime) {
        let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        self.last_pass_ms.store(ms, Ordering::Relaxed);
    }

    /// Healthy while the last pass is younger than ten intervals (and 5 s).
    pub fn status(&self, now: OffsetDateTime) -> WorkerStatus {
        let last = self.last_pass_ms.load(Ordering::Relaxed);
        if last == 0 {
            return WorkerStatus {
                healthy: false,
                age_ms: None,
            };
        }
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let age = now_ms.saturating_sub(last);
        let allowed = (self.interval_ms.saturating_mul(10)).max(5_000);
        WorkerStatus {
            healthy: age <= allowed,
            age_ms: Some(age),
        }
    }
}

/// One pass of every worker. Errors are logged; the next pass retries.
pub async fn tick(platform: &Platform, health: &WorkerHealth) {
    let now = platform.clock.now();
    match reconcile::tick(platform).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(settled = n, "reconciled running requests"),
        Err(e) => tracing::warn!(error = %e, "reconciliation pass failed"),
    }
    match approvals::expire_due(platform).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(expired = n, "expired approvals"),
        Err(e) => tracing::warn!(error = %e, "approval expiry pass failed"),
    }
    match idempotency::purge_expired(platform).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(forgotten = n, "idempotency keys past retention"),
        Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
    }
    match refusals::flush(platform, false).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(summaries = n, "wrote refusal summaries"),
        Err(e) => tracing::warn!(error = %e, "refusal summaries failed"),
    }
    match platform.stores.governance.heartbeat("workers", now).await {
        Ok(()) => health.beat(platform.clock.now()),
        Err(e) => tracing::warn!(error = %e, "worker heartbeat failed"),
    }
}

pub fn start(
    platform: Platform,
    health: WorkerHealth,
    interval: Duration,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => tick(&platform, &health).await,
            }
        }
        // Refusals still counting go to the audit trail before the stop.
        if let Err(e) = refusals::flush(&platform, true).await {
            tracing::warn!(error = %e, "refusal summaries at shutdown failed");
        }
        tracing::debug!("workers stopped");
    })
}

/// One sealing pass: signs the audit chain's head if it moved.
pub async fn seal_audit(platform: &Platform, sealer: &Sealer) {
    match sealer
        .seal(platform.stores.governance.as_ref(), platform.clock.now())
        .await
    {
        Ok(Some(c)) => tracing::debug!(seq = c.seq, "signed an audit checkpoint"),
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "could not sign an audit checkpoint"),
    }
}

/// Seals on its own interval (the first pass one interval after start:
/// `prepare` has just sealed) until cancelled.
pub fn start_sealing(
    platform: Platform,
    sealer: Arc<Sealer>,
    interval: Duration,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + interval;
        let mut ticker = tokio::time::interval_at(first, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => seal_audit(&platform, &sealer).await,
            }
        }
    })
}
