//! Login throttling: failed password checks are counted per client address
//! and per account, and past a free allowance each further failure locks
//! the key for a delay that doubles up to a cap. While a key is locked its
//! attempts are refused (429 with `Retry-After`) before any password is
//! checked, so they cost no hash, count no failure and tell nothing about
//! the password, even the right one.
//!
//! The address limit is the tight one (5 free failures, then 1 s doubling
//! to 15 min); the account limit is looser and its cap short (10 free, then
//! 1 s doubling to 5 min). One address guessing at an account is locked for
//! 2^(n−5) s after its n-th failure while the account is locked for only
//! 2^(n−10) s, so the owner, from any other address, is locked out at most
//! 1/32 of the time and never longer than 5 minutes after the last failure.
//! Many addresses can keep an account locked (each failure they get in
//! buys at most 5 minutes) but get at most about 12 guesses an hour at it;
//! a PAT is not throttled and keeps working. Failures are forgotten an hour
//! after the last one, and a successful login clears its account's (not its
//! address's: a login to an account one owns would otherwise wipe the
//! address's record of guesses at others).
//!
//! The tables live in memory, per process, like the per-minute rate limits,
//! and hold at most [`MAX_TRACKED`] keys each.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

/// How many keys a table remembers. Past it, forgotten keys are dropped,
/// then the one that failed longest ago.
pub const MAX_TRACKED: usize = 100_000;

/// A backoff schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before the first lock.
    pub free_failures: u32,
    /// The first lock; each further failure doubles it.
    pub base: Duration,
    pub cap: Duration,
    /// A key whose last failure is this old starts over.
    pub forget_after: Duration,
}

impl Backoff {
    pub const PER_ADDRESS: Backoff = Backoff {
        free_failures: 5,
        base: Duration::SECOND,
        cap: Duration::minutes(15),
        forget_after: Duration::HOUR,
    };

    pub const PER_ACCOUNT: Backoff = Backoff {
        free_failures: 10,
        base: Duration::SECOND,
        cap: Duration::minutes(5),
        forget_after: Duration::HOUR,
    };

    /// The lock that follows the `failures`-th failure, if any.
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.free_failures)?;
        let factor = 1_i32.checked_shl(beyond.min(30)).unwrap_or(i32::MAX);
        Some(
            self.base
                .checked_mul(factor)
                .map_or(self.cap, |d| d.min(self.cap)),
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    last_failure: OffsetDateTime,
    locked_until: Option<OffsetDateTime>,
}

struct Table<K> {
    policy: Backoff,
    capacity: usize,
    records: HashMap<K, Record>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(policy: Backoff, capacity: usize) -> Self {
        Table {
            policy,
            capacity,
            records: HashMap::new(),
        }
    }

    fn locked_for(&self, key: &K, now: OffsetDateTime) -> Option<Duration> {
        let until = self.records.get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    fn fail(&mut self, key: K, now: OffsetDateTime) {
        if !self.records.contains_key(&key) && self.records.len() >= self.capacity {
            self.make_room(now);
        }
        let policy = self.policy;
        let record = self.records.entry(key).or_insert(Record {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        if now - record.last_failure >= policy.forget_after {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        if let Some(lock) = policy.lock_after(record.failures) {
            // Two checks that overlapped never shorten a lock.
            let until = now + lock;
            record.locked_until = Some(record.locked_until.map_or(until, |u| u.max(until)));
        }
    }

    fn clear(&mut self, key: &K) {
        self.records.remove(key);
    }

    fn make_room(&mut self, now: OffsetDateTime) {
        let forget = self.policy.forget_after;
        self.records.retain(|_, r| {
            now - r.last_failure < forget || r.locked_until.is_some_and(|u| u > now)
        });
        if self.records.len() >= self.capacity {
            let oldest = self
                .records
                .iter()
                .min_by_key(|(_, r)| r.last_failure)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.records.remove(&oldest);
            }
        }
    }
}

/// Refused: the address or the account is locked for `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("too many failed password checks; retry in {} s", retry_after.as_secs().max(1))]
pub struct Locked {
    pub retry_after: StdDuration,
}

/// The two tables, shared by every login and password change.
pub struct LoginThrottle {
    addresses: Mutex<Table<IpAddr>>,
    accounts: Mutex<Table<String>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(Backoff::PER_ADDRESS, Backoff::PER_ACCOUNT, MAX_TRACKED)
    }
}

impl LoginThrottle {
    pub fn new(per_address: Backoff, per_account: Backoff, capacity: usize) -> Self {
        LoginThrottle {
            addresses: Mutex::new(Table::new(per_address, capacity)),
            accounts: Mutex::new(Table::new(per_account, capacity)),
        }
    }

    /// Refuses while the address (when known) or the account is locked.
    pub fn check(
        &self,
        address: Option<IpAddr>,
        account: &str,
        now: OffsetDateTime,
    ) -> Result<(), Locked> {
        let by_address =
            address.and_then(|a| lock(&self.addresses).locked_for(&address_key(a), now));
        let by_account = lock(&self.accounts).locked_for(&account_key(account), now);
        match by_address.max(by_account) {
            None => Ok(()),
            Some(wait) => Err(Locked {
                retry_after: StdDuration::try_from(wait).unwrap_or(StdDuration::from_secs(1)),
            }),
        }
    }

    /// Counts a wrong password against the address and the account.
    pub fn failed(&self, address: Option<IpAddr>, account: &str, now: OffsetDateTime) {
        if let Some(address) = address {
            lock(&self.addresses).fail(address_key(address), now);
        }
        lock(&self.accounts).fail(account_key(account), now);
    }

    /// A right password: the account starts over.
    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).clear(&account_key(account));
    }
}

/// The tables hold counters only; one left by a panicking thread is still
/// a valid table.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// IPv4 as is (also when mapped into IPv6); IPv6 by its /64, the block one
/// subscriber usually holds whole.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Emails compare trimmed and case-insensitively, so spelling variants of
/// one address share a counter. Unknown emails are counted too: otherwise a
/// lock would tell which accounts exist.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests;
