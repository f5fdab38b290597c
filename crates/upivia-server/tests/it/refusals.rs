//! Limits before work: the per-key rate limit answers before policy, and a
//! revoked key's refusals are counted, not stored one row each.

use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::{Value, json};

use crate::support::{TestAgent, TestServer, email};

async fn audit_of(s: &TestServer, agent: &TestAgent) -> Vec<Value> {
    let r = s
        .get(
            &format!("/api/v1/audit-logs?agent_id={}&limit=500", agent.id),
            &s.pat,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["logs"].as_array().unwrap().clone()
}

async fn set_status(s: &TestServer, agent: &TestAgent, status: &str) {
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", agent.id),
            &s.pat,
            json!({"status": status}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// The counter's value in a Prometheus rendering.
fn counter(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_disabled_agents_refusals_cost_no_row_and_are_summed_in_one_audit_entry() {
    // The server runs on this test's thread (a current-thread runtime), so
    // a recorder local to it sees exactly this test's metrics.
    let recorder = PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    set_status(&s, &agent, "disabled").await;
    let before = audit_of(&s, &agent).await;

    let mut first_id = None;
    for _ in 0..200 {
        let r = s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["status"], "blocked");
        assert_eq!(r.body["reason_code"], "agent_disabled");
        assert!(r.body["message"].as_str().unwrap().contains("disabled"));
        first_id.get_or_insert(r.body["request_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        audit_of(&s, &agent).await.len(),
        before.len(),
        "no entry per refusal"
    );
    assert_eq!(
        counter(
            &metrics.render(),
            "upivia_refused_requests_total{reason_code=\"agent_disabled\"}"
        ),
        200
    );

    // The answer's id reads back as the same outcome, for this agent only.
    let id = first_id.unwrap();
    let got = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        (
            &got.body["status"],
            &got.body["reason_code"],
            &got.body["request_id"]
        ),
        (&json!("blocked"), &json!("agent_disabled"), &json!(id))
    );
    assert_eq!(got.body["service"], "email");
    let other = s.agent(json!({})).await;
    let r = s
        .get(&format!("/api/v1/service-requests/{id}"), &other.key)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"));

    // A young window is not written yet; once it is a minute old, one entry.
    s.tick_workers().await;
    assert_eq!(audit_of(&s, &agent).await.len(), before.len());
    s.clock.advance(time::Duration::seconds(61));
    s.tick_workers().await;
    let after = audit_of(&s, &agent).await;
    assert_eq!(after.len(), before.len() + 1);
    let summary = &after[0];
    assert_eq!(summary["event_type"], "service_request.refused_summary");
    assert_eq!(summary["status"], "blocked");
    assert_eq!(summary["details"]["count"], 200);
    assert_eq!(summary["details"]["by_reason"]["agent_disabled"], 200);
    s.tick_workers().await;
    assert_eq!(audit_of(&s, &agent).await.len(), after.len());
    let chain = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(chain.body["ok"], true, "{chain:?}");
}

#[tokio::test]
async fn kill_switch_refusals_are_summed_per_agent_too() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let r = s
        .patch("/api/v1/org", &s.pat, json!({"kill_switch": true}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let before = audit_of(&s, &agent).await;
    for _ in 0..20 {
        let r = s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["reason_code"], "kill_switch", "{r:?}");
    }
    // The budget check is refused the same way.
    let r = s
        .request(
            &agent,
            "platform",
            "check_budget",
            json!({"agent_id": agent.id}),
        )
        .await;
    assert_eq!(r.body["reason_code"], "kill_switch", "{r:?}");
    assert_eq!(audit_of(&s, &agent).await.len(), before.len());
    s.clock.advance(time::Duration::seconds(61));
    s.tick_workers().await;
    let after = audit_of(&s, &agent).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[0]["details"]["by_reason"]["kill_switch"], 21);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn the_rate_limit_answers_429_before_policy_for_a_disabled_agent() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"rate_limit_per_minute": 3})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    set_status(&s, &agent, "disabled").await;
    for _ in 0..3 {
        let r = s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["reason_code"], "agent_disabled", "{r:?}");
    }
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (429, "rate_limited"),
        "{r:?}"
    );
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
}

#[tokio::test]
async fn keys_without_their_own_limit_get_the_servers_ceiling() {
    let s = TestServer::start_with(|c| c.key_rate_limit_per_minute = Some(2)).await;
    let capped = s.funded_agent("email", 100).await;
    for _ in 0..2 {
        let r = s.request(&capped, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
    let r = s.request(&capped, "email", "send", email()).await;
    assert_eq!(r.status, 429, "{r:?}");
    // An agent's own limit replaces the ceiling.
    let own = s.agent(json!({"rate_limit_per_minute": 5})).await;
    s.enable(&own, json!({"service_id": "email"})).await;
    for _ in 0..5 {
        let r = s.request(&own, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
    assert_eq!(s.request(&own, "email", "send", email()).await.status, 429);
}

#[tokio::test]
async fn an_idempotency_key_refused_while_disabled_runs_once_the_agent_is_back() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    set_status(&s, &agent, "paused").await;
    let body = json!({"service": "email", "operation": "send", "payload": email(), "idempotency_key": "k-1"});
    let refused = s.request_with_key(&agent, "k-1", body.clone()).await;
    assert_eq!(refused.body["reason_code"], "agent_paused", "{refused:?}");
    assert!(refused.headers.get("idempotent-replayed").is_none());
    set_status(&s, &agent, "active").await;
    let ran = s.request_with_key(&agent, "k-1", body.clone()).await;
    assert_eq!(ran.body["status"], "executed", "{ran:?}");
    let again = s.request_with_key(&agent, "k-1", body).await;
    assert_eq!(again.body["request_id"], ran.body["request_id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(s.balance().await, 99);
}

#[tokio::test]
async fn a_key_used_before_the_pause_still_replays_its_answer() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let body = json!({"service": "email", "operation": "send", "payload": email(), "idempotency_key": "k-2"});
    let ran = s.request_with_key(&agent, "k-2", body.clone()).await;
    assert_eq!(ran.body["status"], "executed", "{ran:?}");
    set_status(&s, &agent, "disabled").await;
    let again = s.request_with_key(&agent, "k-2", body).await;
    assert_eq!(again.body["status"], "executed", "{again:?}");
    assert_eq!(again.body["request_id"], ran.body["request_id"]);
}
