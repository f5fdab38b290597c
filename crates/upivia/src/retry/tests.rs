use super::*;

fn status(status: u16) -> Outcome {
    Outcome {
        replayable: true,
        result: AttemptResult::Status {
            status,
            retry_after: None,
        },
    }
}

const NET: Outcome = Outcome {
    replayable: true,
    result: AttemptResult::Network,
};

#[test]
fn retries_exactly_the_pinned_statuses() {
    let policy = RetryPolicy::default();
    for s in [429, 502, 503, 504] {
        assert!(
            matches!(policy.decide(0, &status(s)), Retry::After(_)),
            "{s}"
        );
    }
    for s in [200, 201, 204, 302, 400, 401, 403, 404, 409, 500, 501, 505] {
        assert_eq!(policy.decide(0, &status(s)), Retry::Stop, "{s}");
    }
    assert!(matches!(policy.decide(0, &NET), Retry::After(_)));
}

#[test]
fn non_replayable_requests_are_never_retried() {
    let policy = RetryPolicy::default();
    for result in [
        AttemptResult::Network,
        AttemptResult::Status {
            status: 503,
            retry_after: None,
        },
        AttemptResult::Status {
            status: 429,
            retry_after: Some(Duration::ZERO),
        },
    ] {
        let outcome = Outcome {
            replayable: false,
            result,
        };
        assert_eq!(policy.decide(0, &outcome), Retry::Stop);
    }
}

#[test]
fn attempts_stop_after_max_retries() {
    let policy = RetryPolicy::new(2);
    assert!(matches!(policy.decide(0, &NET), Retry::After(_)));
    assert!(matches!(policy.decide(1, &NET), Retry::After(_)));
    assert_eq!(policy.decide(2, &NET), Retry::Stop);
    assert_eq!(RetryPolicy::new(0).decide(0, &NET), Retry::Stop);
}

#[test]
fn retry_after_is_honoured_on_429_and_capped_at_30s() {
    let policy = RetryPolicy::default();
    let with = |status, secs: f64| Outcome {
        replayable: true,
        result: AttemptResult::Status {
            status,
            retry_after: Some(Duration::from_secs_f64(secs)),
        },
    };
    assert_eq!(
        policy.decide(0, &with(429, 2.5)),
        Retry::After(Duration::from_millis(2500))
    );
    assert_eq!(
        policy.decide(1, &with(429, 0.0)),
        Retry::After(Duration::ZERO)
    );
    assert_eq!(
        policy.decide(0, &with(429, 120.0)),
        Retry::After(Duration::from_secs(30))
    );
    // On other statuses Retry-After is ignored in favour of jitter.
    assert_eq!(
        policy.decide_with_jitter(0, &with(503, 20.0), 1.0),
        Retry::After(Duration::from_millis(500))
    );
}

#[test]
fn jitter_window_doubles_from_half_a_second_up_to_8s() {
    let policy = RetryPolicy::new(10);
    let windows: Vec<Duration> = (0..8).map(|a| policy.backoff_window(a)).collect();
    let ms: Vec<u128> = windows.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
    assert_eq!(policy.backoff_window(u32::MAX), Duration::from_secs(8));
    assert_eq!(
        policy.decide_with_jitter(2, &status(502), 0.5),
        Retry::After(Duration::from_secs(1))
    );
    assert_eq!(
        policy.decide_with_jitter(3, &NET, 0.0),
        Retry::After(Duration::ZERO)
    );
    // Out-of-range fractions are clamped into the window.
    assert_eq!(
        policy.decide_with_jitter(0, &NET, 7.0),
        Retry::After(Duration::from_millis(500))
    );
    assert_eq!(
        policy.decide_with_jitter(0, &NET, f64::NAN),
        Retry::After(Duration::ZERO)
    );
}

#[test]
fn random_jitter_stays_inside_the_window() {
    let policy = RetryPolicy::new(5);
    for attempt in 0..5 {
        let window = policy.backoff_window(attempt);
        for _ in 0..200 {
            match policy.decide(attempt, &status(504)) {
                Retry::After(d) => assert!(d <= window, "{d:?} > {window:?}"),
                Retry::Stop => panic!("stopped at attempt {attempt}"),
            }
        }
    }
}

#[test]
fn custom_backoff_is_used() {
    let policy =
        RetryPolicy::new(3).with_backoff(Duration::from_millis(1), Duration::from_millis(3));
    assert_eq!(policy.backoff_window(0), Duration::from_millis(1));
    assert_eq!(policy.backoff_window(5), Duration::from_millis(3));
    let capped = RetryPolicy::new(1).with_retry_after_cap(Duration::from_millis(5));
    let outcome = Outcome {
        replayable: true,
        result: AttemptResult::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(9)),
        },
    };
    assert_eq!(
        capped.decide(0, &outcome),
        Retry::After(Duration::from_millis(5))
    );
}
