//! Each outcome of the pipeline, end to end.

use serde_json::json;

use crate::support::{TestServer, email};

#[tokio::test]
async fn an_enabled_funded_agent_executes_and_is_charged_the_price() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "executed");
    assert_eq!(r.body["cost_cents"], 1);
    assert_eq!(r.body["result"]["status"], "sent");
    let id = r.body["request_id"].as_str().unwrap();
    assert!(id.starts_with("req_"));
    assert_eq!(s.balance().await, 99);

    let got = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["status"], "executed");
    assert_eq!(got.body["result"], r.body["result"]);
    let usage = s.get("/api/v1/usage", &s.pat).await;
    assert_eq!(usage.body["total_cents"], 1);
    assert_eq!(usage.body["records"][0]["request_id"], id);
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_operation_without_a_binding_is_blocked_and_not_charged() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .request(
            &agent,
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "hi"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "service_not_enabled");
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn an_operation_binding_enables_only_that_operation() {
    let s = TestServer::start().await;
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "sms", "operations": ["sms.send"]}),
    )
    .await;
    let sent = s
        .request(
            &agent,
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "hi"}),
        )
        .await;
    assert_eq!(sent.body["status"], "executed", "{sent:?}");
    let read = s.request(&agent, "sms", "read", json!({})).await;
    assert_eq!(read.body["reason_code"], "service_not_enabled", "{read:?}");
}

#[tokio::test]
async fn paused_and_disabled_agents_are_blocked_with_their_reason() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for (status, reason) in [("paused", "agent_paused"), ("disabled", "agent_disabled")] {
        let r = s
            .patch(
                &format!("/api/v1/agents/{}", agent.id),
                &s.pat,
                json!({"status": status}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let r = s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "blocked");
        assert_eq!(r.body["reason_code"], reason);
    }
    s.patch(
        &format!("/api/v1/agents/{}", agent.id),
        &s.pat,
        json!({"status": "active"}),
    )
    .await;
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["status"],
        "executed"
    );
}

#[tokio::test]
async fn the_org_kill_switch_blocks_everything_until_turned_off() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    assert_eq!(
        s.patch("/api/v1/org", &s.pat, json!({"kill_switch": true}))
            .await
            .status,
        200
    );
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "kill_switch");
    s.patch("/api/v1/org", &s.pat, json!({"kill_switch": false}))
        .await;
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["status"],
        "executed"
    );
    assert_eq!(s.balance().await, 99);
}

#[tokio::test]
async fn provider_outages_fail_without_charging() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let mut payload = email();
    payload["to"] = json!("x@sandbox-unavailable.test");
    let r = s.request(&agent, "email", "send", payload).await;
    assert_eq!(r.body["status"], "failed", "{r:?}");
    assert_eq!(r.body["reason_code"], "provider_unavailable");

    let mut payload = email();
    payload["subject"] = json!("sandbox-error please");
    let r = s.request(&agent, "email", "send", payload).await;
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["reason_code"], "adapter_error");

    let mut payload = email();
    payload["body"] = json!("sandbox-slow");
    let r = s.request(&agent, "email", "send", payload).await;
    assert_eq!(
        r.body["reason_code"], "provider_unavailable",
        "a timeout is an outage: {r:?}"
    );

    assert_eq!(s.balance().await, 100);
    let usage = s.get("/api/v1/usage", &s.pat).await;
    assert_eq!(usage.body["total_cents"], 0);
    s.ledger_ok().await;
}

#[tokio::test]
async fn metered_text_generation_settles_its_actual_cost_below_the_estimate() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("text_generation", 1000).await;
    let r = s
        .request(
            &agent,
            "text_generation",
            "generate",
            json!({"prompt": "Say hi in one word.", "max_tokens": 4000}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let estimated = r.body["estimated_cost_cents"].as_i64().unwrap();
    let charged = r.body["cost_cents"].as_i64().unwrap();
    assert!(
        charged >= 1 && charged < estimated,
        "charged {charged}, estimated {estimated}"
    );
    assert_eq!(s.balance().await, 1000 - charged);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_voice_call_runs_then_is_reconciled_at_its_final_cost() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("voice_call", 1000).await;
    let r = s
        .request(&agent, "voice_call", "create", json!({"to": "+15555550123", "from": "+15555550100", "say": "The pager fired. Please look."}))
        .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["provider"], "sandbox");
    assert!(r.body["external_id"].as_str().unwrap().starts_with("call_"));
    assert!(r.body["initial_cost_cents"].as_i64().unwrap() > 0);
    let id = r.body["request_id"].as_str().unwrap().to_owned();
    // While running, the estimate is held, not charged.
    let held = s.get("/api/v1/balance", &s.pat).await;
    assert_eq!(held.body["settled_cents"], 0);
    assert!(held.body["reserved_cents"].as_i64().unwrap() > 0);

    let polled = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(polled.body["status"], "running");
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    s.tick_workers().await;
    let done = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(done.body["status"], "executed", "{done:?}");
    let cost = done.body["cost_cents"].as_i64().unwrap();
    assert!(cost > 0 && cost <= r.body["estimated_cost_cents"].as_i64().unwrap());
    let after = s.get("/api/v1/balance", &s.pat).await;
    assert_eq!(after.body["reserved_cents"], 0);
    assert_eq!(after.body["amount_cents"], 1000 - cost);
    let audit = s.get("/api/v1/audit-logs?limit=5", &s.pat).await;
    assert_eq!(
        audit.body["logs"][0]["event_type"],
        "service_request.reconciled"
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_voice_call_that_fails_upstream_releases_its_hold() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("voice_call", 1000).await;
    let r = s
        .request(
            &agent,
            "voice_call",
            "create",
            json!({"to": "+15555550123", "from": "+15555550100", "say": "sandbox-call-fails"}),
        )
        .await;
    assert_eq!(r.status, 202);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    s.tick_workers().await;
    let id = r.body["request_id"].as_str().unwrap();
    let done = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(done.body["status"], "failed");
    assert_eq!(done.body["reason_code"], "provider_unavailable");
    assert_eq!(s.balance().await, 1000);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_binding_caps_the_cost_of_one_request() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "voice_call", "max_cost_cents": 10}),
    )
    .await;
    let r = s
        .request(
            &agent,
            "voice_call",
            "create",
            json!({"to": "+15555550123", "from": "+15555550100", "say": "hi"}),
        )
        .await;
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "max_cost_exceeded");
}

#[tokio::test]
async fn daily_limits_on_the_agent_and_on_the_binding_block_with_daily_limit_exceeded() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({"daily_request_limit": 3})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    s.enable(
        &agent,
        json!({"service_id": "web_search", "daily_request_limit": 1}),
    )
    .await;
    let first = s
        .request(&agent, "web_search", "search", json!({"query": "rust"}))
        .await;
    assert_eq!(first.body["status"], "executed", "{first:?}");
    let second = s
        .request(&agent, "web_search", "search", json!({"query": "rust"}))
        .await;
    assert_eq!(second.body["reason_code"], "daily_limit_exceeded");
    assert!(second.body["message"].as_str().unwrap().contains("binding"));
    // A blocked request does not count towards the agent's limit.
    for _ in 0..2 {
        assert_eq!(
            s.request(&agent, "email", "send", email()).await.body["status"],
            "executed"
        );
    }
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "daily_limit_exceeded");
    assert!(r.body["message"].as_str().unwrap().contains("agent"));
}

#[tokio::test]
async fn a_per_minute_limit_answers_429_with_retry_after() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "rate_limit_per_minute": 2}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            s.request(&agent, "email", "send", email()).await.status,
            200
        );
    }
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.code(), "rate_limited");
    let retry: f64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1.0..=30.0).contains(&retry), "{retry}");
    assert_eq!(s.balance().await, 998);
}

#[tokio::test]
async fn the_budget_check_is_free_and_reports_dollars_and_cents() {
    let s = TestServer::start().await;
    s.credit(1234).await;
    let agent = s.agent(json!({"monthly_budget_cents": 600})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    s.request(&agent, "email", "send", email()).await;
    let r = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": agent.id}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "executed");
    assert_eq!(r.body["cost_cents"], 0);
    assert_eq!(r.body["monthly_limit"], 6.0);
    assert_eq!(r.body["monthly_spent"], 0.01);
    assert_eq!(r.body["remaining_dollars"], 5.99);
    assert_eq!(r.body["org_balance"], 12.33);
    assert_eq!(r.body["result"]["remaining_cents"], 599);
    assert_eq!(s.balance().await, 1233);
    // Without `agent_id` it is the calling agent's (the toolkits call it
    // with no arguments).
    let own = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": "platform", "operation": "check_budget", "payload": {}}),
        )
        .await;
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["agent_id"], agent.id.as_str());
    assert_eq!(own.body["remaining_dollars"], 5.99);

    let other = s.agent(json!({})).await;
    let r = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": other.id}}),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "an agent may not read another's budget: {r:?}"
    );
}
