use time::macros::datetime;

use super::*;
use crate::money::Cents;

fn sample(status: &str, ms: i64) -> RequestSample {
    let at = datetime!(2026-01-01 00:00 UTC);
    RequestSample {
        id: "req".into(),
        service: "email".into(),
        operation: "send".into(),
        status: status.into(),
        reason_code: None,
        cost: Cents::new(1),
        created_at: at,
        started_at: Some(at),
        updated_at: at + Duration::milliseconds(ms),
    }
}

fn class(samples: &[RequestSample]) -> HealthClass {
    assess("agt", "24h", samples, None).class
}

#[test]
fn no_request_is_idle() {
    assert_eq!(class(&[]), HealthClass::Idle);
}

#[test]
fn thresholds_decide_the_class() {
    let ok: Vec<_> = (0..10).map(|_| sample("executed", 100)).collect();
    assert_eq!(class(&ok), HealthClass::Healthy);
    let mut one_in_ten = ok.clone();
    one_in_ten[0] = sample("failed", 100);
    assert_eq!(class(&one_in_ten), HealthClass::Degraded);
    let half: Vec<_> = (0..4)
        .map(|i| sample(if i % 2 == 0 { "failed" } else { "executed" }, 100))
        .collect();
    assert_eq!(class(&half), HealthClass::Failing);
    let slow = |n: usize| -> Vec<RequestSample> {
        (0..20)
            .map(|i| sample("executed", if i < n { 20_000 } else { 100 }))
            .collect()
    };
    // With 20 requests the 95th percentile is the 19th fastest.
    assert_eq!(class(&slow(1)), HealthClass::Healthy);
    assert_eq!(class(&slow(2)), HealthClass::Degraded);
    assert_eq!(class(&[sample("blocked", 0)]), HealthClass::Healthy);
}

#[test]
fn percentiles_are_nearest_rank() {
    let samples: Vec<_> = (1..=100).map(|i| sample("executed", i)).collect();
    let h = assess("agt", "24h", &samples, None);
    assert_eq!((h.p50_latency_ms, h.p95_latency_ms), (Some(50), Some(95)));
    assert_eq!(h.error_rate, 0.0);
    assert_eq!(percentile(&[7], 95), Some(7));
}
