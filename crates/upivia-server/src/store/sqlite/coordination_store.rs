//! `CoordinationStore` for one node: SQLite has a single server process
//! (the data-dir lock sees to it), so there is nobody to coordinate with
//! and nothing goes to the database. Leases are kept in memory with the
//! same rules as on PostgreSQL (free, expired or already the holder's; the
//! fence grows at each new holder), so in practice this process always
//! holds them. Rate buckets are token buckets in memory, keyed like the
//! PostgreSQL rows; they start full after a restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::coordination::wait_for_token;
use crate::store::{CoordinationStore, Job, Lease, RateAnswer, RateKey, StoreResult};

/// Leases and rate buckets of the one node on a SQLite database.
#[derive(Debug)]
pub struct LocalCoordination {
    node: String,
    leases: Mutex<HashMap<Job, Lease>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Default for LocalCoordination {
    fn default() -> LocalCoordination {
        LocalCoordination {
            node: crate::ids::new_id("node"),
            leases: Mutex::default(),
            buckets: Mutex::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    limit: u32,
    last: Instant,
}

impl LocalCoordination {
    /// The bucket logic, with the time as an input (unit tests move it).
    fn take_at(&self, key: &str, limit: u32, now: Instant) -> RateAnswer {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: f64::from(limit),
            limit,
            last: now,
        });
        refill(bucket, limit, now);
        if bucket.tokens < 1.0 {
            return RateAnswer::Limited {
                retry_after: wait_for_token(bucket.tokens, limit),
            };
        }
        bucket.tokens -= 1.0;
        RateAnswer::Admitted
    }

    /// [`take_at`](Self::take_at)'s answer on a copy of the bucket.
    fn peek_at(&self, key: &str, limit: u32, now: Instant) -> RateAnswer {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut bucket = buckets.get(key).copied().unwrap_or(Bucket {
            tokens: f64::from(limit),
            limit,
            last: now,
        });
        refill(&mut bucket, limit, now);
        if bucket.tokens < 1.0 {
            return RateAnswer::Limited {
                retry_after: wait_for_token(bucket.tokens, limit),
            };
        }
        RateAnswer::Admitted
    }

    fn forget_idle_at(&self, idle: Duration, now: Instant) -> usize {
        let idle = idle.max(Duration::from_secs(60));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let before = buckets.len();
        buckets.retain(|_, b| now.saturating_duration_since(b.last) < idle);
        before - buckets.len()
    }
}

fn refill(bucket: &mut Bucket, limit: u32, now: Instant) {
    if bucket.limit != limit {
        // The limit was changed: keep no more than the new capacity.
        bucket.tokens = bucket.tokens.min(f64::from(limit));
        bucket.limit = limit;
    }
    let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * f64::from(limit) / 60.0).min(f64::from(limit));
    bucket.last = now;
}

#[async_trait]
impl CoordinationStore for LocalCoordination {
    fn node(&self) -> &str {
        &self.node
    }

    fn shared(&self) -> bool {
        false
    }

    async fn claim_lease(
        &self,
        job: Job,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let now = OffsetDateTime::now_utc();
        let expires_at = now + ttl;
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let lease = match leases.get(&job) {
            None => Lease {
                job,
                holder: holder.to_owned(),
                fence: 1,
                expires_at,
            },
            Some(held) if held.holder == holder => Lease {
                expires_at,
                ..held.clone()
            },
            Some(held) if held.expires_at <= now => Lease {
                job,
                holder: holder.to_owned(),
                fence: held.fence + 1,
                expires_at,
            },
            Some(_) => return Ok(None),
        };
        leases.insert(job, lease.clone());
        Ok(Some(lease))
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = leases.get_mut(&lease.job)
            && held.holder == lease.holder
            && held.fence == lease.fence
        {
            // Kept, expired, so the next holder's fence still grows.
            held.expires_at = OffsetDateTime::now_utc();
        }
        Ok(())
    }

    async fn take_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer> {
        Ok(self.take_at(&key.key(), limit, Instant::now()))
    }

    async fn peek_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer> {
        Ok(self.peek_at(&key.key(), limit, Instant::now()))
    }

    async fn leases(&self) -> StoreResult<Vec<Lease>> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        Ok(leases.values().cloned().collect())
    }

    async fn forget_idle_rate_buckets(&self, idle: Duration) -> StoreResult<usize> {
        Ok(self.forget_idle_at(idle, Instant::now()))
    }

    async fn leave(&self) -> StoreResult<()> {
        let now = OffsetDateTime::now_utc();
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        for lease in leases.values_mut().filter(|l| l.holder == self.node) {
            lease.expires_at = now;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
