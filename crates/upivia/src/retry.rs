//! The retry policy (API.md §1.7), as a pure decision.
//!
//! At most `1 + max_retries` attempts. Retried: transport errors and
//! statuses 429, 502, 503 and 504, but only for replayable requests (every
//! GET, and mutations the SDK marks idempotent). The delay is
//! `min(Retry-After, 30 s)` on a 429 that carries a numeric `Retry-After`;
//! otherwise full jitter, uniform in `[0, min(0.5 s · 2^attempt, 8 s)]`.

use std::time::Duration;

/// Statuses worth another attempt.
pub const RETRYABLE_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// Default number of retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;

/// What happened on one attempt, as far as retrying cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// No reply: DNS, connect, reset, timeout.
    Network,
    /// A reply with this status and, maybe, a numeric `Retry-After`.
    Status {
        /// HTTP status.
        status: u16,
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
    },
}

/// One attempt's outcome plus whether the request may be sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `true` for GETs and for mutations marked idempotent.
    pub replayable: bool,
    /// What happened.
    pub result: AttemptResult,
}

/// The policy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Wait this long, then send again.
    After(Duration),
    /// Give up and report this attempt's result.
    Stop,
}

/// When and how long to wait before sending a request again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::new(DEFAULT_MAX_RETRIES)
    }
}

impl RetryPolicy {
    /// The reference policy with `max_retries` retries (0 disables them):
    /// backoff base 0.5 s, cap 8 s, `Retry-After` cap 30 s.
    pub const fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(30),
        }
    }

    /// Changes the jitter window's base (attempt 0) and cap.
    pub const fn with_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.backoff_base = base;
        self.backoff_cap = cap;
        self
    }

    /// Changes the cap on a server's `Retry-After`.
    pub const fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Retries after the first attempt.
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Decides after attempt number `attempt` (0 for the first send), drawing
    /// the jitter from the thread RNG.
    pub fn decide(&self, attempt: u32, outcome: &Outcome) -> Retry {
        self.decide_with_jitter(attempt, outcome, rand::random::<f64>())
    }

    /// [`decide`](Self::decide) with the jitter fraction given: `unit` in
    /// `[0, 1)` picks the point in the backoff window (clamped).
    pub fn decide_with_jitter(&self, attempt: u32, outcome: &Outcome, unit: f64) -> Retry {
        if !outcome.replayable || attempt >= self.max_retries {
            return Retry::Stop;
        }
        match outcome.result {
            AttemptResult::Network => Retry::After(self.jitter(attempt, unit)),
            AttemptResult::Status {
                status,
                retry_after,
            } => {
                if !RETRYABLE_STATUSES.contains(&status) {
                    return Retry::Stop;
                }
                match retry_after {
                    Some(after) if status == 429 => Retry::After(after.min(self.retry_after_cap)),
                    _ => Retry::After(self.jitter(attempt, unit)),
                }
            }
        }
    }

    /// The full window for `attempt`: `min(base · 2^attempt, cap)`.
    pub fn backoff_window(&self, attempt: u32) -> Duration {
        let factor = 2u32.checked_pow(attempt).unwrap_or(u32::MAX);
        self.backoff_base
            .checked_mul(factor)
            .unwrap_or(self.backoff_cap)
            .min(self.backoff_cap)
    }

    fn jitter(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.backoff_window(attempt).mul_f64(unit)
    }
}

#[cfg(test)]
mod tests;
