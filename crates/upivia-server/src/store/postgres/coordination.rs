//! `CoordinationStore` on PostgreSQL: job leases on `job_leases` and the
//! shared per-minute buckets on `rate_buckets`, each check or claim one
//! statement (one round trip), judged by the database's clock.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;

use super::{PgStore, db_error, nodes};
use crate::store::coordination::wait_for_token;
use crate::store::{CoordinationStore, Job, Lease, RateAnswer, RateKey, StoreResult};

/// Claims a job: a new row, or the row taken over when it is the
/// claimant's own (renewed, same fence) or expired (a new holder, the fence
/// one higher). The row lock makes concurrent claims take turns, and the
/// `WHERE` is judged on the row as the previous claim left it, so at most
/// one of them wins.
const CLAIM: &str = "\
INSERT INTO job_leases AS l (job, holder, fence, expires_at) \
VALUES ($1, $2, 1, now() + make_interval(secs => $3)) \
ON CONFLICT (job) DO UPDATE SET \
    fence = CASE WHEN l.holder = EXCLUDED.holder THEN l.fence ELSE l.fence + 1 END, \
    holder = EXCLUDED.holder, \
    expires_at = EXCLUDED.expires_at \
WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now() \
RETURNING fence, expires_at";

/// A released lease stays, expired, so the fence keeps growing.
const RELEASE: &str = "\
UPDATE job_leases SET expires_at = LEAST(expires_at, now()) \
WHERE job = $1 AND holder = $2 AND fence = $3";

const RELEASE_ALL: &str = "\
UPDATE job_leases SET expires_at = now() WHERE holder = $1 AND expires_at > now()";

/// The bucket's tokens now, before this check takes one: the stored
/// tokens, capped at the current limit, plus the refill for the seconds
/// since the last check, capped at the limit. A statement that waited for
/// the row lock may carry a `now()` older than the row's: elapsed time
/// never goes negative (and `updated_at` below never goes back).
macro_rules! refilled {
    () => {
        "LEAST(EXCLUDED.per_minute::float8, \
           LEAST(b.tokens, EXCLUDED.per_minute::float8) \
           + GREATEST(0, EXTRACT(EPOCH FROM EXCLUDED.updated_at - b.updated_at))::float8 \
             * EXCLUDED.per_minute / 60.0)"
    };
}

/// One token bucket check, in one statement: a token is taken when the
/// refilled bucket holds one, and `admitted` records which. The row lock
/// makes concurrent checks of a key take turns. A new bucket starts full
/// (the burst is the limit), less this request.
const TAKE: &str = concat!(
    "INSERT INTO rate_buckets AS b (key, tokens, per_minute, admitted, updated_at) \
     VALUES ($1, $2::float8 - 1, $2, TRUE, now()) \
     ON CONFLICT (key) DO UPDATE SET tokens = CASE WHEN ",
    refilled!(),
    " >= 1 THEN ",
    refilled!(),
    " - 1 ELSE ",
    refilled!(),
    " END, admitted = ",
    refilled!(),
    " >= 1, per_minute = EXCLUDED.per_minute, \
     updated_at = GREATEST(b.updated_at, EXCLUDED.updated_at) \
     RETURNING admitted, tokens"
);

/// The refilled tokens of a bucket, as [`TAKE`] computes them, read
/// without taking one.
const PEEK: &str = "\
SELECT LEAST($2::float8, LEAST(tokens, $2::float8) \
    + GREATEST(0, EXTRACT(EPOCH FROM now() - updated_at))::float8 * $2::float8 / 60.0) AS tokens \
FROM rate_buckets WHERE key = $1";

const LEASES: &str = "SELECT job, holder, fence, expires_at FROM job_leases";

const FORGET_IDLE: &str = "\
DELETE FROM rate_buckets WHERE updated_at < now() - make_interval(secs => $1)";

#[async_trait]
impl CoordinationStore for PgStore {
    fn node(&self) -> &str {
        &self.node_id
    }

    fn shared(&self) -> bool {
        true
    }

    async fn claim_lease(
        &self,
        job: Job,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let row = sqlx::query(CLAIM)
            .bind(job.as_str())
            .bind(holder)
            .bind(ttl.as_secs_f64())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let fence: i64 = row.try_get("fence").map_err(db_error)?;
        let expires_at: OffsetDateTime = row.try_get("expires_at").map_err(db_error)?;
        Ok(Some(Lease {
            job,
            holder: holder.to_owned(),
            fence,
            expires_at,
        }))
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        sqlx::query(RELEASE)
            .bind(lease.job.as_str())
            .bind(&lease.holder)
            .bind(lease.fence)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn take_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer> {
        if limit == 0 {
            // A bucket of nothing never holds a token; no row needed.
            return Ok(RateAnswer::Limited {
                retry_after: wait_for_token(0.0, 0),
            });
        }
        let row = sqlx::query(TAKE)
            .bind(key.key())
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        let admitted: bool = row.try_get("admitted").map_err(db_error)?;
        if admitted {
            return Ok(RateAnswer::Admitted);
        }
        let tokens: f64 = row.try_get("tokens").map_err(db_error)?;
        Ok(RateAnswer::Limited {
            retry_after: wait_for_token(tokens, limit),
        })
    }

    async fn peek_rate_token(&self, key: &RateKey, limit: u32) -> StoreResult<RateAnswer> {
        if limit == 0 {
            return Ok(RateAnswer::Limited {
                retry_after: wait_for_token(0.0, 0),
            });
        }
        let tokens: Option<f64> = sqlx::query_scalar(PEEK)
            .bind(key.key())
            .bind(i64::from(limit))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        // No row: a new bucket starts full.
        match tokens {
            Some(tokens) if tokens < 1.0 => Ok(RateAnswer::Limited {
                retry_after: wait_for_token(tokens, limit),
            }),
            _ => Ok(RateAnswer::Admitted),
        }
    }

    async fn leases(&self) -> StoreResult<Vec<Lease>> {
        let rows = sqlx::query(LEASES)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut leases = Vec::with_capacity(rows.len());
        for row in rows {
            let name: String = row.try_get("job").map_err(db_error)?;
            // A job this version does not run (an older or newer node's).
            let Some(job) = Job::ALL.into_iter().find(|j| j.as_str() == name) else {
                continue;
            };
            leases.push(Lease {
                job,
                holder: row.try_get("holder").map_err(db_error)?,
                fence: row.try_get("fence").map_err(db_error)?,
                expires_at: row.try_get("expires_at").map_err(db_error)?,
            });
        }
        Ok(leases)
    }

    async fn forget_idle_rate_buckets(&self, idle: Duration) -> StoreResult<usize> {
        let idle = idle.max(Duration::from_secs(60));
        let done = sqlx::query(FORGET_IDLE)
            .bind(idle.as_secs_f64())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    async fn leave(&self) -> StoreResult<()> {
        sqlx::query(RELEASE_ALL)
            .bind(&self.node_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        nodes::mark_stopped(self).await
    }
}
