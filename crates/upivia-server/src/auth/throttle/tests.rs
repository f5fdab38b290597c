use std::net::{IpAddr, Ipv4Addr};

use time::macros::datetime;

use super::*;

const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

#[test]
fn the_schedule_doubles_from_the_free_allowance_to_the_cap() {
    let b = Backoff::PER_ADDRESS;
    assert_eq!(b.lock_after(4), None);
    assert_eq!(b.lock_after(5), Some(secs(1)));
    assert_eq!(b.lock_after(6), Some(secs(2)));
    assert_eq!(b.lock_after(14), Some(secs(512)));
    assert_eq!(b.lock_after(15), Some(Duration::minutes(15)));
    assert_eq!(b.lock_after(u32::MAX), Some(Duration::minutes(15)));
    let a = Backoff::PER_ACCOUNT;
    assert_eq!(a.lock_after(9), None);
    assert_eq!(a.lock_after(10), Some(secs(1)));
    assert_eq!(a.lock_after(40), Some(Duration::minutes(5)));
}

#[test]
fn an_address_is_locked_after_five_failures_and_the_lock_expires() {
    let t = LoginThrottle::default();
    for _ in 0..4 {
        t.failed(ip(1), "a@x", T0);
        assert_eq!(t.check(ip(1), "a@x", T0), Ok(()));
    }
    t.failed(ip(1), "a@x", T0);
    let locked = t.check(ip(1), "b@x", T0).unwrap_err();
    assert_eq!(locked.retry_after, StdDuration::from_secs(1));
    assert_eq!(
        t.check(ip(2), "a@x", T0),
        Ok(()),
        "other addresses are free"
    );
    assert_eq!(t.check(ip(1), "a@x", T0 + secs(1)), Ok(()));
}

#[test]
fn the_account_locks_later_than_a_single_address() {
    let t = LoginThrottle::default();
    let mut now = T0;
    // One address guessing: after each lock expires, one more guess.
    for _ in 0..12 {
        t.failed(ip(1), "owner@x", now);
        let wait = t
            .check(ip(1), "owner@x", now)
            .err()
            .map_or(StdDuration::ZERO, |l| l.retry_after);
        now += Duration::try_from(wait).unwrap();
    }
    // A 13th failure locks the address for 256 s, the account for 8 s.
    t.failed(ip(1), "owner@x", now);
    let from_attacker = t.check(ip(1), "owner@x", now).unwrap_err().retry_after;
    let from_owner = t.check(ip(9), "owner@x", now).unwrap_err().retry_after;
    assert_eq!(from_attacker, StdDuration::from_secs(256));
    assert_eq!(from_owner, StdDuration::from_secs(8));
}

#[test]
fn failures_are_forgotten_after_an_hour_and_success_clears_the_account() {
    let t = LoginThrottle::default();
    for _ in 0..4 {
        t.failed(ip(1), "a@x", T0);
    }
    let later = T0 + Duration::HOUR;
    t.failed(ip(1), "a@x", later);
    assert_eq!(t.check(ip(1), "a@x", later), Ok(()), "started over");

    for _ in 0..10 {
        t.failed(None, "b@x", T0);
    }
    assert!(t.check(None, "b@x", T0).is_err());
    t.succeeded("B@X ");
    assert_eq!(t.check(None, "b@x", T0), Ok(()));
}

#[test]
fn emails_share_a_counter_across_spellings() {
    let t = LoginThrottle::default();
    for spelling in ["Owner@X", " owner@x", "OWNER@x", "owner@X ", "owner@x"] {
        for _ in 0..2 {
            t.failed(None, spelling, T0);
        }
    }
    assert!(t.check(None, "owner@x", T0).is_err());
}

#[test]
fn ipv6_addresses_count_by_their_64_block() {
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
    let t = LoginThrottle::default();
    for i in 0..5 {
        t.failed(Some(if i % 2 == 0 { a } else { b }), &format!("u{i}@x"), T0);
        t.failed(Some(mapped), &format!("v{i}@x"), T0);
    }
    assert!(t.check(Some(b), "new@x", T0).is_err());
    assert_eq!(t.check(Some(other), "new@x", T0), Ok(()));
    assert!(t.check(ip(1), "new@x", T0).is_err(), "mapped v4 is v4");
}

#[test]
fn a_full_table_drops_forgotten_keys_then_the_oldest() {
    let t = LoginThrottle::new(Backoff::PER_ADDRESS, Backoff::PER_ACCOUNT, 3);
    t.failed(None, "old@x", T0);
    t.failed(None, "b@x", T0 + secs(10));
    t.failed(None, "c@x", T0 + secs(20));
    t.failed(None, "d@x", T0 + secs(30));
    let accounts = lock(&t.accounts);
    assert_eq!(accounts.records.len(), 3);
    assert!(!accounts.records.contains_key("old@x"));
    drop(accounts);
    let much_later = T0 + Duration::HOUR + secs(25);
    t.failed(None, "e@x", much_later);
    let accounts = lock(&t.accounts);
    let mut keys: Vec<&String> = accounts.records.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["d@x", "e@x"], "the forgotten went first");
}
