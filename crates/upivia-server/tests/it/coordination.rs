//! The workers' leases and the rate buckets through a running server, on
//! the suite's backend: a job another node holds is skipped, and the
//! pipeline's per-minute limits are the coordination store's buckets (on
//! PostgreSQL, rows every node shares).

use serde_json::json;
use time::Duration;
use upivia_server::store::{Job, RateKey};

use crate::support::{TestServer, email};

#[tokio::test]
async fn a_job_another_node_holds_is_skipped_until_it_is_released() {
    let s = TestServer::start().await;
    let (agent, _approval, request) = s.parked().await;
    let coordination = s.platform.stores.coordination.clone();
    let ttl = std::time::Duration::from_secs(600);
    // The workers' first pass, at start, took the job: this node gives it
    // up (renewing returns its lease), and another takes it.
    let ours = coordination
        .claim_lease(Job::ApprovalExpiry, coordination.node(), ttl)
        .await
        .unwrap()
        .expect("this node holds its own job");
    coordination.release_lease(&ours).await.unwrap();
    let other = coordination
        .claim_lease(Job::ApprovalExpiry, "node_other", ttl)
        .await
        .unwrap()
        .expect("a released job is free");
    assert_eq!(other.fence, ours.fence + 1);
    s.clock.advance(Duration::hours(25));
    s.tick_workers().await;
    let path = format!("/api/v1/service-requests/{request}");
    let got = s.get(&path, &agent.key).await;
    assert_eq!(
        got.body["status"], "approval_required",
        "another node holds the expiry job: this one must not run it"
    );
    coordination.release_lease(&other).await.unwrap();
    s.tick_workers().await;
    let got = s.get(&path, &agent.key).await;
    assert_eq!(got.body["status"], "blocked", "{got:?}");
    assert_eq!(got.body["reason_code"], "approval_expired");
    s.ledger_ok().await;
}

#[tokio::test]
async fn the_key_limit_is_the_coordination_stores_bucket() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({"rate_limit_per_minute": 3})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.status,
        200
    );
    // Another node spends the rest of the agent's minute.
    let coordination = s.platform.stores.coordination.clone();
    for _ in 0..2 {
        coordination
            .take_rate_token(&RateKey::Agent(agent.id.clone()), 3)
            .await
            .unwrap();
    }
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.code(), "rate_limited");
    let retry: f64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1.0..=20.0).contains(&retry), "{retry}");
    assert_eq!(s.balance().await, 999);
}
