//! The blocking client against the real server: the same flows as the
//! async end-to-end tests, from a thread outside any runtime.

use std::time::Duration;

use serde_json::{Value, json};
use upivia::models::{ListAuditLogs, ListUsage, ServiceRequestOutcome};
use upivia::{ErrorKind, WaitOptions, blocking};

use crate::e2e_support::{Server, binding, credit_spec, email, voice_call};

fn owner(server: &Server) -> blocking::Client {
    blocking::Client::new(server.owner()).unwrap()
}

fn agent_client(server: &Server, key: &str) -> blocking::Client {
    blocking::Client::new(server.agent_client(key)).unwrap()
}

/// Credits the org and creates an agent bound to `service` with
/// `settings`; returns its id and a client with its key.
fn funded_agent(
    server: &Server,
    service: &str,
    settings: Value,
    cents: i64,
) -> (String, blocking::Client) {
    let owner = owner(server);
    owner.send_json(credit_spec(cents)).unwrap();
    let created = owner.agents().create(&json!({"name": "blocking"})).unwrap();
    let id = created["agent"]["id"].as_str().unwrap().to_owned();
    owner
        .agents()
        .enable_service(&id, &binding(service, settings))
        .unwrap();
    let client = agent_client(server, created["api_key"].as_str().unwrap());
    (id, client)
}

#[test]
fn blocking_requests_execute_replay_and_wait() {
    let server = Server::start();
    let (agent_id, agent) = funded_agent(&server, "email", json!({}), 1_000);
    let owner = owner(&server);
    let requests = agent.service_requests();

    let done = requests.create(email("blocking")).unwrap();
    let ServiceRequestOutcome::Executed(executed) = &done else {
        panic!("expected executed, got {done:?}")
    };
    assert_eq!(executed.cost_cents.map(|c| c.get()), Some(1));
    assert_eq!(requests.get(&executed.request_id).unwrap(), done);

    let first = requests
        .create(email("replayed").with_idempotency_key("b-1"))
        .unwrap();
    let again = requests
        .create(email("replayed").with_idempotency_key("b-1"))
        .unwrap();
    assert_eq!(first, again);
    let err = requests
        .create(email("different").with_idempotency_key("b-1"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IdempotencyConflict);
    assert_eq!(owner.balance().get(None).unwrap().amount_cents.get(), 998);
    let usage = owner
        .usage()
        .list(ListUsage::default().with_agent_id(&agent_id))
        .unwrap();
    assert_eq!(usage["total_cents"], 2);

    let check = agent.budget_check().check(&agent_id).unwrap();
    assert_eq!(check.remaining_dollars, Some(9.98));
    assert_eq!(check.org_balance, Some(9.98));

    // A voice call, waited for from the blocking side.
    owner
        .agents()
        .enable_service(&agent_id, &json!({"service_id": "voice_call"}))
        .unwrap();
    let wait = WaitOptions::default()
        .with_poll_interval(Duration::from_millis(50))
        .with_timeout(Duration::from_secs(20));
    let called = requests.create_and_wait(voice_call(), wait).unwrap();
    assert_eq!(called.status(), Some("executed"), "{called:?}");
}

#[test]
fn blocking_approvals_audit_and_agents() {
    let server = Server::start();
    let (agent_id, agent) = funded_agent(&server, "email", json!({"require_approval": true}), 100);
    let owner = owner(&server);

    let gated = agent.service_requests().create(email("gated")).unwrap();
    let ServiceRequestOutcome::ApprovalRequired(gate) = &gated else {
        panic!("expected approval_required, got {gated:?}")
    };
    let listed = owner.approvals().list().unwrap();
    assert_eq!(listed["approvals"][0]["id"], gate.approval_id.as_str());
    let approved = owner.approvals().approve(&gate.approval_id).unwrap();
    assert_eq!(approved.status(), Some("executed"));
    let err = owner.approvals().reject(&gate.approval_id).unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(err.code(), Some("approval_already_decided"));

    // The audit trail, walked by the blocking iterator two rows at a time.
    let everything = owner
        .audit_logs()
        .list(ListAuditLogs::default().with_limit(500))
        .unwrap();
    let walked: Vec<String> = owner
        .audit_logs()
        .list_all(ListAuditLogs::default().with_limit(2))
        .map(|row| row.unwrap().id)
        .collect();
    let expected: Vec<String> = everything.items.iter().map(|e| e.id.clone()).collect();
    assert_eq!(walked, expected);
    assert!(walked.len() >= 5, "{walked:?}");

    // Agent management, with the key rotation's effect.
    let updated = owner
        .agents()
        .update(&agent_id, &json!({"description": "blocking side"}))
        .unwrap();
    assert_eq!(updated["agent"]["description"], "blocking side");
    assert_eq!(
        owner.agents().get(&agent_id).unwrap()["services"][0]["require_approval"],
        true
    );
    let budget = owner
        .agents()
        .set_budget(&agent_id, &json!({"monthly_budget_cents": 300}))
        .unwrap();
    assert_eq!(budget["agent"]["monthly_budget_cents"], 300);
    let rotated = owner.agents().reset_key(&agent_id).unwrap();
    let err = agent.service_requests().create(email("stale")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let fresh = agent_client(&server, rotated["api_key"].as_str().unwrap());
    owner.agents().disable_service(&agent_id, "email").unwrap();
    let blocked = fresh.service_requests().create(email("unbound")).unwrap();
    assert_eq!(blocked.status(), Some("blocked"));

    let services = owner.services().list().unwrap();
    assert!(services["services"].as_array().unwrap().len() >= 11);
    assert_eq!(owner.platform().health().unwrap()["ok"], true);
    let missing = owner.agents().get("agt_missing").unwrap_err();
    assert_eq!(
        (missing.kind(), missing.status()),
        (ErrorKind::Http, Some(404))
    );
}

#[cfg(feature = "tools")]
#[test]
fn blocking_tools_report_outcomes_as_status_text() {
    let server = Server::start();
    let (agent_id, agent) = funded_agent(&server, "email", json!({}), 1);
    let toolkit = blocking::Toolkit::from_catalog(&agent);
    assert!(toolkit.get("email_send").is_some());
    assert!(toolkit.tools().len() > 11);
    let args = json!({"to": "ops@example.com", "subject": "blocking tool", "body": "hi"});
    let first = toolkit.invoke("email_send", args.clone());
    assert!(
        first.starts_with("STATUS: executed\ncost_cents: 1\n"),
        "{first}"
    );
    let broke = toolkit.invoke("email_send", args);
    assert!(
        broke.starts_with("STATUS: blocked\nreason_code: insufficient_balance"),
        "{broke}"
    );
    let budget = toolkit.call("platform_check_budget", json!({"agent_id": agent_id}));
    assert_eq!(budget["status"], "executed");
    assert_eq!(budget["remaining_dollars"], 0.0);
    let offline = blocking::Toolkit::offline(&agent);
    assert_eq!(offline.definitions().len(), 11);
}

#[test]
fn blocking_people_tokens_pools_and_spawn() {
    let server = Server::start();
    let owner = owner(&server);
    owner.send_json(credit_spec(100)).unwrap();

    let added = owner
        .members()
        .add("blocking@example.com", "member")
        .unwrap();
    let user = added["member"]["id"].as_str().unwrap().to_owned();
    assert!(
        owner.members().list().unwrap().to_string().contains(&user),
        "the new member is listed"
    );
    let admin = owner.members().set_role(&user, "admin").unwrap();
    assert_eq!(admin["member"]["role"], "admin");
    let token = owner.tokens().create("blocking", Some(7)).unwrap();
    let token_id = token["token"]["id"].as_str().unwrap().to_owned();
    assert!(
        !owner
            .tokens()
            .list()
            .unwrap()
            .to_string()
            .contains("upivia_pat_")
    );
    owner.tokens().revoke(&token_id).unwrap();
    assert_eq!(
        owner.tokens().revoke(&token_id).unwrap_err().status(),
        Some(409)
    );
    owner.members().remove(&user).unwrap();

    let team = owner.teams().list().unwrap();
    assert!(team["teams"].as_array().unwrap().is_empty());
    let created = owner
        .send_json(
            upivia::RequestSpec::new(
                upivia::HttpMethod::Post,
                "/api/v1/teams",
                upivia::AuthMode::Workspace,
            )
            .json(&json!({"name": "Blocking"}))
            .unwrap(),
        )
        .unwrap();
    let team = created["team"]["id"].as_str().unwrap().to_owned();
    let moved = owner
        .teams()
        .allocate_budget(&team, &json!({"amount_cents": 30}))
        .unwrap();
    assert_eq!(moved["budget"]["pool_cents"], 30);
    assert_eq!(
        owner.teams().budget(&team).unwrap()["budget"]["allocated_cents"],
        30
    );

    let (_, parent) = funded_agent(&server, "email", json!({}), 1);
    let spawned = parent
        .spawn()
        .create(
            upivia::models::SpawnAgent::new("blocking child", ["email.send"])
                .with_budget_cents(upivia::models::Cents::new(1)),
        )
        .unwrap();
    assert_eq!(spawned["agent"]["spawn_depth"], 2);
    let estimate = parent.spawn().estimate(&["email.send"]).unwrap();
    assert_eq!(estimate["estimated_budget_cents"], 1);
}
