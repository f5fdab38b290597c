//! Requests-per-minute limits, as token buckets kept in memory per key
//! (an agent, or an agent's binding). A bucket holds up to `limit` tokens
//! and refills at `limit` per minute, so bursts up to the limit pass and
//! the steady rate is the limit. Limits are per server process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    limit: u32,
    last: Instant,
}

impl RateLimiter {
    /// Takes a token from every bucket, or none: returns how long to wait
    /// when one of them is empty.
    pub fn try_acquire(&self, keys: &[(String, u32)], now: Instant) -> Result<(), (u32, Duration)> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        for (key, limit) in keys {
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: f64::from(*limit),
                limit: *limit,
                last: now,
            });
            refill(bucket, *limit, now);
            if bucket.tokens < 1.0 {
                let per_token = 60.0 / f64::from((*limit).max(1));
                let wait = (1.0 - bucket.tokens) * per_token;
                return Err((*limit, Duration::from_secs_f64(wait.max(0.001))));
            }
        }
        for (key, _) in keys {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }
}

fn refill(bucket: &mut Bucket, limit: u32, now: Instant) {
    if bucket.limit != limit {
        // The limit was changed: start from the new capacity's share.
        bucket.tokens = bucket.tokens.min(f64::from(limit));
        bucket.limit = limit;
    }
    let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * f64::from(limit) / 60.0).min(f64::from(limit));
    bucket.last = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_limit_passes_then_waits() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let keys = vec![("agent:a".to_owned(), 3)];
        for _ in 0..3 {
            limiter.try_acquire(&keys, t0).unwrap();
        }
        let (limit, wait) = limiter.try_acquire(&keys, t0).unwrap_err();
        assert_eq!(limit, 3);
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // One token back after 20 s.
        limiter
            .try_acquire(&keys, t0 + Duration::from_secs(20))
            .unwrap();
        assert!(
            limiter
                .try_acquire(&keys, t0 + Duration::from_secs(20))
                .is_err()
        );
    }

    #[test]
    fn all_or_nothing_across_keys() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let tight = vec![("b".to_owned(), 1)];
        limiter.try_acquire(&tight, t0).unwrap();
        let both = vec![("a".to_owned(), 10), ("b".to_owned(), 1)];
        assert!(limiter.try_acquire(&both, t0).is_err());
        // "a" was not charged by the refused attempt: ten more fit.
        let only_a = vec![("a".to_owned(), 10)];
        for _ in 0..10 {
            limiter.try_acquire(&only_a, t0).unwrap();
        }
        assert!(limiter.try_acquire(&only_a, t0).is_err());
    }
}
