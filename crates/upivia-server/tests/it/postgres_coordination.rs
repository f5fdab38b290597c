//! The PostgreSQL coordination store between several nodes (each a
//! `PgStore` of its own on one database): leases raced for and taken over,
//! rate limits shared. Skipped without a PostgreSQL server outside CI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::{CoordinationStore, Job, RateAnswer, RateKey};

use crate::support::postgres_database;

async fn nodes(url: &str, n: usize) -> Vec<Arc<PgStore>> {
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(
            PgStore::connect(url, PgSettings::default())
                .await
                .expect("a node connects"),
        );
    }
    stores
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_a_lease_get_one_holder() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 2).await;
    let ttl = Duration::from_secs(30);
    let mut claims = Vec::new();
    for round in 0..40 {
        let store = stores[round % 2].clone();
        claims.push(tokio::spawn(async move {
            store
                .claim_lease(Job::Reconcile, store.node(), ttl)
                .await
                .unwrap()
        }));
    }
    let mut won = Vec::new();
    for claim in claims {
        if let Some(lease) = claim.await.unwrap() {
            won.push(lease);
        }
    }
    // Every grant went to one node (the first, then its renewals), with one
    // fence: the job never changed hands.
    assert!(!won.is_empty());
    let holder = &won[0].holder;
    assert!(won.iter().all(|l| &l.holder == holder), "{won:?}");
    assert!(won.iter().all(|l| l.fence == 1), "{won:?}");
    assert_eq!(won.len(), 20, "the holder's own claims all renew");
    let other = stores.iter().find(|s| s.node() != holder).unwrap();
    assert_eq!(
        other
            .claim_lease(Job::Reconcile, other.node(), ttl)
            .await
            .unwrap(),
        None
    );
    // Another job is free for the other node.
    assert!(
        other
            .claim_lease(Job::ApprovalExpiry, other.node(), ttl)
            .await
            .unwrap()
            .is_some()
    );
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_with_a_higher_fence() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 2).await;
    let (a, b) = (&stores[0], &stores[1]);
    let short = Duration::from_millis(800);
    let first = a
        .claim_lease(Job::Recovery, a.node(), short)
        .await
        .unwrap()
        .expect("a free job");
    assert_eq!(first.fence, 1);
    assert!(
        b.claim_lease(Job::Recovery, b.node(), short)
            .await
            .unwrap()
            .is_none()
    );
    // `a` stops renewing (as a killed node does): the job moves on.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let taken = b
        .claim_lease(Job::Recovery, b.node(), Duration::from_secs(30))
        .await
        .unwrap()
        .expect("an expired lease is free");
    assert_eq!((taken.holder.as_str(), taken.fence), (b.node(), 2));
    // The old holder cannot renew, nor release its successor's lease.
    assert!(
        a.claim_lease(Job::Recovery, a.node(), short)
            .await
            .unwrap()
            .is_none()
    );
    a.release_lease(&first).await.unwrap();
    assert!(
        a.claim_lease(Job::Recovery, a.node(), short)
            .await
            .unwrap()
            .is_none()
    );
    // Released, it is free at once; a third holder raises the fence again.
    b.release_lease(&taken).await.unwrap();
    let back = a
        .claim_lease(Job::Recovery, a.node(), short)
        .await
        .unwrap()
        .expect("a released lease is free");
    assert_eq!(back.fence, 3);
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn a_node_that_leaves_gives_its_jobs_up_at_once() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 2).await;
    let (a, b) = (&stores[0], &stores[1]);
    let ttl = Duration::from_secs(60);
    for job in Job::ALL {
        assert!(a.claim_lease(job, a.node(), ttl).await.unwrap().is_some());
    }
    a.leave().await.unwrap();
    for job in Job::ALL {
        let lease = b.claim_lease(job, b.node(), ttl).await.unwrap();
        assert_eq!(lease.map(|l| l.fence), Some(2), "{job:?}");
    }
    let stopped: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT stopped_at FROM nodes WHERE id = $1")
            .bind(a.node())
            .fetch_one(b.pool())
            .await
            .unwrap();
    assert!(stopped.is_some(), "a node that left is not alive");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_rate_limit() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 3).await;
    // 20 a minute refills one token per 3 s: the burst below takes far
    // less, so at most one token comes back during it.
    let limit = 20;
    let key = RateKey::Agent("agt_shared".into());
    let mut checks = Vec::new();
    for i in 0..90 {
        let (store, key) = (stores[i % 3].clone(), key.clone());
        checks.push(tokio::spawn(async move {
            store.take_rate_token(&key, limit).await.unwrap()
        }));
    }
    let mut admitted = 0;
    let mut waits = Vec::new();
    for check in checks {
        match check.await.unwrap() {
            RateAnswer::Admitted => admitted += 1,
            RateAnswer::Limited { retry_after } => waits.push(retry_after),
        }
    }
    assert!(
        (20..=21).contains(&admitted),
        "three nodes admitted {admitted} of a limit of 20"
    );
    assert!(
        waits
            .iter()
            .all(|w| *w > Duration::ZERO && *w <= Duration::from_secs(3)),
        "{waits:?}"
    );
    // Another key has its own bucket.
    assert_eq!(
        stores[0]
            .take_rate_token(&RateKey::Binding("bnd_x".into()), limit)
            .await
            .unwrap(),
        RateAnswer::Admitted
    );
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn a_bucket_refills_at_its_limit_per_minute_and_follows_a_lowered_limit() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 2).await;
    let key = RateKey::Agent("agt_refill".into());
    // 30 a minute: one token each 2 s, far slower than the burst.
    for _ in 0..30 {
        assert_eq!(
            stores[0].take_rate_token(&key, 30).await.unwrap(),
            RateAnswer::Admitted
        );
    }
    let RateAnswer::Limited { retry_after } = stores[1].take_rate_token(&key, 30).await.unwrap()
    else {
        panic!("a spent bucket admitted a request on the other node");
    };
    assert!(retry_after <= Duration::from_secs(2), "{retry_after:?}");
    tokio::time::sleep(retry_after + Duration::from_millis(100)).await;
    assert_eq!(
        stores[1].take_rate_token(&key, 30).await.unwrap(),
        RateAnswer::Admitted
    );

    // A bucket well stocked under a high limit keeps only the new limit.
    let lowered = RateKey::Agent("agt_lowered".into());
    stores[0].take_rate_token(&lowered, 1000).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            stores[1].take_rate_token(&lowered, 2).await.unwrap(),
            RateAnswer::Admitted
        );
    }
    assert!(matches!(
        stores[0].take_rate_token(&lowered, 2).await.unwrap(),
        RateAnswer::Limited { .. }
    ));
    for s in &stores {
        s.close().await;
    }
}

#[tokio::test]
async fn idle_buckets_are_forgotten() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 1).await;
    let store = &stores[0];
    for id in ["agt_idle", "agt_busy"] {
        store
            .take_rate_token(&RateKey::Agent(id.into()), 10)
            .await
            .unwrap();
    }
    sqlx::query(
        "UPDATE rate_buckets SET updated_at = now() - interval '11 minutes' WHERE key = $1",
    )
    .bind("agent:agt_idle")
    .execute(store.pool())
    .await
    .unwrap();
    let forgotten = store
        .forget_idle_rate_buckets(Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM rate_buckets")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, vec!["agent:agt_busy".to_owned()]);
    store.close().await;
}

/// The price of a shared limit: one upsert per governed request (two when
/// the binding has a limit too). Prints the mean round trip; fails only
/// when it is absurd (a lost index, a table lock).
#[tokio::test]
async fn a_rate_check_costs_one_round_trip() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let stores = nodes(db.url(), 1).await;
    let store = &stores[0];
    let key = RateKey::Agent("agt_timed".into());
    for _ in 0..50 {
        store.take_rate_token(&key, 1_000_000).await.unwrap();
    }
    let n = 300;
    let started = Instant::now();
    for _ in 0..n {
        store.take_rate_token(&key, 1_000_000).await.unwrap();
    }
    let mean = started.elapsed() / n;
    let mut ping = Duration::ZERO;
    for _ in 0..n {
        let t = Instant::now();
        sqlx::query("SELECT 1").execute(store.pool()).await.unwrap();
        ping += t.elapsed();
    }
    eprintln!(
        "rate check on PostgreSQL: {:?} per check (SELECT 1: {:?})",
        mean,
        ping / n
    );
    assert!(mean < Duration::from_millis(20), "{mean:?} per rate check");
    store.close().await;
}
