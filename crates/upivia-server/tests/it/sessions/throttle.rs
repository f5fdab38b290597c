//! Login throttling (per client address and per account, exponential
//! backoff) and the bounded password-hashing pool, against the real server.
//!
//! Distinct clients are distinct peer addresses: every 127.0.0.0/8 address
//! reaches the server on 127.0.0.1, and `client_from` binds to one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::{OWNER, client_from, login_as};
use crate::support::{Reply, TestServer, reply};

fn retry_after(r: &Reply) -> u64 {
    r.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {r:?}"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn assert_throttled(r: &Reply, at_most_secs: u64) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    assert_eq!(r.code(), "rate_limited", "{r:?}");
    let after = retry_after(r);
    assert!(
        (1..=at_most_secs).contains(&after),
        "Retry-After {after}: {r:?}"
    );
    after
}

fn advance(s: &TestServer, secs: u64) {
    s.clock.advance(time::Duration::seconds(secs as i64));
}

#[tokio::test]
async fn repeated_wrong_logins_back_off_exponentially_and_the_backoff_expires() {
    let s = TestServer::start().await;
    let http = client_from("127.0.0.1");
    for attempt in 1..=5 {
        let r = login_as(&s, &http, OWNER, "wrong password").await;
        assert_eq!(r.status, 401, "attempt {attempt}: {r:?}");
    }
    // Five failures lock the address for 1 s; a sixth try is refused
    // without checking the password, even the right one.
    assert_throttled(&login_as(&s, &http, OWNER, &s.password).await, 1);
    advance(&s, 2);
    assert_eq!(login_as(&s, &http, OWNER, "wrong").await.status, 401);
    assert_throttled(&login_as(&s, &http, OWNER, "wrong").await, 2);
    advance(&s, 3);
    assert_eq!(login_as(&s, &http, OWNER, "wrong").await.status, 401);
    // The seventh failure: 4 s.
    let after = assert_throttled(&login_as(&s, &http, OWNER, &s.password).await, 4);
    assert!(after >= 3, "the delay doubled: {after}");
    advance(&s, after + 1);
    let r = login_as(&s, &http, OWNER, &s.password).await;
    assert_eq!(r.status, 200, "the backoff expired: {r:?}");
}

#[tokio::test]
async fn an_attackers_locked_address_does_not_lock_the_owner_out() {
    let s = TestServer::start().await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..5 {
        assert_eq!(login_as(&s, &attacker, OWNER, "guess").await.status, 401);
    }
    // Locked: every further guess from that address is refused at once,
    // for any account, and costs no password hash.
    assert_throttled(&login_as(&s, &attacker, OWNER, "guess").await, 1);
    assert_throttled(
        &login_as(&s, &attacker, "someone@else.example", "guess").await,
        1,
    );
    let owner = client_from("127.0.0.1");
    let r = login_as(&s, &owner, OWNER, &s.password).await;
    assert_eq!(r.status, 200, "the owner, from another address: {r:?}");
}

#[tokio::test]
async fn failures_from_many_addresses_lock_the_account_only_briefly() {
    let s = TestServer::start().await;
    // Ten addresses, one wrong guess each: no address is locked, but the
    // account has seen ten failures.
    for i in 2..=11 {
        let attacker = client_from(&format!("127.0.0.{i}"));
        assert_eq!(login_as(&s, &attacker, OWNER, "guess").await.status, 401);
    }
    let owner = client_from("127.0.0.1");
    assert_throttled(&login_as(&s, &owner, OWNER, &s.password).await, 1);
    // A locked account costs no hash and counts no failure: a guess during
    // the lock does not lengthen it.
    let late = client_from("127.0.0.12");
    assert_throttled(
        &login_as(&s, &late, "OWNER@upivia.local ", "guess").await,
        1,
    );
    advance(&s, 2);
    assert_eq!(login_as(&s, &late, OWNER, "guess").await.status, 401);
    let after = assert_throttled(&login_as(&s, &owner, OWNER, &s.password).await, 2);
    advance(&s, after + 1);
    let r = login_as(&s, &owner, OWNER, &s.password).await;
    assert_eq!(r.status, 200, "{r:?}");
    // A success clears the account's failures: the next wrong guess from a
    // fresh address is a plain 401, not a lock.
    let fresh = client_from("127.0.0.13");
    assert_eq!(login_as(&s, &fresh, OWNER, "guess").await.status, 401);
    assert_eq!(login_as(&s, &owner, OWNER, &s.password).await.status, 200);
}

async fn login_forwarded(s: &TestServer, forwarded: &str, password: &str) -> Reply {
    let r = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"email": OWNER, "password": password}))
        .send()
        .await
        .unwrap();
    reply(r).await
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_trusted() {
    let s = TestServer::start().await;
    for _ in 0..5 {
        assert_eq!(
            login_forwarded(&s, "203.0.113.1", "guess").await.status,
            401
        );
    }
    // The header is the client's word: the peer address is what is locked.
    assert_throttled(&login_forwarded(&s, "203.0.113.2", &s.password).await, 1);
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_address_is_the_client() {
    let s = TestServer::start_with(|c| c.trust_forwarded_for = true).await;
    for _ in 0..5 {
        assert_eq!(
            login_forwarded(&s, "203.0.113.1", "guess").await.status,
            401
        );
    }
    assert_throttled(&login_forwarded(&s, "203.0.113.1", &s.password).await, 1);
    // The proxy appends the address it saw; what the client wrote before it
    // does not count.
    assert_throttled(
        &login_forwarded(&s, "198.51.100.7, 203.0.113.1", &s.password).await,
        1,
    );
    let r = login_forwarded(&s, "203.0.113.1, 203.0.113.2", &s.password).await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// Resident memory of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_queues_in_bounded_memory_and_health_stays_fast() {
    const FLOOD: usize = 250;
    let s = TestServer::start().await;
    // One address per request, unknown emails: neither the address nor the
    // account throttle applies, so only the hashing pool stands in the way.
    let clients: Vec<reqwest::Client> = (0..FLOOD)
        .map(|i| client_from(&format!("127.0.{}.{}", 1 + i / 200, 1 + i % 200)))
        .collect();
    let baseline = rss_kib();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak.max(rss_kib())
        })
    };
    let health = {
        let done = done.clone();
        let (http, base) = (reqwest::Client::new(), s.base.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let r = http
                    .get(format!("{base}/api/v1/healthz"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                latencies.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            latencies
        })
    };
    let started = Instant::now();
    let flood: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, http)| {
            let base = s.base.clone();
            tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/api/v1/auth/login"))
                    .json(&json!({"email": format!("flood-{i}@example.com"), "password": "guess"}))
                    .send()
                    .await
                    .unwrap();
                reply(r).await
            })
        })
        .collect();
    let (mut checked, mut refused) = (0, 0);
    for task in flood {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            401 => checked += 1,
            429 => {
                assert_eq!(r.code(), "rate_limited", "{r:?}");
                retry_after(&r);
                refused += 1;
            }
            other => panic!("{other}: {r:?}"),
        }
    }
    let flood_took = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    let mut latencies = health.await.unwrap();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let max = *latencies.last().unwrap();
    let growth_mib = peak.saturating_sub(baseline) / 1024;
    eprintln!(
        "login flood of {FLOOD}: {checked} checked (401), {refused} refused (429) in {flood_took:?}; \
         RSS {} MiB -> peak {} MiB (+{growth_mib} MiB); /healthz p50 {p50:?} max {max:?} over {} probes",
        baseline / 1024,
        peak / 1024,
        latencies.len()
    );
    assert!(refused > 0, "a flood beyond the queue is refused at once");
    assert!(growth_mib < 128, "memory stayed bounded: +{growth_mib} MiB");
    assert!(p50 < Duration::from_millis(250), "/healthz p50 {p50:?}");
    assert!(max < Duration::from_secs(2), "/healthz max {max:?}");
    assert!(flood_took < Duration::from_secs(60), "{flood_took:?}");
    // The flood left the owner's address and account alone.
    let r = login_as(&s, &client_from("127.0.0.1"), OWNER, &s.password).await;
    assert_eq!(r.status, 200, "{r:?}");
}
