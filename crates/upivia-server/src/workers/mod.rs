//! Background work: reconciling `running` requests, expiring approvals,
//! forgetting idempotency keys and idle rate buckets, recovering the
//! requests of dead nodes (PostgreSQL), summing refusals into the audit
//! trail, and a heartbeat that readiness reads. Each pass is a plain `tick`
//! that tests may call directly; the loop runs it on an interval until
//! cancelled.
//!
//! Several nodes may share one database: each job that works on shared
//! rows runs only on the node holding its lease (`CoordinationStore`),
//! claimed (or renewed) before each pass and skipped while another node
//! holds it; a node that dies stops renewing, and another takes the job
//! over once the lease runs out. What is per node stays per node: the
//! heartbeat (each node's own health) and the refusal summaries (each node
//! counts the refusals it answered, in its memory, and writes them).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::audit::Sealer;
use crate::governance::{GovernanceError, approvals, idempotency, reconcile, recovery, refusals};
use crate::platform::Platform;
use crate::store::Job;

/// How long a rate bucket may sit unused before it is forgotten (it is
/// full again after a minute, the same as no bucket).
const RATE_BUCKET_IDLE: Duration = Duration::from_secs(600);
/// How often the idle buckets are looked for.
const RATE_BUCKET_PURGE_EVERY: Duration = Duration::from_secs(60);

/// When the workers last completed a pass (unix ms; 0 = never).
#[derive(Clone, Debug, Default)]
pub struct WorkerHealth {
    last_pass_ms: Arc<AtomicI64>,
    interval_ms: i64,
    /// When this node last looked for idle rate buckets (unix ms).
    last_bucket_purge_ms: Arc<AtomicI64>,
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
            last_bucket_purge_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// How long a job's lease lasts: ten passes, within 5 to 10 s. Long
    /// enough that a busy pass does not lose it to another node, short
    /// enough that a dead node's jobs move on about when the node itself
    /// is declared dead (10 s without a beat).
    pub fn lease_ttl(&self) -> Duration {
        let ten = u64::try_from(self.interval_ms.saturating_mul(10)).unwrap_or(0);
        Duration::from_millis(ten).clamp(Duration::from_secs(5), Duration::from_secs(10))
    }

    /// Whether a purge of idle buckets is due on this node, noting it.
    fn bucket_purge_due(&self, now: OffsetDateTime) -> bool {
        let now_ms = unix_ms(now);
        let last = self.last_bucket_purge_ms.load(Ordering::Relaxed);
        let every = i64::try_from(RATE_BUCKET_PURGE_EVERY.as_millis()).unwrap_or(i64::MAX);
        if last != 0 && now_ms.saturating_sub(last) < every {
            return false;
        }
        self.last_bucket_purge_ms.store(now_ms, Ordering::Relaxed);
        true
    }

    fn beat(&self, now: OffsetDateTime) {
        self.last_pass_ms.store(unix_ms(now), Ordering::Relaxed);
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
        let age = unix_ms(now).saturating_sub(last);
        let allowed = (self.interval_ms.saturating_mul(10)).max(5_000);
        WorkerStatus {
            healthy: age <= allowed,
            age_ms: Some(age),
        }
    }
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Claims (or renews) `job`'s lease for this node: whether this node runs
/// it now. A claim that fails (the database is away) skips the pass.
async fn holds(platform: &Platform, health: &WorkerHealth, job: Job) -> bool {
    let coordination = platform.stores.coordination.as_ref();
    match coordination
        .claim_lease(job, coordination.node(), health.lease_ttl())
        .await
    {
        Ok(Some(_)) => true,
        Ok(None) => {
            tracing::trace!(job = job.as_str(), "another node holds the job");
            false
        }
        Err(e) => {
            tracing::warn!(job = job.as_str(), error = %e, "could not claim a job's lease");
            false
        }
    }
}

/// One pass of every worker. Errors are logged; the next pass retries.
pub async fn tick(platform: &Platform, health: &WorkerHealth) {
    let now = platform.clock.now();
    if platform.stores.coordination.shared() && holds(platform, health, Job::Recovery).await {
        match recovery::recover(platform).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(recovered = n, "released requests of a node that died"),
            Err(e) => tracing::warn!(error = %e, "recovery pass failed"),
        }
    }
    if holds(platform, health, Job::Reconcile).await {
        match reconcile::tick(platform).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "reconciled running requests"),
            Err(e) => tracing::warn!(error = %e, "reconciliation pass failed"),
        }
    }
    if holds(platform, health, Job::ApprovalExpiry).await {
        match approvals::expire_due(platform).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired approvals"),
            Err(e) => tracing::warn!(error = %e, "approval expiry pass failed"),
        }
    }
    if holds(platform, health, Job::IdempotencyRetention).await {
        match idempotency::purge_expired(platform).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(forgotten = n, "idempotency keys past retention"),
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
    }
    if health.bucket_purge_due(now) && holds(platform, health, Job::RateBucketRetention).await {
        match platform
            .stores
            .coordination
            .forget_idle_rate_buckets(RATE_BUCKET_IDLE)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!(forgotten = n, "idle rate buckets"),
            Err(e) => tracing::warn!(error = %e, "rate bucket purge failed"),
        }
    }
    // Not leased: each purge is a conditional update, so of two nodes one
    // purges an object.
    match crate::domains::storage::purge::tick(platform).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "purged the bytes of expired deletions"),
        Err(e) => tracing::warn!(error = %e, "storage purge failed"),
    }
    // This node's own refusal counts: never leased.
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

/// Recovery before serving: the requests a crash left `executing` are
/// failed with `interrupted` and their holds released. On a shared
/// database only by the node holding the recovery lease (the others'
/// workers would race it; its workers go on with the dead nodes found
/// later); returns how many were released here.
pub async fn recover_at_start(
    platform: &Platform,
    interval: Duration,
) -> Result<usize, GovernanceError> {
    let health = WorkerHealth::new(interval);
    let coordination = platform.stores.coordination.as_ref();
    let lease = coordination
        .claim_lease(Job::Recovery, coordination.node(), health.lease_ttl())
        .await?;
    if lease.is_none() {
        return Ok(0);
    }
    // Alone on its data dir, no other node holds a workflow run: the
    // leases a crash left are this process's predecessor's.
    if !coordination.shared() {
        platform.stores.workflows.release_all_runs().await?;
        platform.stores.knowledge.release_ingestion_leases().await?;
        platform.stores.rooms.release_room_turn_leases().await?;
    }
    recovery::recover(platform).await
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

/// One pass of automation on this node: due cron triggers and scheduled
/// tasks. Not leased: every node runs it, and each tick is claimed by a
/// conditional update, so one node wins it (`domains/triggers/cron.rs`,
/// `domains/scheduled_tasks/runs.rs`). Returns what this node dispatched.
pub async fn automation_tick(platform: &Platform) -> usize {
    let mut dispatched = 0;
    match crate::domains::triggers::cron::run_due(platform).await {
        Ok(n) => dispatched += n,
        Err(e) => tracing::warn!(error = %e, "cron trigger pass failed"),
    }
    match crate::domains::scheduled_tasks::runs::run_due(platform).await {
        Ok(n) => dispatched += n,
        Err(e) => tracing::warn!(error = %e, "scheduled task pass failed"),
    }
    if let Err(e) = crate::domains::workflows::runner::run_due(platform).await {
        tracing::warn!(error = %e, "workflow run pass failed");
    }
    // Documents left waiting (a node restarted, or a claim ran out).
    if let Err(e) = crate::domains::knowledge::ingest::tick(platform).await {
        tracing::warn!(error = %e, "knowledge ingestion pass failed");
    }
    // Room replies left queued (a node restarted, or a kick was missed).
    if let Err(e) = crate::domains::rooms::replies::tick(platform).await {
        tracing::warn!(error = %e, "room reply pass failed");
    }
    dispatched
}

/// Automation on its own loop: a dispatch waits for a provider, which
/// must not hold up reconciliation or approval expiry.
pub fn start_automation(
    platform: Platform,
    interval: Duration,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => { automation_tick(&platform).await; }
            }
        }
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
