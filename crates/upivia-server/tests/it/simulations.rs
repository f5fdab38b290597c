//! `POST /simulations/policy-check`: for every decision the pipeline makes
//! when a request is submitted, the simulation says the same (decision and
//! reason code) and leaves nothing behind: no money held or spent, no
//! request row, no audit entry, no rate-limit token, no daily count.

use serde_json::{Value, json};

use upivia_server::ids::AgentId;
use upivia_server::model::Account;
use upivia_server::store::{AgentRequestQuery, AuditQuery};

use crate::support::{TestAgent, TestServer, email};

const PATH: &str = "/api/v1/simulations/policy-check";

/// What the simulation must not change.
#[derive(Debug, PartialEq)]
struct Footprint {
    balance: (i64, i64, i64),
    audit_entries: usize,
    requests: usize,
}

async fn footprint(s: &TestServer, agent: &TestAgent) -> Footprint {
    let stores = &s.platform.stores;
    let org = stores.identity.primary_org().await.unwrap().unwrap().id;
    let totals = stores
        .governance
        .totals(Account::Org(org.clone()))
        .await
        .unwrap();
    let audit = stores
        .governance
        .audit_entries(AuditQuery {
            org_id: org.clone(),
            limit: 100_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let requests = stores
        .agents
        .agent_requests(AgentRequestQuery {
            agent_id: AgentId::from(&agent.id),
            since: None,
            limit: 100_000,
        })
        .await
        .unwrap();
    Footprint {
        balance: (
            totals.credits.get(),
            totals.settled.get(),
            totals.reserved.get(),
        ),
        audit_entries: audit.len(),
        requests: requests.len(),
    }
}

fn request(service: &str, operation: &str, payload: Value) -> Value {
    json!({"service": service, "operation": operation, "payload": payload})
}

fn under(mut body: Value, metadata: Value) -> Value {
    body["metadata"] = metadata;
    body
}

/// The real pipeline's answer as (decision, reason code).
fn decided(status: u16, body: &Value) -> (String, Option<String>) {
    if status >= 400 {
        let code = body["error"]["code"].as_str().unwrap_or("?").to_owned();
        return ("blocked".into(), Some(code));
    }
    match body["status"].as_str().unwrap_or("?") {
        "executed" | "running" => ("allow".into(), None),
        "approval_required" => ("approval_required".into(), None),
        "blocked" => (
            "blocked".into(),
            body["reason_code"].as_str().map(str::to_owned),
        ),
        other => (format!("unexpected {other}"), None),
    }
}

/// Simulates `body` for `agent` (as the owner), checks it left no trace,
/// submits it for real with the agent's key, and checks both agree with
/// each other and with `want`. Answers the simulation.
async fn agree(
    s: &TestServer,
    agent: &TestAgent,
    body: Value,
    want: (&str, Option<&str>),
) -> Value {
    let before = footprint(s, agent).await;
    let mut asked = body.clone();
    asked["agent_id"] = json!(agent.id);
    let sim = s.post(PATH, &s.pat, asked).await;
    assert_eq!(sim.status, 200, "{sim:?}");
    assert_eq!(
        footprint(s, agent).await,
        before,
        "the simulation left a trace: {}",
        sim.body
    );
    for check in sim.body["checks"].as_array().unwrap() {
        if check["ok"] == false {
            assert!(
                check["fix"].as_str().is_some_and(|f| !f.is_empty()),
                "a failing check without a fix: {check}"
            );
        }
    }
    let real = s.post("/api/v1/service-requests", &agent.key, body).await;
    let real = decided(real.status.as_u16(), &real.body);
    let simulated = (
        sim.body["decision"].as_str().unwrap().to_owned(),
        sim.body["reason_code"].as_str().map(str::to_owned),
    );
    assert_eq!(simulated, real, "simulation {} vs real", sim.body);
    let want = (want.0.to_owned(), want.1.map(str::to_owned));
    assert_eq!(real, want, "{}", sim.body);
    sim.body
}

fn check<'a>(sim: &'a Value, name: &str) -> &'a Value {
    sim["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {sim}"))
}

fn send() -> Value {
    request("email", "send", email())
}

#[tokio::test]
async fn standing_policy_and_limits_agree_with_the_pipeline() {
    let s = TestServer::start().await;
    s.credit(10_000).await;

    let ok = s.agent(json!({})).await;
    s.enable(&ok, json!({"service_id": "email"})).await;
    let sim = agree(&s, &ok, send(), ("allow", None)).await;
    assert!(sim["estimated_cost_cents"].as_i64().unwrap() > 0, "{sim}");
    assert!(
        sim["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{sim}"
    );

    let not_enabled = s.agent(json!({})).await;
    let sim = agree(
        &s,
        &not_enabled,
        send(),
        ("blocked", Some("service_not_enabled")),
    )
    .await;
    assert!(
        check(&sim, "binding")["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("/api/v1/agents/{}/services", not_enabled.id)),
        "{sim}"
    );

    let paused = s.agent(json!({})).await;
    s.enable(&paused, json!({"service_id": "email"})).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", paused.id),
            &s.pat,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    agree(&s, &paused, send(), ("blocked", Some("agent_paused"))).await;

    let disabled = s.agent(json!({})).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", disabled.id),
            &s.pat,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let sim = agree(&s, &disabled, send(), ("blocked", Some("agent_disabled"))).await;
    // The checks after standing are judged too: its binding is missing.
    assert_eq!(check(&sim, "binding")["ok"], false, "{sim}");

    // A spawned agent stands no better than its parent.
    let parent = s.agent(json!({"name": "parent"})).await;
    s.enable(&parent, json!({"service_id": "email"})).await;
    let child = s.spawn_child(&parent, "child", json!(["email"]), 100).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", parent.id),
            &s.pat,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    agree(&s, &child, send(), ("blocked", Some("agent_paused"))).await;

    let capped = s.agent(json!({})).await;
    s.enable(&capped, json!({"service_id": "email", "max_cost_cents": 0}))
        .await;
    agree(&s, &capped, send(), ("blocked", Some("max_cost_exceeded"))).await;

    // A test key reaches the sandbox only; the platform's own operations
    // are not the sandbox.
    let test_key = s.agent(json!({"key_mode": "test"})).await;
    s.enable(&test_key, json!({"service_id": "knowledge"}))
        .await;
    agree(
        &s,
        &test_key,
        request(
            "knowledge",
            "search",
            json!({"collection_id": "kc_x", "query": "q"}),
        ),
        ("blocked", Some("live_provider_not_allowed")),
    )
    .await;

    // Refused before any outcome: the error code stands as the reason.
    agree(
        &s,
        &ok,
        request("email", "send", json!({"subject": "no recipient"})),
        ("blocked", Some("invalid_payload")),
    )
    .await;
    agree(
        &s,
        &ok,
        request("email", "no_such_operation", json!({})),
        ("blocked", Some("unknown_operation")),
    )
    .await;

    // Daily limits, the agent's and the binding's: simulating counts
    // nothing, so the one allowed request still goes through.
    let daily = s.agent(json!({"daily_request_limit": 1})).await;
    s.enable(&daily, json!({"service_id": "email"})).await;
    agree(&s, &daily, send(), ("allow", None)).await;
    agree(
        &s,
        &daily,
        send(),
        ("blocked", Some("daily_limit_exceeded")),
    )
    .await;
    let daily = s.agent(json!({})).await;
    s.enable(
        &daily,
        json!({"service_id": "email", "daily_request_limit": 1}),
    )
    .await;
    agree(&s, &daily, send(), ("allow", None)).await;
    let sim = agree(
        &s,
        &daily,
        send(),
        ("blocked", Some("daily_limit_exceeded")),
    )
    .await;
    assert_eq!(check(&sim, "daily_limit.binding")["ok"], false, "{sim}");

    // Per-minute limits: simulating takes no token.
    let rated = s.agent(json!({"rate_limit_per_minute": 1})).await;
    s.enable(&rated, json!({"service_id": "email"})).await;
    for _ in 0..3 {
        let sim = s
            .post(
                PATH,
                &s.pat,
                json!({"agent_id": rated.id, "service": "email",
                                        "operation": "send", "payload": email()}),
            )
            .await;
        assert_eq!(sim.body["decision"], "allow", "{sim:?}");
    }
    agree(&s, &rated, send(), ("allow", None)).await;
    agree(&s, &rated, send(), ("blocked", Some("rate_limited"))).await;
    let rated = s.agent(json!({})).await;
    s.enable(
        &rated,
        json!({"service_id": "email", "rate_limit_per_minute": 1}),
    )
    .await;
    agree(&s, &rated, send(), ("allow", None)).await;
    let sim = agree(&s, &rated, send(), ("blocked", Some("rate_limited"))).await;
    assert_eq!(check(&sim, "rate_limit.binding")["ok"], false, "{sim}");

    // Approval gates: by flag and by threshold.
    let gated = s.agent(json!({})).await;
    s.enable(
        &gated,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    agree(&s, &gated, send(), ("approval_required", None)).await;
    let gated = s.agent(json!({})).await;
    s.enable(
        &gated,
        json!({"service_id": "email", "approval_threshold_cents": 0}),
    )
    .await;
    agree(&s, &gated, send(), ("approval_required", None)).await;

    // The kill switch stops every agent; it goes last.
    let r = s
        .patch("/api/v1/org", &s.pat, json!({"kill_switch": true}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    agree(&s, &ok, send(), ("blocked", Some("kill_switch"))).await;
    s.ledger_ok().await;
}

#[tokio::test]
async fn every_budget_agrees_with_the_pipeline() {
    let s = TestServer::start().await;

    // No money at all: the organisation balance, with the fix in dollars.
    let poor = s.agent(json!({})).await;
    s.enable(&poor, json!({"service_id": "email"})).await;
    let sim = agree(&s, &poor, send(), ("blocked", Some("insufficient_balance"))).await;
    let fix = check(&sim, "budget.org_balance")["fix"].as_str().unwrap();
    assert!(
        fix.contains("credit the organisation at least $0."),
        "{fix}"
    );

    s.credit(10_000).await;
    let month = s.agent(json!({"monthly_budget_cents": 0})).await;
    s.enable(&month, json!({"service_id": "email"})).await;
    let sim = agree(&s, &month, send(), ("blocked", Some("budget_exceeded"))).await;
    assert_eq!(check(&sim, "budget.agent_month")["ok"], false, "{sim}");

    let binding = s.agent(json!({})).await;
    s.enable(
        &binding,
        json!({"service_id": "email", "monthly_budget_cents": 0}),
    )
    .await;
    let sim = agree(&s, &binding, send(), ("blocked", Some("budget_exceeded"))).await;
    assert_eq!(check(&sim, "budget.binding_month")["ok"], false, "{sim}");

    // An agent of a team spends from its (empty) pool, not the balance.
    let team = s
        .post("/api/v1/teams", &s.pat, json!({"name": "Ops"}))
        .await;
    assert_eq!(team.status, 200, "{team:?}");
    let team = team.body["team"]["id"].as_str().unwrap().to_owned();
    let member = s.agent(json!({"team_id": team})).await;
    s.enable(&member, json!({"service_id": "email"})).await;
    let sim = agree(&s, &member, send(), ("blocked", Some("budget_exceeded"))).await;
    assert_eq!(check(&sim, "budget.team_pool")["ok"], false, "{sim}");

    // A spawned agent with nothing carved out for it.
    let parent = s.agent(json!({"name": "parent"})).await;
    s.enable(&parent, json!({"service_id": "email"})).await;
    let child = s.spawn_child(&parent, "child", json!(["email"]), 0).await;
    let sim = agree(&s, &child, send(), ("blocked", Some("budget_exceeded"))).await;
    assert_eq!(check(&sim, "budget.allowance")["ok"], false, "{sim}");

    // A gated request holds nothing yet: the gate decides, and the
    // budget checks only say what approving would meet.
    let gated = s.agent(json!({"monthly_budget_cents": 0})).await;
    s.enable(
        &gated,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let sim = agree(&s, &gated, send(), ("approval_required", None)).await;
    assert_eq!(check(&sim, "budget.agent_month")["ok"], false, "{sim}");
    s.ledger_ok().await;
}

/// A task `parent` delegates to `child`, accepted by the child if asked.
async fn task(
    s: &TestServer,
    parent: &TestAgent,
    child: &TestAgent,
    extra: Value,
    accepted: bool,
) -> String {
    let mut body = json!({"child_agent_id": child.id, "objective": "Report"});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let path = format!("/api/v1/agents/{}/delegated-tasks", parent.id);
    let r = s.post(&path, &parent.key, body).await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["task"]["id"].as_str().unwrap().to_owned();
    if accepted {
        let path = format!("/api/v1/agents/{}/delegated-tasks/{id}", child.id);
        let r = s
            .patch(&path, &child.key, json!({"status": "accepted"}))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    id
}

#[tokio::test]
async fn delegated_tasks_and_workflow_runs_agree_with_the_pipeline() {
    let s = TestServer::start().await;
    s.credit(10_000).await;
    let parent = s.agent(json!({"name": "parent"})).await;
    s.enable(&parent, json!({"service_id": "email"})).await;
    s.enable(&parent, json!({"service_id": "sms"})).await;
    let child = s
        .spawn_child(&parent, "child", json!(["email", "sms"]), 500)
        .await;
    agree(
        &s,
        &child,
        under(send(), json!({"delegated_task_id": "dt_nope"})),
        ("blocked", Some("delegated_task_not_found")),
    )
    .await;
    let pending = task(&s, &parent, &child, json!({}), false).await;
    agree(
        &s,
        &child,
        under(send(), json!({"delegated_task_id": pending})),
        ("blocked", Some("delegated_task_not_open")),
    )
    .await;
    let sms_only = task(
        &s,
        &parent,
        &child,
        json!({"permissions": ["sms.send"]}),
        true,
    )
    .await;
    agree(
        &s,
        &child,
        under(send(), json!({"delegated_task_id": sms_only})),
        ("blocked", Some("operation_not_delegated")),
    )
    .await;
    let capped = task(&s, &parent, &child, json!({"budget_cap_cents": 0}), true).await;
    let sim = agree(
        &s,
        &child,
        under(send(), json!({"delegated_task_id": capped})),
        ("blocked", Some("budget_exceeded")),
    )
    .await;
    assert_eq!(check(&sim, "budget.delegated_task")["ok"], false, "{sim}");
    let open = task(
        &s,
        &parent,
        &child,
        json!({"permissions": ["email.send"]}),
        true,
    )
    .await;
    agree(
        &s,
        &child,
        under(send(), json!({"delegated_task_id": open})),
        ("allow", None),
    )
    .await;

    agree(
        &s,
        &parent,
        under(send(), json!({"workflow_run_id": "wfr_nope"})),
        ("blocked", Some("workflow_run_not_found")),
    )
    .await;
    s.ledger_ok().await;
}

#[tokio::test]
async fn only_who_may_manage_the_agent_simulates_and_bad_input_is_an_error() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let body = json!({"agent_id": agent.id, "service": "email", "operation": "send",
                      "payload": email()});
    let member = s.user_pat(upivia_server::model::Role::Member).await;
    let r = s.post(PATH, &member, body.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{r:?}");
    let r = s.post(PATH, &agent.key, body.clone()).await;
    assert_eq!(r.status, 403, "{r:?}");
    let other = s.other_org("Elsewhere").await;
    let r = s.post(PATH, &other.pat, body.clone()).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{r:?}");
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"agent_id": agent.id, "service": "email",
                                    "operation": "send", "payload": "text"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s.post(PATH, &s.pat, json!({"agent_id": agent.id})).await;
    assert!(
        r.status.is_client_error() && r.body["error"]["code"].is_string(),
        "{r:?}"
    );
}
