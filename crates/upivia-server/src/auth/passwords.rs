//! The bounded pool that checks and hashes passwords, and the rule for new
//! ones.
//!
//! Argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! minimum) takes one core for tens of milliseconds and 19 MiB for its
//! duration. Run on the blocking pool unbounded, a flood of wrong logins
//! became hundreds of threads at 19 MiB each (931 MB peak for 1,000) and
//! starved the rest of the server. Here at most `concurrency` hashes run at
//! once (peak memory = 19 MiB × concurrency) and at most `queue` more wait;
//! beyond that a request is refused at once ([`PasswordWorkError::Busy`],
//! 429 with `Retry-After`) instead of queueing without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::secrets::{hash_password, verify_password};

/// Requests that may wait for a hashing slot beyond those running.
pub const DEFAULT_QUEUE: usize = 32;
/// A new password's length bounds, in characters (NIST SP 800-63B-4 asks
/// for at least 15 when a password is the only factor).
pub const MIN_PASSWORD_CHARS: usize = 15;
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum PasswordWorkError {
    #[error("too many password checks are waiting; retry shortly")]
    Busy,
    #[error("password hashing failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// At most `concurrency` Argon2 computations at once, `queue` more waiting.
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    admitted: Arc<AtomicUsize>,
    limit: usize,
}

impl Default for PasswordPool {
    /// Half the cores (one on two), at most four: a flood keeps the other
    /// cores for everything else.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordPool::new((cores / 2).clamp(1, 4), DEFAULT_QUEUE)
    }
}

impl PasswordPool {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        PasswordPool {
            permits: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(AtomicUsize::new(0)),
            limit: concurrency + queue,
        }
    }

    /// Waits for a hashing slot, or refuses at once when the queue is full.
    pub async fn slot(&self) -> Result<Slot, PasswordWorkError> {
        let previous = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(self.admitted.clone());
        if previous >= self.limit {
            return Err(PasswordWorkError::Busy);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordWorkError::Busy)?;
        Ok(Slot {
            _permit: permit,
            _admission: admission,
        })
    }
}

/// Leaves the queue when dropped: also when the waiting request is
/// cancelled (its client went away).
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A turn at hashing. The work runs on the blocking pool and owns the slot,
/// so a cancelled request does not free it before the hash is done.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    _admission: Admission,
}

impl Slot {
    pub async fn run<T, F>(self, work: F) -> Result<T, PasswordWorkError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let _slot = self;
            work()
        })
        .await
        .map_err(|e| PasswordWorkError::Failed(Box::new(e)))
    }

    /// Checks `password` against `stored`, or against a dummy hash when
    /// there is no user, so the time taken does not tell which emails exist.
    pub async fn verify(
        self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PasswordWorkError> {
        self.run(move || match stored {
            Some(stored) => verify_password(&password, &stored),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        })
        .await
    }

    /// Checks `current` against `stored` and, if it matches, hashes `new`:
    /// one turn for both, so a password change waits in the queue once.
    pub async fn verify_and_hash(
        self,
        current: String,
        stored: String,
        new: String,
    ) -> Result<Option<String>, PasswordWorkError> {
        self.run(move || {
            if !verify_password(&current, &stored) {
                return Ok(None);
            }
            hash_password(&new).map(Some)
        })
        .await?
        .map_err(|e| PasswordWorkError::Failed(e.to_string().into()))
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// Why a new password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("must differ from the current password")]
    Unchanged,
    #[error("must not be the account's email address")]
    IsEmail,
}

/// Length is what makes a password strong; composition rules are not asked
/// for (NIST SP 800-63B). Spaces count, nothing is trimmed.
pub fn check_new_password(new: &str, current: &str, email: &str) -> Result<(), PasswordRule> {
    let chars = new.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordRule::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordRule::TooLong);
    }
    if new == current {
        return Err(PasswordRule::Unchanged);
    }
    if new.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(PasswordRule::IsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
