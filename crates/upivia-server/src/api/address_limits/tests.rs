use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

#[test]
fn the_limit_passes_then_the_address_waits_one_token() {
    let limiter = AuthFailures::new(3);
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(limiter.blocked(ip(1), t0), None);
        limiter.charge(ip(1), t0);
    }
    let wait = limiter.blocked(ip(1), t0).expect("spent");
    assert!(
        wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    // Other addresses keep their own budget.
    assert_eq!(limiter.blocked(ip(2), t0), None);
    // One try back after 20 s, and only one.
    let later = t0 + Duration::from_secs(20);
    assert_eq!(limiter.blocked(ip(1), later), None);
    limiter.charge(ip(1), later);
    assert!(limiter.blocked(ip(1), later).is_some());
}

#[test]
fn failures_in_flight_past_the_limit_do_not_lengthen_the_wait() {
    let limiter = AuthFailures::new(6);
    let t0 = Instant::now();
    for _ in 0..50 {
        limiter.charge(ip(1), t0);
    }
    let wait = limiter.blocked(ip(1), t0).unwrap();
    assert!(wait <= Duration::from_secs(10), "{wait:?}");
}

#[test]
fn addresses_whose_budget_refilled_are_forgotten() {
    let limiter = AuthFailures::new(60);
    let t0 = Instant::now();
    for i in 0..FIRST_SWEEP as u32 - 1 {
        let [_, _, a, b] = i.to_be_bytes();
        limiter.charge(IpAddr::V4(Ipv4Addr::new(10, 0, a, b)), t0);
    }
    // A second later every one of them has its token back; the next
    // insert sweeps them.
    limiter.charge(ip(1), t0 + Duration::from_secs(2));
    assert_eq!(limiter.tracked(), 1);
}

#[test]
fn only_health_probes_skip_the_gate() {
    assert!(is_health_probe("/api/v1/healthz"));
    assert!(is_health_probe("/v1/health/readiness"));
    assert!(!is_health_probe("/healthz"));
    assert!(!is_health_probe("/api/v1/auth/login"));
    assert!(!is_health_probe("/metrics"));
}
