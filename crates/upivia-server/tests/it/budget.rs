//! Budget and balance blocks: which budget stopped a request, and what
//! remains.

use serde_json::json;

use crate::support::{TestServer, email};

#[tokio::test]
async fn an_empty_org_balance_blocks_with_insufficient_balance() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "insufficient_balance");
    let message = r.body["message"].as_str().unwrap();
    assert!(
        message.contains("organisation balance") && message.contains("0 cents remaining"),
        "{message}"
    );
}

#[tokio::test]
async fn the_agent_monthly_cap_blocks_with_budget_exceeded_and_can_be_lifted() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({"monthly_budget_cents": 2})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    for _ in 0..2 {
        assert_eq!(
            s.request(&agent, "email", "send", email()).await.body["status"],
            "executed"
        );
    }
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "budget_exceeded");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("agent monthly budget")
    );

    let lifted = s
        .patch(
            &format!("/api/v1/agents/{}/budget", agent.id),
            &s.pat,
            json!({"monthly_budget_cents": null}),
        )
        .await;
    assert_eq!(lifted.status, 200);
    assert_eq!(
        lifted.body["agent"]["monthly_budget_cents"],
        serde_json::Value::Null
    );
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["status"],
        "executed"
    );
    assert_eq!(s.balance().await, 997);
}

#[tokio::test]
async fn a_binding_monthly_budget_is_its_own_limit() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "monthly_budget_cents": 1}),
    )
    .await;
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["status"],
        "executed"
    );
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "budget_exceeded");
    assert!(
        r.body["message"].as_str().unwrap().contains("binding"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_budget_patch_requires_the_field_and_rejects_negatives() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let path = format!("/api/v1/agents/{}/budget", agent.id);
    assert_eq!(s.patch(&path, &s.pat, json!({})).await.status, 422);
    assert_eq!(
        s.patch(&path, &s.pat, json!({"monthly_budget_cents": -5}))
            .await
            .status,
        422
    );
    assert_eq!(
        s.patch(&path, &s.pat, json!({"monthly_budget_cents": "5"}))
            .await
            .status,
        422
    );
    let ok = s
        .patch(&path, &s.pat, json!({"monthly_limit_cents": 500}))
        .await;
    assert_eq!(ok.body["agent"]["monthly_budget_cents"], 500);
}

#[tokio::test]
async fn credits_are_owner_only_positive_integers() {
    let s = TestServer::start().await;
    for bad in [
        json!({"amount_cents": 0}),
        json!({"amount_cents": -1}),
        json!({"amount_cents": 1.5}),
        json!({}),
    ] {
        let r = s.post("/api/v1/balance/credits", &s.pat, bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {r:?}");
    }
    let agent = s.agent(json!({})).await;
    let r = s
        .post(
            "/api/v1/balance/credits",
            &agent.key,
            json!({"amount_cents": 5}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(s.balance().await, 0);
}
