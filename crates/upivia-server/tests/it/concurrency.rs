//! Money under concurrency: a cap that allows exactly N of 200 simultaneous
//! requests lets exactly N through.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::{TestServer, email};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_simultaneous_requests_against_a_cap_of_n_execute_exactly_n() {
    const N: i64 = 37;
    let s = TestServer::start().await;
    s.credit(10_000).await;
    let agent = s.agent(json!({"monthly_budget_cents": N})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (http, url, key, barrier) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            agent.key.clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let body = json!({"service": "email", "operation": "send", "payload": email(),
                "idempotency_key": format!("c-{i}")});
            let r = http
                .post(url)
                .bearer_auth(key)
                .header("idempotency-key", format!("c-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            crate::support::reply(r).await
        }));
    }
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let status = r.body["status"].as_str().unwrap().to_owned();
        if status == "blocked" {
            assert_eq!(r.body["reason_code"], "budget_exceeded");
        }
        *by_status.entry(status).or_default() += 1;
    }
    assert_eq!(by_status.get("executed"), Some(&N), "{by_status:?}");
    assert_eq!(by_status.get("blocked"), Some(&(200 - N)), "{by_status:?}");
    assert_eq!(s.balance().await, 10_000 - N);
    let usage = s
        .get(
            &format!("/api/v1/usage?agent_id={}&limit=500", agent.id),
            &s.pat,
        )
        .await;
    assert_eq!(usage.body["total_cents"], N);
    s.ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_agents_racing_for_a_small_org_balance_never_overdraw_it() {
    let s = TestServer::start().await;
    s.credit(50).await;
    let mut agents = Vec::new();
    for _ in 0..5 {
        let a = s.agent(json!({})).await;
        s.enable(&a, json!({"service_id": "mms"})).await;
        agents.push(a);
    }
    let mut tasks = Vec::new();
    for i in 0..100 {
        let a = &agents[i % agents.len()];
        let (http, url, key) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            a.key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let body = json!({"service": "mms", "operation": "send", "payload":
                {"to": "+15555550123", "from": "+15555550100", "body": "x", "media_url": "https://example.com/a.png"}});
            crate::support::reply(http.post(url).bearer_auth(key).json(&body).send().await.unwrap()).await
        }));
    }
    let mut executed = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.body["status"].as_str().unwrap() {
            "executed" => executed += 1,
            "blocked" => assert_eq!(r.body["reason_code"], "insufficient_balance"),
            other => panic!("{other}: {r:?}"),
        }
    }
    assert_eq!(executed, 25, "50 cents buys 25 two-cent messages");
    assert_eq!(s.balance().await, 0);
    s.ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_daily_limit_holds_under_simultaneous_requests() {
    let s = TestServer::start().await;
    s.credit(10_000).await;
    let agent = s.agent(json!({"daily_request_limit": 7})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(60));
    let mut tasks = Vec::new();
    for _ in 0..60 {
        let (http, url, key, barrier) = (
            s.http.clone(),
            format!("{}/api/v1/service-requests", s.base),
            agent.key.clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let body = json!({"service": "email", "operation": "send", "payload": email()});
            let r = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            crate::support::reply(r).await
        }));
    }
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for t in tasks {
        let r = t.await.unwrap();
        let status = r.body["status"].as_str().unwrap().to_owned();
        if status == "blocked" {
            assert_eq!(r.body["reason_code"], "daily_limit_exceeded");
        }
        *by_status.entry(status).or_default() += 1;
    }
    assert_eq!(by_status.get("executed"), Some(&7), "{by_status:?}");
    assert_eq!(by_status.get("blocked"), Some(&53), "{by_status:?}");
    assert_eq!(s.balance().await, 10_000 - 7);
}
