//! Money that moves, through the SDK only: team pools funded by
//! allocation and by approved budget requests, and spawned children whose
//! budget is carved out of their parent.

use serde_json::json;
use upivia::models::{Cents, CreateServiceRequest, ServiceRequestOutcome, SpawnAgent};

use crate::e2e_support::{Server, agent_from, email};

#[tokio::test]
async fn an_owner_funds_a_pool_directly_and_through_a_budget_request() {
    let server = Server::start();
    server.credit(500).await;
    let owner = server.owner();
    let team = owner.teams().create("Pool").await.unwrap()["team"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let allocated = owner
        .teams()
        .allocate_budget(&team, &json!({"amount_cents": 200}))
        .await
        .unwrap();
    assert_eq!(allocated["budget"]["pool_cents"], 200);
    let short = owner
        .teams()
        .allocate_budget(&team, &json!({"amount_cents": 301}))
        .await
        .unwrap_err();
    assert_eq!(
        (short.status(), short.code()),
        (Some(409), Some("insufficient_balance"))
    );

    let asked = owner
        .budget_requests()
        .create(&json!({"team_id": team, "amount_cents": 50, "reason": "more"}))
        .await
        .unwrap();
    let id = asked["request"]["id"].as_str().unwrap().to_owned();
    let listed = owner.budget_requests().list().await.unwrap();
    assert_eq!(listed["requests"][0]["id"], id.as_str());
    let approved = owner
        .budget_requests()
        .resolve(&id, &json!({"action": "approve"}))
        .await
        .unwrap();
    assert_eq!(approved["request"]["status"], "approved");
    let again = owner
        .budget_requests()
        .resolve(&id, &json!({"action": "reject"}))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("already_resolved"));

    let budget = owner.teams().budget(&team).await.unwrap();
    assert_eq!(budget["budget"]["pool_cents"], 250);
    let pool = owner.balance().get(Some(&team)).await.unwrap();
    assert_eq!(pool.amount_cents, Cents::new(250));
    let org = owner.balance().get(None).await.unwrap();
    assert_eq!(org.amount_cents, Cents::new(250));

    // A team agent spends the pool, not the balance.
    let created = owner
        .agents()
        .create(&json!({"name": "Pooled", "team_id": team}))
        .await
        .unwrap();
    let agent = agent_from(&server, &created);
    owner
        .agents()
        .enable_service(&agent.id, &json!({"service_id": "email"}))
        .await
        .unwrap();
    let sent = agent
        .client
        .service_requests()
        .create(email("from the pool"))
        .await
        .unwrap();
    assert!(
        matches!(sent, ServiceRequestOutcome::Executed(_)),
        "{sent:?}"
    );
    assert_eq!(
        owner.balance().get(Some(&team)).await.unwrap().amount_cents,
        Cents::new(249)
    );
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents,
        Cents::new(250)
    );
}

#[tokio::test]
async fn a_parent_spawns_a_child_that_spends_only_its_carve() {
    let server = Server::start();
    server.credit(100).await;
    let owner = server.owner();
    let created = owner
        .agents()
        .create(&json!({"name": "Parent", "monthly_budget_cents": 40}))
        .await
        .unwrap();
    let parent = agent_from(&server, &created);
    owner
        .agents()
        .enable_service(&parent.id, &json!({"service_id": "email"}))
        .await
        .unwrap();
    let estimate = parent
        .client
        .spawn()
        .estimate(&["email.send"])
        .await
        .unwrap();
    assert_eq!(estimate["breakdown"][0]["operation"], "email.send");
    let spawned = parent
        .client
        .spawn()
        .create(SpawnAgent::new("Child", ["email.send"]).with_budget_cents(Cents::new(2)))
        .await
        .unwrap();
    assert_eq!(spawned["agent"]["parent_agent_id"], parent.id.as_str());
    let child = agent_from(&server, &spawned);
    for _ in 0..2 {
        let ran = child
            .client
            .service_requests()
            .create(email("child"))
            .await
            .unwrap();
        assert!(matches!(ran, ServiceRequestOutcome::Executed(_)), "{ran:?}");
    }
    let past = child
        .client
        .service_requests()
        .create(email("too much"))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(past) = past else {
        panic!("expected blocked, got {past:?}")
    };
    assert_eq!(past.reason_code.as_deref(), Some("budget_exceeded"));
    let greedy = parent
        .client
        .spawn()
        .create(SpawnAgent::new("Greedy", ["web_search.search"]))
        .await
        .unwrap_err();
    assert_eq!(
        (greedy.status(), greedy.code()),
        (Some(403), Some("spawn_services_not_subset"))
    );
    let too_big = parent
        .client
        .spawn()
        .create(SpawnAgent::new("Big", ["email.send"]).with_budget_cents(Cents::new(39)))
        .await
        .unwrap_err();
    assert_eq!(too_big.code(), Some("insufficient_budget"));
    let check = parent
        .client
        .service_requests()
        .create(CreateServiceRequest::new(
            "platform",
            "check_budget",
            json!({"agent_id": parent.id}),
        ))
        .await
        .unwrap();
    let ServiceRequestOutcome::Executed(check) = check else {
        panic!("expected executed, got {check:?}")
    };
    assert_eq!(check.result["remaining_cents"], 40 - 2);
}

#[tokio::test]
async fn an_owner_credits_the_balance_and_a_non_positive_credit_is_refused() {
    let server = Server::start();
    let owner = server.owner();
    let before = owner.balance().get(None).await.unwrap().amount_cents;
    let credited = owner
        .balance()
        .credit(Cents::new(1_250), Some("top-up"))
        .await
        .unwrap();
    assert_eq!(credited.amount_cents.get(), before.get() + 1_250);
    assert_eq!(credited.extra["credited_cents"], 1_250);
    let now = owner.balance().get(None).await.unwrap();
    assert_eq!(now.amount_cents, credited.amount_cents);
    assert_eq!(now.extra["credits_cents"], before.get() + 1_250);

    let refused = owner
        .balance()
        .credit(Cents::new(0), None)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(422), "{refused}");
    let unchanged = owner.balance().get(None).await.unwrap();
    assert_eq!(unchanged.amount_cents, credited.amount_cents);
}
