//! Governed service requests against the real server, through the async
//! client: execution, polling, idempotency, the budget check, balance and
//! usage, and governance denials (which are outcomes, not errors).

use std::time::Duration;

use serde_json::{Value, json};
use upivia::models::{ListUsage, ServiceRequestOutcome};
use upivia::{AuthMode, ErrorKind, HttpMethod, RequestSpec, WaitOptions};

use crate::e2e_support::{Server, email, voice_call};

#[tokio::test]
async fn an_executed_request_reports_its_cost_and_result_and_get_agrees() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let owner = server.owner();

    let outcome = agent
        .client
        .service_requests()
        .create(email("hello"))
        .await
        .unwrap();
    let ServiceRequestOutcome::Executed(done) = &outcome else {
        panic!("expected executed, got {outcome:?}")
    };
    assert_eq!(done.cost_cents.map(|c| c.get()), Some(1));
    assert_eq!(done.actual_cost_cents.map(|c| c.get()), Some(1));
    assert_eq!(done.result["to"], "ops@example.com");
    assert!(done.result["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(done.extra["service"], "email");
    assert_eq!(done.extra["operation"], "send");

    let fetched = agent
        .client
        .service_requests()
        .get(&done.request_id)
        .await
        .unwrap();
    let ServiceRequestOutcome::Executed(again) = &fetched else {
        panic!("expected executed, got {fetched:?}")
    };
    assert_eq!(again.request_id, done.request_id);
    assert_eq!(again.cost_cents, done.cost_cents);
    assert_eq!(again.result, done.result);

    let balance = owner.balance().get(None).await.unwrap();
    assert_eq!(balance.amount_cents.get(), 99);
    assert_eq!(balance.currency.as_deref(), Some("USD"));

    let usage = owner
        .usage()
        .list(ListUsage::default().with_agent_id(&agent.id))
        .await
        .unwrap();
    assert_eq!(usage["total_cents"], 1);
    let records = usage["records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["request_id"], done.request_id.as_str());
    assert_eq!(records[0]["cost_cents"], 1);

    let chart = owner
        .usage()
        .list(ListUsage::default().with_include_chart(true))
        .await
        .unwrap();
    assert_eq!(chart["balance_cents"], 99);
}

#[tokio::test]
async fn create_and_wait_follows_a_voice_call_until_it_is_executed() {
    let server = Server::start();
    let agent = server.funded_agent("voice_call", 1_000).await;
    let requests = agent.client.service_requests();

    // A plain create answers `running` at once (HTTP 202)...
    let first = requests.create(voice_call()).await.unwrap();
    let ServiceRequestOutcome::Running(running) = &first else {
        panic!("expected running, got {first:?}")
    };
    assert_eq!(running.provider.as_deref(), Some("sandbox"));
    assert!(
        running
            .external_id
            .as_deref()
            .is_some_and(|id| id.starts_with("call_"))
    );
    assert!(running.initial_cost_cents.is_some_and(|c| c.get() > 0));

    // ...and create_and_wait polls until the worker has reconciled it.
    let wait = WaitOptions::default()
        .with_poll_interval(Duration::from_millis(50))
        .with_timeout(Duration::from_secs(20));
    let outcome = requests.create_and_wait(voice_call(), wait).await.unwrap();
    let ServiceRequestOutcome::Executed(done) = &outcome else {
        panic!("expected executed, got {outcome:?}")
    };
    let cost = done.cost_cents.expect("cost").get();
    let estimate = done.estimated_cost_cents.expect("estimate").get();
    assert!(
        cost > 0 && cost <= estimate,
        "cost {cost}, estimate {estimate}"
    );
    assert_ne!(done.request_id, running.request_id);

    // The first call settles too (polled by hand here), and nothing stays
    // reserved once both are done.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let settled = loop {
        let now = requests.get(&running.request_id).await.unwrap();
        if now.is_terminal() || tokio::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(settled.status(), Some("executed"), "{settled:?}");
    let balance = server.owner().balance().get(None).await.unwrap();
    assert_eq!(balance.extra["reserved_cents"], 0, "{balance:?}");
}

#[tokio::test]
async fn an_idempotent_replay_returns_the_same_outcome_and_charges_once() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let requests = agent.client.service_requests();

    let first = requests
        .create(email("once").with_idempotency_key("order-1042"))
        .await
        .unwrap();
    let second = requests
        .create(email("once").with_idempotency_key("order-1042"))
        .await
        .unwrap();
    assert_eq!(first.status(), Some("executed"));
    assert_eq!(first, second, "a replay is the stored answer, unchanged");

    let owner = server.owner();
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        99
    );
    let usage = owner.usage().list(ListUsage::default()).await.unwrap();
    assert_eq!(usage["records"].as_array().unwrap().len(), 1);
    assert_eq!(usage["total_cents"], 1);
}

#[tokio::test]
async fn reusing_a_key_for_another_payload_is_an_idempotency_conflict() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let requests = agent.client.service_requests();
    requests
        .create(email("first").with_idempotency_key("k-1"))
        .await
        .unwrap();

    let err = requests
        .create(email("second").with_idempotency_key("k-1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict, "{err:?}");
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("idempotency_key_payload_mismatch"));
    // Only the first request was charged.
    let balance = server.owner().balance().get(None).await.unwrap();
    assert_eq!(balance.amount_cents.get(), 99);
}

#[tokio::test]
async fn the_budget_check_reports_dollars() {
    let server = Server::start();
    let agent = server.funded_agent("email", 1_000).await;
    server
        .owner()
        .agents()
        .set_budget(&agent.id, &json!({"monthly_budget_cents": 500}))
        .await
        .unwrap();
    agent
        .client
        .service_requests()
        .create(email("spend a cent"))
        .await
        .unwrap();

    let check = agent.client.budget_check().check(&agent.id).await.unwrap();
    assert_eq!(check.remaining_dollars, Some(4.99));
    assert_eq!(check.monthly_spent, Some(0.01));
    assert_eq!(check.monthly_limit, Some(5.0));
    assert_eq!(check.org_balance, Some(9.99));
    assert_eq!(check.extra["status"], "executed");

    // Another agent's budget is not this agent's business.
    let err = agent
        .client
        .budget_check()
        .check("agt_someone_else")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
    assert_eq!(err.status(), Some(403));
}

#[tokio::test]
async fn governance_denials_are_outcomes_not_errors() {
    let server = Server::start();
    // Two cents of money, one-cent emails, and web_search never enabled.
    let agent = server.funded_agent("email", 2).await;
    let requests = agent.client.service_requests();

    let search = requests
        .create(upivia::models::CreateServiceRequest::new(
            "web_search",
            "search",
            json!({"query": "rust"}),
        ))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &search else {
        panic!("expected blocked, got {search:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("service_not_enabled"));

    for n in 0..2 {
        let ok = requests.create(email(&format!("n{n}"))).await.unwrap();
        assert_eq!(ok.status(), Some("executed"), "{ok:?}");
    }
    let broke = requests.create(email("one too many")).await.unwrap();
    let ServiceRequestOutcome::Blocked(broke) = &broke else {
        panic!("expected blocked, got {broke:?}")
    };
    assert_eq!(broke.reason_code.as_deref(), Some("insufficient_balance"));
    assert!(broke.message.as_deref().is_some_and(|m| !m.is_empty()));

    // The organisation's kill switch stops everything.
    server.credit(100).await;
    let owner = server.owner();
    owner
        .send_json(
            RequestSpec::new(HttpMethod::Patch, "/api/v1/org", AuthMode::Workspace)
                .json(&json!({"kill_switch": true}))
                .unwrap(),
        )
        .await
        .unwrap();
    let killed = requests
        .create(email("after the kill switch"))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(killed) = &killed else {
        panic!("expected blocked, got {killed:?}")
    };
    assert_eq!(killed.reason_code.as_deref(), Some("kill_switch"));

    // The ledger and the audit chain stay consistent through all of it.
    let ledger = owner
        .send_json(RequestSpec::new(
            HttpMethod::Get,
            "/api/v1/admin/ledger/check",
            AuthMode::Workspace,
        ))
        .await
        .unwrap();
    assert_eq!(ledger["ok"], true, "{ledger}");
    let chain: Value = owner
        .send_json(RequestSpec::new(
            HttpMethod::Get,
            "/api/v1/admin/audit/verify",
            AuthMode::Workspace,
        ))
        .await
        .unwrap();
    assert_eq!(chain["ok"], true, "{chain}");
}
