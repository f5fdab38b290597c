//! The approval gate: approve, reject, expire, decide once.

use serde_json::{Value, json};
use time::Duration;

use crate::support::{TestAgent, TestServer, email};

async fn gated(s: &TestServer) -> (TestAgent, String, String) {
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "approval_required");
    assert_eq!(r.body["estimated_cost_cents"], 1);
    assert!(r.body["expires_at"].as_str().is_some());
    (
        agent,
        r.body["approval_id"].as_str().unwrap().to_owned(),
        r.body["request_id"].as_str().unwrap().to_owned(),
    )
}

fn pending_ids(list: &Value) -> Vec<String> {
    list["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn approving_runs_the_stored_request_and_charges_then() {
    let s = TestServer::start().await;
    let (agent, approval, request) = gated(&s).await;
    assert_eq!(s.balance().await, 100, "nothing is charged while waiting");
    let list = s.get("/api/v1/approvals?status=pending", &s.pat).await;
    assert_eq!(pending_ids(&list.body), vec![approval.clone()]);
    let row = &list.body["approvals"][0];
    assert_eq!(row["request_id"], request.as_str());
    assert_eq!(row["agent_id"], agent.id.as_str());
    assert_eq!(row["service"], "email");
    assert_eq!(row["payload"], email());

    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "executed");
    assert_eq!(r.body["request_id"], request.as_str());
    assert_eq!(s.balance().await, 99);
    let got = s
        .get(&format!("/api/v1/service-requests/{request}"), &agent.key)
        .await;
    assert_eq!(got.body["status"], "executed");
    assert!(pending_ids(&s.get("/api/v1/approvals?status=pending", &s.pat).await.body).is_empty());

    let again = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "approval_already_decided");
    let reject = s
        .post(
            &format!("/api/v1/approvals/{approval}/reject"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(reject.status, 409);
    assert_eq!(s.balance().await, 99, "a second decision charges nothing");
    s.ledger_ok().await;
}

#[tokio::test]
async fn rejecting_blocks_the_request_with_approval_rejected() {
    let s = TestServer::start().await;
    let (agent, approval, request) = gated(&s).await;
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/reject"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "approval_rejected");
    assert_eq!(r.body["request_id"], request.as_str());
    let got = s
        .get(&format!("/api/v1/service-requests/{request}"), &agent.key)
        .await;
    assert_eq!(got.body["status"], "blocked");
    let approve = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(approve.status, 409);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn concurrent_decisions_decide_once() {
    let s = TestServer::start().await;
    let (_agent, approval, _) = gated(&s).await;
    let path = format!("/api/v1/approvals/{approval}/approve");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = format!(
            "{}{}",
            s.base,
            if i % 2 == 0 {
                path.clone()
            } else {
                path.replace("approve", "reject")
            }
        );
        let (http, pat) = (s.http.clone(), s.pat.clone());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(pat)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 7, "{codes:?}");
    assert!(s.balance().await >= 99);
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_expired_approval_counts_as_denied() {
    let s = TestServer::start().await;
    let (agent, approval, request) = gated(&s).await;
    s.clock.advance(Duration::hours(25));
    s.tick_workers().await;
    let got = s
        .get(&format!("/api/v1/service-requests/{request}"), &agent.key)
        .await;
    assert_eq!(got.body["status"], "blocked");
    assert_eq!(got.body["reason_code"], "approval_expired");
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409);
    let expired = s.get("/api/v1/approvals?status=expired", &s.pat).await;
    assert_eq!(pending_ids(&expired.body), vec![approval]);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn approving_after_expiry_but_before_the_worker_is_refused() {
    let s = TestServer::start().await;
    let (_agent, approval, _) = gated(&s).await;
    s.clock.advance(Duration::hours(25));
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "approval_expired");
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn approval_rechecks_budget_and_policy_at_decision_time() {
    let s = TestServer::start().await;
    let (agent, approval, _) = gated(&s).await;
    // Pause the agent after the request was parked: approval must not run it.
    s.patch(
        &format!("/api/v1/agents/{}", agent.id),
        &s.pat,
        json!({"status": "paused"}),
    )
    .await;
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "agent_paused");

    let s = TestServer::start().await;
    let (_agent, approval, _) = gated(&s).await;
    // Drain the balance to zero with another agent before approving.
    let spender = s.agent(json!({})).await;
    s.enable(&spender, json!({"service_id": "mms"})).await;
    for _ in 0..50 {
        s.request(
            &spender,
            "mms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "x", "media_url": "https://example.com/a.png"}),
        )
        .await;
    }
    assert_eq!(s.balance().await, 0);
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "blocked");
    assert_eq!(r.body["reason_code"], "insufficient_balance");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_threshold_gates_only_requests_above_it() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "text_generation", "approval_threshold_cents": 2}),
    )
    .await;
    let small = s
        .request(
            &agent,
            "text_generation",
            "generate",
            json!({"prompt": "hi", "max_tokens": 10}),
        )
        .await;
    assert_eq!(small.body["status"], "executed", "{small:?}");
    let large = s
        .request(
            &agent,
            "text_generation",
            "generate",
            json!({"prompt": "hi", "max_tokens": 20000}),
        )
        .await;
    assert_eq!(large.body["status"], "approval_required", "{large:?}");
}

#[tokio::test]
async fn agents_cannot_decide_approvals_and_other_orgs_ids_are_not_found() {
    let s = TestServer::start().await;
    let (agent, approval, _) = gated(&s).await;
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &agent.key,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = s
        .post(
            "/api/v1/approvals/appr_01jzzzzzzzzzzzzzzzzzzzzzzz/approve",
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_parked_request_counts_toward_the_daily_limit_and_the_next_is_blocked_not_parked() {
    let s = TestServer::start().await;
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "require_approval": true, "daily_request_limit": 1}),
    )
    .await;
    let first = s.request(&agent, "email", "send", email()).await;
    assert_eq!(first.body["status"], "approval_required", "{first:?}");
    let second = s.request(&agent, "email", "send", email()).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body["status"], "blocked");
    assert_eq!(second.body["reason_code"], "daily_limit_exceeded");
    assert!(second.body.get("approval_id").is_none_or(Value::is_null));
    // Only the first waits for a human; nothing is charged.
    let list = s.get("/api/v1/approvals?status=pending", &s.pat).await;
    assert_eq!(
        pending_ids(&list.body),
        vec![first.body["approval_id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(s.balance().await, 100);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_decisions_note_is_kept_in_the_audit_trail_and_bounded() {
    let s = TestServer::start().await;
    let (_, approval, _) = gated(&s).await;
    let path = format!("/api/v1/approvals/{approval}/reject");
    let long = s
        .post(&path, &s.pat, json!({"note": "x".repeat(1001)}))
        .await;
    assert_eq!(long.status, 422, "{long:?}");
    let r = s
        .post(&path, &s.pat, json!({"note": "not during the freeze"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let logs = s
        .get("/api/v1/audit-logs?event_type=approval.rejected", &s.pat)
        .await;
    let entry = logs.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "approval.rejected")
        .cloned()
        .expect("a rejection entry");
    assert_eq!(entry["details"]["note"], "not during the freeze");
}

/// `amount_cents` settles an outcome review only: on an approval gate it is
/// refused (nothing decided), and a review id nobody has is not found.
#[tokio::test]
async fn an_amount_belongs_to_outcome_reviews_only() {
    let s = TestServer::start().await;
    let (_agent, approval, _request) = s.parked().await;
    for path in ["approve", "reject"] {
        let r = s
            .post(
                &format!("/api/v1/approvals/{approval}/{path}"),
                &s.pat,
                json!({"amount_cents": 1}),
            )
            .await;
        assert_eq!(r.status, 422, "{r:?}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("amount_cents")
        );
    }
    let listed = s.get("/api/v1/approvals?status=pending", &s.pat).await;
    assert_eq!(listed.body["approvals"][0]["id"], approval.as_str());
    assert_eq!(listed.body["approvals"][0]["kind"], "approval");

    let unknown = "orev_01JZZZZZZZZZZZZZZZZZZZZZZZ";
    let r = s
        .post(
            &format!("/api/v1/approvals/{unknown}/approve"),
            &s.pat,
            json!({"amount_cents": 1}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/approvals/{unknown}/approve"),
            &s.pat,
            json!({"amount_cents": -1}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/approvals/{unknown}/reject"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // Expired approvals are gates only: no review is ever listed there.
    let expired = s.get("/api/v1/approvals?status=expired", &s.pat).await;
    assert_eq!(expired.body["approvals"], json!([]));
}
