//! The bounded pool that checks and hashes passwords, and the rule for new
//! ones.
//!
//! Argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! minimum) takes one core for tens of milliseconds and 19 MiB for its
//! duration. Run on the blocking pool unbounded, a flood of wrong logins
//! became hundreds of threads at 19 MiB each (931 MB peak for 1,000) and
//! starved the rest of the server. Here at most `concurrency` hashes run at
//! once and at most `queue` more wait; beyond that a request is refused at
//! once ([`PasswordWorkError::Busy`], 429 with `Retry-After`) instead of
//! queueing without bound. Each running slot owns one Argon2 working
//! memory, allocated on first use and reused, so the pool's memory is
//! 19 MiB × concurrency however many hashes it computes (allocating it per
//! hash let the C allocator keep freed copies: +360 MiB over 40 sequential
//! checks, measured).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::secrets::base64_salt;

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
    /// One working memory per permit, taken by the slot holding it.
    memories: Arc<std::sync::Mutex<Vec<HashMemory>>>,
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
            memories: Arc::new(std::sync::Mutex::new(
                (0..concurrency).map(|_| HashMemory::default()).collect(),
            )),
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
        // A permit guarantees a memory is free: there are as many of each.
        let memory = lock(&self.memories).pop().unwrap_or_default();
        Ok(Slot {
            memory: Some(memory),
            home: self.memories.clone(),
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
    memory: Option<HashMemory>,
    home: Arc<std::sync::Mutex<Vec<HashMemory>>>,
    // Dropped after `memory` went home, so the next holder finds it.
    _permit: OwnedSemaphorePermit,
    _admission: Admission,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(memory) = self.memory.take() {
            lock(&self.home).push(memory);
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Slot {
    pub async fn run<T, F>(mut self, work: F) -> Result<T, PasswordWorkError>
    where
        T: Send + 'static,
        F: FnOnce(&mut HashMemory) -> T + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let memory = self.memory.get_or_insert_with(HashMemory::default);
            work(memory)
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
        self.run(move |memory| match stored {
            Some(stored) => memory.verify(&password, &stored),
            None => {
                let dummy = dummy_hash(memory);
                memory.verify(&password, &dummy);
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
        self.run(move |memory| {
            if !memory.verify(&current, &stored) {
                return Ok(None);
            }
            memory.hash(&new).map(Some)
        })
        .await?
        .map_err(|e| PasswordWorkError::Failed(e.to_string().into()))
    }
}

/// What an unknown email is checked against, so it costs a real hash.
fn dummy_hash(memory: &mut HashMemory) -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(dummy) = DUMMY.get() {
        return dummy.clone();
    }
    let dummy = memory.hash("not a real password").unwrap_or_default();
    DUMMY.get_or_init(|| dummy).clone()
}

/// The largest working memory a stored hash may ask for (ours ask 19 MiB).
const MAX_BLOCKS: usize = 256 * 1024;

/// Argon2's working memory, kept between computations. Hashes are the PHC
/// strings `argon2::PasswordHasher` writes and reads (the same
/// computation, with the memory passed in).
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::default());
        }
        &mut self.0[..count]
    }

    /// A new Argon2id hash of `password` with a random salt.
    pub fn hash(&mut self, password: &str) -> Result<String, argon2::password_hash::Error> {
        let params = Params::default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = SaltString::from_b64(&base64_salt())?;
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon.hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            self.blocks(params.block_count()),
        )?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out)?),
        }
        .to_string())
    }

    /// Whether `password` matches the PHC string `stored` (with the
    /// parameters it names); `false` for anything unparsable.
    pub fn verify(&mut self, password: &str, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
            return false;
        };
        let Ok(version) = hash.version.map(Version::try_from).transpose() else {
            return false;
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        if params.block_count() > MAX_BLOCKS {
            return false;
        }
        let mut salt_bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
        if argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                self.blocks(params.block_count()),
            )
            .is_err()
        {
            return false;
        }
        // `Output` compares in constant time.
        Output::new(&out).is_ok_and(|computed| computed == expected)
    }
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
