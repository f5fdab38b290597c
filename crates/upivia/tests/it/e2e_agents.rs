//! Agent management against the real server: create, get, update, key
//! rotation, budgets and service bindings, each with its effect on the
//! governed pipeline.

use serde_json::json;
use upivia::ErrorKind;
use upivia::models::ServiceRequestOutcome;

use crate::e2e_support::{Server, agent_from, email};

#[tokio::test]
async fn an_agent_is_created_read_and_updated() {
    let server = Server::start();
    let owner = server.owner();
    let created = owner
        .agents()
        .create(&json!({"name": "Support triage", "description": "Reads the queue", "monthly_budget_cents": 2500}))
        .await
        .unwrap();
    let agent = agent_from(&server, &created);
    assert!(agent.key.starts_with("agent_key_"), "{}", agent.key);
    assert_eq!(created["agent"]["name"], "Support triage");
    assert_eq!(created["agent"]["monthly_budget_cents"], 2500);
    assert_eq!(created["agent"]["status"], "active");

    let fetched = owner.agents().get(&agent.id).await.unwrap();
    assert_eq!(fetched["agent"]["id"], agent.id.as_str());
    assert_eq!(fetched["agent"]["description"], "Reads the queue");
    assert_eq!(fetched["services"], json!([]));

    let updated = owner
        .agents()
        .update(
            &agent.id,
            &json!({"name": "Support triage v2", "status": "paused", "category": "support"}),
        )
        .await
        .unwrap();
    assert_eq!(updated["agent"]["name"], "Support triage v2");
    assert_eq!(updated["agent"]["status"], "paused");
    let fetched = owner.agents().get(&agent.id).await.unwrap();
    assert_eq!(fetched["agent"]["name"], "Support triage v2");
    assert_eq!(fetched["agent"]["category"], "support");

    // A paused agent's requests are blocked, as an outcome.
    server.credit(100).await;
    owner
        .agents()
        .enable_service(&agent.id, &json!({"service_id": "email"}))
        .await
        .unwrap();
    let paused = agent
        .client
        .service_requests()
        .create(email("while paused"))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &paused else {
        panic!("expected blocked, got {paused:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("agent_paused"));

    // An agent key lists only its own agent.
    let listed = agent.client.agents().list().await.unwrap();
    let ids: Vec<&str> = listed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![agent.id.as_str()]);
    // A PAT lists every agent of the workspace.
    let other = owner
        .agents()
        .create(&json!({"name": "other"}))
        .await
        .unwrap();
    let workspace = owner.agents().list_workspace(None).await.unwrap();
    let mut ids: Vec<&str> = workspace["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![agent.id.as_str(), other["agent"]["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let missing = owner.agents().get("agt_nope").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Http);
    assert_eq!(missing.status(), Some(404));
    let invalid = owner
        .agents()
        .update(&agent.id, &json!({"status": "sleeping"}))
        .await
        .unwrap_err();
    assert_eq!(invalid.status(), Some(422), "{invalid:?}");
}

#[tokio::test]
async fn reset_key_kills_the_old_key_at_once() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let owner = server.owner();

    let rotated = owner.agents().reset_key(&agent.id).await.unwrap();
    let fresh = agent_from(&server, &rotated);
    assert_eq!(fresh.id, agent.id);
    assert_ne!(fresh.key, agent.key);

    let err = agent
        .client
        .service_requests()
        .create(email("old key"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err:?}");
    assert_eq!(err.status(), Some(401));
    let ok = fresh
        .client
        .service_requests()
        .create(email("new key"))
        .await
        .unwrap();
    assert_eq!(ok.status(), Some("executed"));
}

#[tokio::test]
async fn a_monthly_budget_caps_spending_and_can_be_lifted() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let owner = server.owner();

    let set = owner
        .agents()
        .set_budget(&agent.id, &json!({"monthly_budget_cents": 1}))
        .await
        .unwrap();
    assert_eq!(set["agent"]["monthly_budget_cents"], 1);
    let requests = agent.client.service_requests();
    assert_eq!(
        requests.create(email("one")).await.unwrap().status(),
        Some("executed")
    );
    let capped = requests.create(email("two")).await.unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &capped else {
        panic!("expected blocked, got {capped:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("budget_exceeded"));

    let lifted = owner
        .agents()
        .set_budget(&agent.id, &json!({"monthly_budget_cents": null}))
        .await
        .unwrap();
    assert!(lifted["agent"]["monthly_budget_cents"].is_null());
    assert_eq!(
        requests.create(email("three")).await.unwrap().status(),
        Some("executed")
    );
}

#[tokio::test]
async fn enabling_and_disabling_a_service_changes_what_the_agent_may_run() {
    let server = Server::start();
    server.credit(100).await;
    let owner = server.owner();
    let agent = agent_from(
        &server,
        &owner
            .agents()
            .create(&json!({"name": "bindings"}))
            .await
            .unwrap(),
    );
    let requests = agent.client.service_requests();
    let before = requests.create(email("not yet")).await.unwrap();
    assert_eq!(before.status(), Some("blocked"));

    let enabled = owner
        .agents()
        .enable_service(
            &agent.id,
            &json!({"service_id": "email", "max_cost_cents": 5, "daily_request_limit": 10}),
        )
        .await
        .unwrap();
    assert_eq!(enabled["ok"], true);
    let binding = &enabled["services"][0];
    assert_eq!(binding["service_id"], "email");
    assert_eq!(binding["max_cost_cents"], 5);
    assert_eq!(binding["daily_request_limit"], 10);
    let fetched = owner.agents().get(&agent.id).await.unwrap();
    assert_eq!(fetched["services"].as_array().unwrap().len(), 1);
    assert_eq!(
        requests.create(email("now")).await.unwrap().status(),
        Some("executed")
    );

    let disabled = owner
        .agents()
        .disable_service(&agent.id, "email")
        .await
        .unwrap();
    assert_eq!(disabled["ok"], true);
    assert_eq!(disabled["removed"], 1);
    let after = requests.create(email("no more")).await.unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &after else {
        panic!("expected blocked, got {after:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("service_not_enabled"));
    assert_eq!(
        owner.agents().get(&agent.id).await.unwrap()["services"],
        json!([])
    );

    let unknown = owner
        .agents()
        .enable_service(&agent.id, &json!({"service_id": "teleport"}))
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404));
    assert_eq!(unknown.code(), Some("unknown_service"));
}

#[tokio::test]
async fn clone_health_activity_skills_transfer_and_delete_through_the_sdk() {
    use futures::TryStreamExt;
    use upivia::models::ListAgentActivity;

    let server = Server::start();
    let owner = server.owner();
    let source = server.funded_agent("email", 500).await;
    let sent = source
        .client
        .service_requests()
        .create(email("one"))
        .await
        .unwrap();
    assert!(
        matches!(sent, ServiceRequestOutcome::Executed(_)),
        "{sent:?}"
    );

    let health = owner.agents().health(&source.id).await.unwrap();
    assert_eq!(health["health"], "healthy", "{health}");
    let fleet = owner.agents().fleet_health().await.unwrap();
    assert_eq!(fleet["counts"]["total"], 1, "{fleet}");

    let page = owner
        .agents()
        .activity(
            &source.id,
            ListAgentActivity::default().with_limit(1).with_verify(true),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.has_more, Some(true));
    assert!(page.next_cursor.is_some());
    assert_eq!(page.extra["verification"]["ok"], true, "{:?}", page.extra);
    let all: Vec<_> = owner
        .agents()
        .activity_iter(&source.id, ListAgentActivity::default().with_limit(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 3, "created, binding.enabled, executed: {all:?}");

    let skills = owner.agents().skills(&source.id).await.unwrap();
    assert_eq!(skills["services"][0]["service_id"], "email", "{skills}");
    let missing = owner
        .agents()
        .remove_skill(&source.id, "wf_x")
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));

    let cloned = owner
        .agents()
        .clone(&source.id, Some(&json!({"name": "twin"})))
        .await
        .unwrap();
    let twin = agent_from(&server, &cloned);
    assert_ne!(twin.id, source.id);
    assert_eq!(cloned["services"].as_array().unwrap().len(), 1, "{cloned}");
    let sent = twin
        .client
        .service_requests()
        .create(email("twin"))
        .await
        .unwrap();
    assert!(
        matches!(sent, ServiceRequestOutcome::Executed(_)),
        "{sent:?}"
    );

    let owner_id = cloned["agent"]["owner_user_id"].as_str().unwrap();
    let moved = owner
        .agents()
        .transfer(&twin.id, &json!({"new_owner_user_id": owner_id}))
        .await
        .unwrap();
    assert_ne!(moved["api_key"].as_str().unwrap(), twin.key);
    let dead = twin
        .client
        .service_requests()
        .create(email("old key"))
        .await
        .unwrap_err();
    assert_eq!(dead.kind(), ErrorKind::Unauthorized);

    let deleted = owner.agents().delete(&source.id).await.unwrap();
    assert_eq!(deleted["deleted"], true);
    let dead = source
        .client
        .service_requests()
        .create(email("gone"))
        .await
        .unwrap_err();
    assert_eq!(dead.status(), Some(401));
    assert_eq!(
        owner.agents().get(&source.id).await.unwrap_err().status(),
        Some(404)
    );
}
