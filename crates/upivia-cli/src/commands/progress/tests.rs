use std::time::{Duration, Instant};

use super::*;

fn wait() -> RetryWait {
    RetryWait {
        why: "rate limited".into(),
        method: "POST",
        path: "/api/v1/service-requests".into(),
        attempt: 2,
    }
}

#[test]
fn the_line_names_the_call_the_seconds_left_and_the_way_out() {
    assert_eq!(
        wait().line(Duration::from_secs(23)),
        "rate limited: retrying POST /api/v1/service-requests in 23 s (attempt 2; --no-retry fails at once)"
    );
    // Part of a second left is still a second to wait.
    assert!(
        wait()
            .line(Duration::from_millis(22_001))
            .contains(" in 23 s ")
    );
    assert!(wait().line(Duration::from_millis(400)).contains(" in 1 s "));
    assert!(wait().line(Duration::ZERO).contains(" in 0 s "));
}

#[test]
fn the_countdown_redraws_one_line_each_tick_and_clears_it() {
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(2_500);
    count_down(
        &wait(),
        deadline,
        Duration::from_secs(1),
        || true,
        |line| frames.push(line),
    );
    assert_eq!(frames.len(), 4, "{frames:?}");
    for (frame, secs) in frames.iter().zip([3, 2, 1]) {
        let frame = frame.as_deref().unwrap();
        assert!(frame.contains(&format!(" in {secs} s ")), "{frames:?}");
        assert!(!frame.contains('\n'), "{frames:?}");
    }
    // Cleared at the end, just before the retry is sent.
    assert_eq!(frames.last(), Some(&None));
    assert!(Instant::now() < deadline, "cleared after the retry was due");
}

#[test]
fn a_newer_countdown_clears_an_older_one_at_once() {
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let started = Instant::now();
    count_down(
        &wait(),
        deadline,
        Duration::from_millis(10),
        || false,
        |line| frames.push(line),
    );
    assert_eq!(frames, [None]);
    assert!(started.elapsed() < Duration::from_secs(1));
}
