use super::*;

fn agent(id: &str) -> String {
    RateKey::Agent(id.to_owned()).key()
}

#[test]
fn a_burst_up_to_the_limit_passes_then_waits() {
    let coord = LocalCoordination::default();
    let t0 = Instant::now();
    for _ in 0..3 {
        assert_eq!(coord.take_at(&agent("a"), 3, t0), RateAnswer::Admitted);
    }
    let RateAnswer::Limited { retry_after } = coord.take_at(&agent("a"), 3, t0) else {
        panic!("the fourth request of a burst of three passed");
    };
    assert!(
        retry_after > Duration::from_secs(19) && retry_after <= Duration::from_secs(20),
        "{retry_after:?}"
    );
    // One token back after 20 s, and only one.
    let t20 = t0 + Duration::from_secs(20);
    assert_eq!(coord.take_at(&agent("a"), 3, t20), RateAnswer::Admitted);
    assert!(matches!(
        coord.take_at(&agent("a"), 3, t20),
        RateAnswer::Limited { .. }
    ));
}

#[test]
fn buckets_are_per_key() {
    let coord = LocalCoordination::default();
    let t0 = Instant::now();
    assert_eq!(coord.take_at(&agent("a"), 1, t0), RateAnswer::Admitted);
    assert!(matches!(
        coord.take_at(&agent("a"), 1, t0),
        RateAnswer::Limited { .. }
    ));
    assert_eq!(coord.take_at(&agent("b"), 1, t0), RateAnswer::Admitted);
    let binding = RateKey::Binding("a".into()).key();
    assert_eq!(coord.take_at(&binding, 1, t0), RateAnswer::Admitted);
}

#[test]
fn a_lowered_limit_keeps_no_more_than_the_new_capacity() {
    let coord = LocalCoordination::default();
    let t0 = Instant::now();
    assert_eq!(coord.take_at(&agent("a"), 100, t0), RateAnswer::Admitted);
    for _ in 0..2 {
        assert_eq!(coord.take_at(&agent("a"), 2, t0), RateAnswer::Admitted);
    }
    assert!(matches!(
        coord.take_at(&agent("a"), 2, t0),
        RateAnswer::Limited { .. }
    ));
}

#[test]
fn idle_buckets_are_forgotten_after_a_minute_at_least() {
    let coord = LocalCoordination::default();
    let t0 = Instant::now();
    coord.take_at(&agent("a"), 5, t0);
    coord.take_at(&agent("b"), 5, t0 + Duration::from_secs(50));
    // A shorter idle time is raised to a minute: "a" is 59 s idle.
    assert_eq!(
        coord.forget_idle_at(Duration::from_secs(1), t0 + Duration::from_secs(59)),
        0
    );
    assert_eq!(
        coord.forget_idle_at(Duration::from_secs(60), t0 + Duration::from_secs(61)),
        1
    );
    // "b" is still there, one token short.
    for _ in 0..4 {
        assert_eq!(
            coord.take_at(&agent("b"), 5, t0 + Duration::from_secs(50)),
            RateAnswer::Admitted
        );
    }
    assert!(matches!(
        coord.take_at(&agent("b"), 5, t0 + Duration::from_secs(50)),
        RateAnswer::Limited { .. }
    ));
}

#[tokio::test]
async fn a_lease_is_one_holders_until_it_expires_or_is_released() {
    let coord = LocalCoordination::default();
    let ttl = Duration::from_secs(60);
    let first = coord
        .claim_lease(Job::Reconcile, "n1", ttl)
        .await
        .unwrap()
        .expect("a free job");
    assert_eq!(first.fence, 1);
    assert_eq!(
        coord.claim_lease(Job::Reconcile, "n2", ttl).await.unwrap(),
        None
    );
    // Renewing keeps the fence; another job is free.
    let renewed = coord
        .claim_lease(Job::Reconcile, "n1", ttl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renewed.fence, 1);
    assert!(
        coord
            .claim_lease(Job::ApprovalExpiry, "n2", ttl)
            .await
            .unwrap()
            .is_some()
    );
    coord.release_lease(&renewed).await.unwrap();
    let taken = coord
        .claim_lease(Job::Reconcile, "n2", ttl)
        .await
        .unwrap()
        .expect("a released job is free");
    assert_eq!(taken.fence, 2);
    // A stale lease cannot release its successor's.
    coord.release_lease(&renewed).await.unwrap();
    assert_eq!(
        coord.claim_lease(Job::Reconcile, "n1", ttl).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_expired_lease_changes_hands() {
    let coord = LocalCoordination::default();
    coord
        .claim_lease(Job::Recovery, "n1", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let taken = coord
        .claim_lease(Job::Recovery, "n2", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("an expired lease is free");
    assert_eq!((taken.holder.as_str(), taken.fence), ("n2", 2));
}

#[tokio::test]
async fn leaving_releases_this_nodes_leases_only() {
    let coord = LocalCoordination::default();
    let me = coord.node().to_owned();
    let ttl = Duration::from_secs(60);
    coord
        .claim_lease(Job::Reconcile, &me, ttl)
        .await
        .unwrap()
        .unwrap();
    coord
        .claim_lease(Job::ApprovalExpiry, "other", ttl)
        .await
        .unwrap()
        .unwrap();
    coord.leave().await.unwrap();
    assert!(
        coord
            .claim_lease(Job::Reconcile, "n2", ttl)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        coord
            .claim_lease(Job::ApprovalExpiry, "n2", ttl)
            .await
            .unwrap(),
        None
    );
}
