//! Coordination between the nodes that share one database: job leases, so
//! background work runs on one node at a time and a dead node's job is
//! taken over, and the per-minute rate limits, so N nodes do not multiply
//! a limit. On SQLite there is one node: every lease is its own and the
//! buckets stay in its memory. On PostgreSQL both live in the database and
//! are judged by the database's clock, the one clock every node shares (a
//! node's own clock may be seconds off another's, more than a lease's
//! slack), so these methods take no `now`.

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;

/// The background jobs that run on one node at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Job {
    /// Polling `running` requests to their final cost.
    Reconcile,
    /// Expiring approvals past their deadline.
    ApprovalExpiry,
    /// Forgetting idempotency keys past their retention.
    IdempotencyRetention,
    /// Failing the `executing` requests of dead nodes (PostgreSQL).
    Recovery,
    /// Forgetting rate buckets nobody used for a while.
    RateBucketRetention,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::Reconcile,
        Job::ApprovalExpiry,
        Job::IdempotencyRetention,
        Job::Recovery,
        Job::RateBucketRetention,
    ];

    /// The job's row key in `job_leases`.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Reconcile => "reconcile",
            Job::ApprovalExpiry => "approval_expiry",
            Job::IdempotencyRetention => "idempotency_retention",
            Job::Recovery => "recovery",
            Job::RateBucketRetention => "rate_bucket_retention",
        }
    }
}

/// A job held by one node until `expires_at` (the database's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub job: Job,
    pub holder: String,
    /// Grows each time the job changes hands (never when its holder
    /// renews it), so a write tagged with an older fence is recognisably
    /// from a holder that lost the job.
    pub fence: i64,
    pub expires_at: OffsetDateTime,
}

/// A per-minute bucket: an agent key's or a binding's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RateKey {
    Agent(String),
    Binding(String),
}

impl RateKey {
    /// The bucket's key (`agent:<id>`, `binding:<id>`).
    pub fn key(&self) -> String {
        match self {
            RateKey::Agent(id) => format!("agent:{id}"),
            RateKey::Binding(id) => format!("binding:{id}"),
        }
    }
}

/// The answer of one rate check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateAnswer {
    /// A token was taken.
    Admitted,
    /// The bucket is empty; a token is back after `retry_after`.
    Limited { retry_after: Duration },
}

/// How long until a bucket holding `tokens` (fewer than one) of `limit`
/// per minute has one whole token again.
pub(crate) fn wait_for_token(tokens: f64, limit: u32) -> Duration {
    let per_token = 60.0 / f64::from(limit.max(1));
    let wait = (1.0 - tokens) * per_token;
    // A damaged row (NaN) must not panic: wait the longest a bucket can.
    Duration::try_from_secs_f64(wait.clamp(0.001, 60.0)).unwrap_or(Duration::from_secs(60))
}

#[async_trait]
pub trait CoordinationStore: Send + Sync + 'static {
    /// This process's holder name (its node id on PostgreSQL).
    fn node(&self) -> &str;

    /// Whether other nodes may share the database: then the `executing`
    /// requests of dead nodes are recovered while serving, not only at
    /// start.
    fn shared(&self) -> bool;

    /// Claims `job` for `holder` for `ttl` when it is free, expired, or
    /// already `holder`'s (which renews it); `None` while another holder's
    /// lease runs.
    async fn claim_lease(
        &self,
        job: Job,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>>;

    /// Gives the lease up at once, if it is still this one (same holder and
    /// fence), so another node need not wait for it to expire.
    async fn release_lease(&self, lease: &Lease) -> StoreResult<()>;

    /// Takes one token from `key`'s bucket of `limit` per minute: the
    /// bucket holds up to `limit` tokens (the burst) and refills at `limit`
    /// per minute. A bucket whose limit changed keeps at most the new
    /// limit's tokens.
    async fn take_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer>;

    /// What [`take_rate_token`](Self::take_rate_token) would answer now,
    /// taking nothing and refilling nothing: the policy simulation reads
    /// the bucket without spending it.
    async fn peek_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer>;

    /// Every job's lease as last claimed (held or expired); a job never
    /// claimed has none.
    async fn leases(&self) -> StoreResult<Vec<Lease>>;

    /// Forgets buckets unused for `idle` (at least a minute: a bucket left
    /// that long is full again, the same as no bucket); returns how many.
    async fn forget_idle_rate_buckets(&self, idle: Duration) -> StoreResult<usize>;

    /// A clean stop: gives up every lease `node` holds and, on
    /// PostgreSQL, marks the node stopped, so other nodes take over at once.
    async fn leave(&self) -> StoreResult<()>;
}
