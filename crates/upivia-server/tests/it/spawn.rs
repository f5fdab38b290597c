//! Spawn over HTTP: a parent agent creates bounded children (operations a
//! subset of its own, budget carved out of its own, depth at most 3), the
//! carve is exact under concurrency, children can never spend past what
//! was carved, stopping an agent stops its descendants, and every refusal
//! has its code and writes nothing.

use serde_json::{Value, json};

use crate::support::{Reply, TestAgent, TestServer, email};
use crate::teams::audit_events;

async fn spawn(s: &TestServer, parent: &TestAgent, body: Value) -> Reply {
    s.post("/api/v1/agents/spawn", &parent.key, body).await
}

fn child_of(r: &Reply) -> TestAgent {
    assert_eq!(r.status, 200, "{r:?}");
    TestAgent {
        id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
        key: r.body["api_key"].as_str().unwrap().to_owned(),
    }
}

/// A root agent with `cap` cents a month and email enabled; the
/// organisation funded with 1000 cents.
async fn parent(s: &TestServer, cap: Option<i64>) -> TestAgent {
    s.credit(1000).await;
    let agent = s.agent(json!({"monthly_budget_cents": cap})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    agent
}

async fn remaining(s: &TestServer, agent: &TestAgent) -> i64 {
    let r = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": agent.id}}),
        )
        .await;
    r.body["result"]["remaining_cents"].as_i64().unwrap()
}

async fn agent_count(s: &TestServer) -> usize {
    let r = s.get("/api/v1/agents", &s.pat).await;
    r.body["agents"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_spawned_child_gets_a_key_a_carved_budget_and_its_parents_limits() {
    let s = TestServer::start().await;
    let parent = parent(&s, Some(100)).await;
    let r = spawn(
        &s,
        &parent,
        json!({"name": "scout", "description": "finds things", "services": ["email.send"],
               "budget_cents": 3, "category": "research", "icon": null}),
    )
    .await;
    assert_eq!(r.body["ok"], true, "{r:?}");
    let agent = &r.body["agent"];
    assert!(agent["id"].as_str().unwrap().starts_with("agt_"));
    assert_eq!(agent["parent_agent_id"], parent.id.as_str());
    assert_eq!(agent["spawn_depth"], 2);
    assert_eq!(agent["monthly_budget_cents"], 3);
    assert_eq!(agent["category"], "research");
    let child = child_of(&r);
    assert_ne!(child.key, parent.key);

    // The parent's remaining budget drops by the carve at once.
    assert_eq!(remaining(&s, &parent).await, 97);
    // The child spends what was carved and no more.
    for _ in 0..3 {
        let ran = s.request(&child, "email", "send", email()).await;
        assert_eq!(ran.body["status"], "executed", "{ran:?}");
    }
    let past = s.request(&child, "email", "send", email()).await;
    assert_eq!(past.body["reason_code"], "budget_exceeded", "{past:?}");
    assert!(
        past.body["message"]
            .as_str()
            .unwrap()
            .contains("spawn budget"),
        "{past:?}"
    );
    // Only what was enabled for it.
    let other = s
        .request(&child, "web_search", "search", json!({"query": "x"}))
        .await;
    assert_eq!(
        other.body["reason_code"], "service_not_enabled",
        "{other:?}"
    );
    assert_eq!(remaining(&s, &parent).await, 97, "the child spent its own");
    assert_eq!(s.balance().await, 997);

    let spawned = audit_events(&s, "agent.spawned").await;
    assert_eq!(spawned.len(), 1, "{spawned:?}");
    assert_eq!(spawned[0]["details"]["child_agent_id"], child.id.as_str());
    assert_eq!(spawned[0]["details"]["budget_cents"], 3);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_child_may_only_have_operations_its_parent_has() {
    let s = TestServer::start().await;
    let parent = parent(&s, None).await;
    let before = agent_count(&s).await;
    let r = spawn(
        &s,
        &parent,
        json!({"name": "greedy", "services": ["email.send", "web_search.search"], "budget_cents": 0}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "spawn_services_not_subset"),
        "{r:?}"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("web_search.search")
    );
    let bare = spawn(&s, &parent, json!({"name": "bare", "services": ["sms"]})).await;
    assert_eq!(bare.code(), "spawn_services_not_subset", "{bare:?}");
    assert_eq!(agent_count(&s).await, before, "nothing was created");

    // A bare service id stands for the parent's operations of it.
    let by_service = spawn(
        &s,
        &parent,
        json!({"name": "mailer", "services": ["email"], "budget_cents": 1}),
    )
    .await;
    let child = child_of(&by_service);
    let skills = s
        .get(&format!("/api/v1/agents/{}/skills", child.id), &s.pat)
        .await;
    assert_eq!(skills.status, 200, "{skills:?}");
    assert!(skills.body.to_string().contains("email"), "{skills:?}");
    let sent = s.request(&child, "email", "send", email()).await;
    assert_eq!(sent.body["status"], "executed", "{sent:?}");
}

#[tokio::test]
async fn bad_spawn_input_gets_the_envelope_and_creates_nothing() {
    let s = TestServer::start().await;
    let parent = parent(&s, None).await;
    let before = agent_count(&s).await;
    let cases = [
        json!({}),
        json!({"services": ["email.send"]}),
        json!({"name": "", "services": ["email.send"]}),
        json!({"name": "x"}),
        json!({"name": "x", "services": []}),
        json!({"name": "x", "services": "email.send"}),
        json!({"name": "x", "services": [5]}),
        json!({"name": "x", "services": ["nope.nothing"]}),
        json!({"name": "x", "services": ["nothing"]}),
        json!({"name": "x", "services": ["email.send"], "budget_cents": -1}),
        json!({"name": "x", "services": ["email.send"], "budget_cents": 1.5}),
        json!({"name": "x", "services": ["email.send"], "budget_cents": "5"}),
        json!({"name": "x", "services": ["email.send"], "icon": 5}),
    ];
    for body in cases {
        let r = spawn(&s, &parent, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{body}: {r:?}"
        );
    }
    // A person's credential is not a parent.
    let by_user = s
        .post(
            "/api/v1/agents/spawn",
            &s.pat,
            json!({"name": "x", "services": ["email.send"]}),
        )
        .await;
    assert_eq!(by_user.status, 403, "{by_user:?}");
    assert_eq!(agent_count(&s).await, before);
}

#[tokio::test]
async fn depth_stops_at_three_and_grandchildren_carve_from_their_parent() {
    let s = TestServer::start().await;
    let root = parent(&s, Some(50)).await;
    let child = child_of(
        &spawn(
            &s,
            &root,
            json!({"name": "child", "services": ["email.send"], "budget_cents": 5}),
        )
        .await,
    );
    let grandchild_reply = spawn(
        &s,
        &child,
        json!({"name": "grandchild", "services": ["email.send"], "budget_cents": 3}),
    )
    .await;
    assert_eq!(grandchild_reply.body["agent"]["spawn_depth"], 3);
    let grandchild = child_of(&grandchild_reply);
    // The child's allowance paid for it: 2 left, so 3 more is too much.
    assert_eq!(remaining(&s, &child).await, 2);
    let short = spawn(
        &s,
        &child,
        json!({"name": "another", "services": ["email.send"], "budget_cents": 3}),
    )
    .await;
    assert_eq!(
        (short.status.as_u16(), short.code()),
        (403, "insufficient_budget"),
        "{short:?}"
    );
    let deep = spawn(
        &s,
        &grandchild,
        json!({"name": "too deep", "services": ["email.send"]}),
    )
    .await;
    assert_eq!(
        (deep.status.as_u16(), deep.code()),
        (403, "spawn_depth_exceeded"),
        "{deep:?}"
    );
    assert_eq!(remaining(&s, &root).await, 45);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_parent_cannot_carve_more_than_it_has_left() {
    let s = TestServer::start().await;
    let parent = parent(&s, Some(10)).await;
    s.request(&parent, "email", "send", email()).await;
    let before = agent_count(&s).await;
    let r = spawn(
        &s,
        &parent,
        json!({"name": "big", "services": ["email.send"], "budget_cents": 10}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "insufficient_budget"),
        "{r:?}"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("9 cents"),
        "{r:?}"
    );
    assert_eq!(agent_count(&s).await, before);
    child_of(
        &spawn(
            &s,
            &parent,
            json!({"name": "fits", "services": ["email.send"], "budget_cents": 9}),
        )
        .await,
    );
    let broke = s.request(&parent, "email", "send", email()).await;
    assert_eq!(broke.body["reason_code"], "budget_exceeded", "{broke:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn concurrent_spawns_never_carve_more_than_the_parent_has() {
    let s = TestServer::start().await;
    let parent = parent(&s, Some(100)).await;
    let calls = (0..20).map(|i| {
        let (s, parent) = (&s, &parent);
        async move {
            spawn(
                s,
                parent,
                json!({"name": format!("c{i}"), "services": ["email.send"], "budget_cents": 10}),
            )
            .await
        }
    });
    let replies = futures::future::join_all(calls).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let short = replies
        .iter()
        .filter(|r| r.code() == "insufficient_budget")
        .count();
    assert_eq!((ok, short), (10, 10), "{replies:?}");
    assert_eq!(remaining(&s, &parent).await, 0);
    s.ledger_ok().await;
}

#[tokio::test]
async fn pausing_an_agent_stops_its_descendants_and_its_deletion_waits_for_them() {
    let s = TestServer::start().await;
    let root = parent(&s, None).await;
    let child = child_of(
        &spawn(
            &s,
            &root,
            json!({"name": "child", "services": ["email.send"], "budget_cents": 20}),
        )
        .await,
    );
    let grandchild = child_of(
        &spawn(
            &s,
            &child,
            json!({"name": "grandchild", "services": ["email.send"], "budget_cents": 5}),
        )
        .await,
    );
    let set = |agent: String, status: &'static str| {
        let s = &s;
        async move {
            let r = s
                .patch(
                    &format!("/api/v1/agents/{agent}"),
                    &s.pat,
                    json!({"status": status}),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
        }
    };
    set(root.id.clone(), "paused").await;
    for agent in [&child, &grandchild] {
        let r = s.request(agent, "email", "send", email()).await;
        assert_eq!(r.body["reason_code"], "agent_paused", "{r:?}");
    }
    let no_spawn = spawn(
        &s,
        &child,
        json!({"name": "while paused", "services": ["email.send"]}),
    )
    .await;
    assert_eq!(no_spawn.code(), "agent_not_active", "{no_spawn:?}");
    set(root.id.clone(), "active").await;
    set(child.id.clone(), "disabled").await;
    let r = s.request(&grandchild, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "agent_disabled", "{r:?}");
    set(child.id.clone(), "active").await;
    let r = s.request(&grandchild, "email", "send", email()).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");

    let refused = s
        .send(
            reqwest::Method::DELETE,
            &format!("/api/v1/agents/{}", child.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("child agent"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_estimate_prices_each_operation_and_says_what_the_parent_can_pass_on() {
    let s = TestServer::start().await;
    let parent = parent(&s, None).await;
    let r = s
        .get(
            "/api/v1/agents/spawn?operations=email.send,web_search.search",
            &parent.key,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let lines = r.body["breakdown"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert_eq!(lines[0]["operation"], "email.send");
    assert_eq!(lines[0]["enabled_for_parent"], true);
    assert_eq!(lines[1]["enabled_for_parent"], false);
    let sum: i64 = lines
        .iter()
        .map(|l| l["base_price_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(r.body["estimated_budget_cents"], sum);
    for bad in ["", "?operations=", "?operations=nope.nothing"] {
        let r = s
            .get(&format!("/api/v1/agents/spawn{bad}"), &parent.key)
            .await;
        assert_eq!(r.status, 422, "{bad}: {r:?}");
    }
}
