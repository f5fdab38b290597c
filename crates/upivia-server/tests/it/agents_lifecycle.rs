//! API.md §2.5 beyond create/get/update: delete (bindings go, the key is
//! 401 at once, protected agents 409), clone (every binding and limit, a
//! key once), transfer (to a member, a new key once, the old one dies),
//! the camelCase profile keys, health, fleet health, activity (cursor,
//! verify) and skills, with roles and other organisations.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer, email};

async fn delete(s: &TestServer, path: &str, token: &str) -> Reply {
    s.send(Method::DELETE, path, Some(token), None).await
}

fn path(agent: &TestAgent, rest: &str) -> String {
    format!("/api/v1/agents/{}{rest}", agent.id)
}

async fn user_id(s: &TestServer, pat: &str) -> String {
    let who = s.get("/api/v1/whoami", pat).await;
    assert_eq!(who.status, 200, "{who:?}");
    who.body["user"]["id"].as_str().unwrap().to_owned()
}

async fn events(s: &TestServer, agent: &TestAgent) -> Vec<String> {
    let r = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn update_persists_the_documented_camel_case_keys() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let patch = json!({
        "name": "renamed", "description": "d", "icon": "🤖", "category": "ops",
        "defaultModelId": "openai/gpt-4o-mini", "systemPrompt": "Be brief.",
        "personality": "dry", "voiceConfig": {"voice": "alloy", "speed": 1.1},
        "memoryMode": "session",
    });
    let r = s.patch(&path(&agent, ""), &s.pat, patch).await;
    assert_eq!(r.status, 200, "{r:?}");
    let got = s.get(&path(&agent, ""), &s.pat).await.body["agent"].clone();
    for (k, v) in [
        ("systemPrompt", json!("Be brief.")),
        ("personality", json!("dry")),
        ("voiceConfig", json!({"voice": "alloy", "speed": 1.1})),
        ("memoryMode", json!("session")),
        ("icon", json!("🤖")),
        ("category", json!("ops")),
        ("default_model_id", json!("openai/gpt-4o-mini")),
    ] {
        assert_eq!(got[k], v, "{k}: {got}");
    }
    let list = s.get("/api/v1/agents", &s.pat).await;
    let row = list.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["default_model_id"], "openai/gpt-4o-mini");
    // null clears a key; a wrong shape is 422 naming it.
    let r = s
        .patch(&path(&agent, ""), &s.pat, json!({"systemPrompt": null}))
        .await;
    assert!(r.body["agent"].get("systemPrompt").is_none(), "{r:?}");
    for bad in [json!({"voiceConfig": "loud"}), json!({"memoryMode": 3})] {
        let r = s.patch(&path(&agent, ""), &s.pat, bad).await;
        assert_eq!(r.status, 422, "{r:?}");
    }
    assert!(
        events(&s, &agent)
            .await
            .contains(&"agent.updated".to_owned())
    );
}

#[tokio::test]
async fn delete_removes_bindings_kills_the_key_and_refuses_protected_agents() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 500).await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");

    let gone = delete(&s, &path(&agent, ""), &s.pat).await;
    assert_eq!(gone.status, 200, "{gone:?}");
    assert_eq!(gone.body["deleted"], true);
    assert_eq!(gone.body["bindings_removed"], 1);
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(s.get(&path(&agent, ""), &s.pat).await.status, 404);
    assert_eq!(delete(&s, &path(&agent, ""), &s.pat).await.status, 404);
    let list = s.get("/api/v1/agents", &s.pat).await;
    assert!(!list.body.to_string().contains(&agent.id));
    assert!(
        events(&s, &agent)
            .await
            .contains(&"agent.deleted".to_owned())
    );

    let keep = s.agent(json!({"protected": true})).await;
    let r = delete(&s, &path(&keep, ""), &s.pat).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "{r:?}");
    let r = s
        .patch(&path(&keep, ""), &s.pat, json!({"protected": false}))
        .await;
    assert_eq!(r.body["agent"]["protected"], false, "{r:?}");
    assert_eq!(delete(&s, &path(&keep, ""), &s.pat).await.status, 200);
    s.ledger_ok().await;
}

#[tokio::test]
async fn delete_needs_a_manager_and_hides_other_organisations() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let member = s.user_pat(Role::Member).await;
    let r = delete(&s, &path(&agent, ""), &member).await;
    assert_eq!(r.status, 403, "{r:?}");
    let other = s.other_org("Other").await;
    for (method, rest) in [
        (Method::DELETE, ""),
        (Method::POST, "/clone"),
        (Method::PATCH, "/transfer"),
        (Method::GET, "/health"),
        (Method::GET, "/activity"),
        (Method::GET, "/skills"),
        (Method::DELETE, "/skills?service_id=email"),
    ] {
        let body = (method != Method::GET && method != Method::DELETE)
            .then(|| json!({"new_owner_user_id": "usr_x"}));
        let r = s
            .send(method.clone(), &path(&agent, rest), Some(&other.pat), body)
            .await;
        assert_eq!(r.status, 404, "{method} {rest}: {r:?}");
        let r = s
            .send(method.clone(), &path(&agent, rest), Some(&agent.key), None)
            .await;
        assert_eq!(r.status, 403, "{method} {rest} with the agent key: {r:?}");
    }
    // A member's own agent is theirs to delete.
    let own = s
        .post("/api/v1/agents", &member, json!({"name": "mine"}))
        .await;
    let own_id = own.body["agent"]["id"].as_str().unwrap();
    let r = delete(&s, &format!("/api/v1/agents/{own_id}"), &member).await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn clone_copies_every_binding_and_limit_with_a_key_of_its_own() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let source = s
        .agent(
            json!({"monthly_budget_cents": 300, "daily_request_limit": 9,
                      "rate_limit_per_minute": 30, "systemPrompt": "x", "protected": true}),
        )
        .await;
    s.enable(
        &source,
        json!({"service_id": "email", "require_approval": true,
                             "approval_threshold_cents": 7, "max_cost_cents": 50}),
    )
    .await;
    s.enable(
        &source,
        json!({"service_id": "sms", "operations": ["send"], "daily_request_limit": 4}),
    )
    .await;
    let member = s.user_pat(Role::Member).await;
    let r = s
        .post(&path(&source, "/clone"), &member, json!({"name": "twin"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    let clone = TestAgent {
        id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
        key: key.clone(),
    };
    assert_ne!(clone.id, source.id);
    assert!(key.starts_with("agent_key_live_") && key != source.key);
    let a = &r.body["agent"];
    assert_eq!(a["name"], "twin");
    assert_eq!(a["owner_user_id"], user_id(&s, &member).await.as_str());
    assert_eq!(
        (
            a["monthly_budget_cents"].clone(),
            a["daily_request_limit"].clone(),
            a["rate_limit_per_minute"].clone()
        ),
        (json!(300), json!(9), json!(30))
    );
    assert_eq!(a["systemPrompt"], "x");
    assert_eq!(a["protected"], false, "a clone is not protected: {a}");
    assert_eq!(
        a["set_by_role"],
        s.get(&path(&source, ""), &s.pat).await.body["agent"]["set_by_role"]
    );
    let strip = |v: &Value| -> Vec<Value> {
        let mut rows: Vec<Value> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let mut b = b.clone();
                for k in ["id", "created_at", "updated_at"] {
                    b.as_object_mut().unwrap().remove(k);
                }
                b
            })
            .collect();
        rows.sort_by_key(|b| b.to_string());
        rows
    };
    let theirs = s.get(&path(&source, ""), &s.pat).await.body["services"].clone();
    let ours = s.get(&path(&clone, ""), &s.pat).await.body["services"].clone();
    assert_eq!(strip(&theirs).len(), 2);
    assert_eq!(strip(&theirs), strip(&ours));
    // The clone's key works, within the copied binding rules.
    let r = s
        .request(
            &clone,
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "hi"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let r = s.request(&clone, "email", "send", email()).await;
    assert_eq!(r.body["status"], "approval_required", "{r:?}");
    // Without a name it is "<name> (copy)"; the source's key still works.
    let r = s.post(&path(&source, "/clone"), &s.pat, json!({})).await;
    assert_eq!(r.body["agent"]["name"], "test agent (copy)", "{r:?}");
    let r = s
        .post(
            &path(&source, "/clone"),
            &s.pat,
            json!({"name": "\u{202e}x"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        events(&s, &source)
            .await
            .contains(&"agent.cloned".to_owned())
    );
    assert!(
        events(&s, &clone)
            .await
            .contains(&"agent.created".to_owned())
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn transfer_hands_the_agent_to_a_member_with_a_new_key() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 500).await;
    let member = s.user_pat(Role::Member).await;
    let member_id = user_id(&s, &member).await;
    // Not yet the member's: they may not change it.
    let r = s
        .patch(&path(&agent, ""), &member, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    let r = s
        .patch(
            &path(&agent, "/transfer"),
            &s.pat,
            json!({"new_owner_user_id": member_id}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["agent"]["owner_user_id"], member_id.as_str());
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    assert_ne!(key, agent.key);
    let old = s.request(&agent, "email", "send", email()).await;
    assert_eq!(old.status, 401, "{old:?}");
    let new = TestAgent {
        id: agent.id.clone(),
        key,
    };
    let r = s.request(&new, "email", "send", email()).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    // Now the member owns it and may manage it.
    let r = s
        .patch(&path(&agent, ""), &member, json!({"name": "mine now"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        events(&s, &agent)
            .await
            .contains(&"agent.transferred".to_owned())
    );

    // Back to the owner, by email.
    let r = s
        .patch(
            &path(&agent, "/transfer"),
            &member,
            json!({"email": upivia_server::bootstrap::OWNER_EMAIL.to_uppercase()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Nobody of this organisation: 404, nothing changes; no target: 422.
    let other = s.other_org("Other").await;
    let stranger = user_id(&s, &other.pat).await;
    let r = s
        .patch(
            &path(&agent, "/transfer"),
            &s.pat,
            json!({"new_owner_user_id": stranger}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.patch(&path(&agent, "/transfer"), &s.pat, json!({})).await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .patch(
            &path(&agent, "/transfer"),
            &s.pat,
            json!({"user_id": "usr\u{0}"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
}

#[tokio::test]
async fn health_classifies_an_agents_own_requests() {
    let s = TestServer::start().await;
    let quiet = s.funded_agent("email", 1_000).await;
    let h = s.get(&path(&quiet, "/health"), &s.pat).await;
    assert_eq!(h.status, 200, "{h:?}");
    assert_eq!(h.body["health"], "idle");
    assert_eq!(h.body["agent_id"], quiet.id.as_str());
    assert_eq!(h.body["window"], "24h");
    assert!(h.body["last_activity_at"].is_null());

    let busy = s.agent(json!({})).await;
    s.enable(&busy, json!({"service_id": "email"})).await;
    for _ in 0..3 {
        let r = s.request(&busy, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
    let h = s.get(&path(&busy, "/health"), &s.pat).await;
    assert_eq!(h.body["health"], "healthy", "{h:?}");
    assert_eq!(h.body["error_rate"], 0.0);
    assert!(h.body["p50_latency_ms"].is_i64() && h.body["p95_latency_ms"].is_i64());
    assert!(h.body["last_activity_at"].is_string());

    let broken = s.agent(json!({})).await;
    s.enable(&broken, json!({"service_id": "email"})).await;
    for _ in 0..2 {
        let mut payload = email();
        payload["body"] = json!("sandbox-error");
        let r = s.request(&broken, "email", "send", payload).await;
        assert_eq!(r.body["status"], "failed", "{r:?}");
    }
    let h = s.get(&path(&broken, "/health?window=1h"), &s.pat).await;
    assert_eq!(h.body["health"], "failing", "{h:?}");
    assert_eq!(
        (h.body["error_rate"].clone(), h.body["window"].clone()),
        (json!(1.0), json!("1h"))
    );
    let r = s.get(&path(&broken, "/health?window=1y"), &s.pat).await;
    assert_eq!(r.status, 422, "{r:?}");

    let member = s.user_pat(Role::Member).await;
    let fleet = s.get("/api/v1/agents/health", &member).await;
    assert_eq!(fleet.status, 200, "{fleet:?}");
    let c = &fleet.body["counts"];
    assert_eq!(
        (
            c["idle"].clone(),
            c["healthy"].clone(),
            c["failing"].clone(),
            c["total"].clone()
        ),
        (json!(1), json!(1), json!(1), json!(3)),
        "{fleet:?}"
    );
    assert_eq!(fleet.body["agents"].as_array().unwrap().len(), 3);
    let other = s.other_org("Other").await;
    let theirs = s.get("/api/v1/agents/health", &other.pat).await;
    assert_eq!(theirs.body["agents"], json!([]), "{theirs:?}");
    assert_eq!(theirs.body["counts"]["total"], 0);
}

#[tokio::test]
async fn activity_pages_the_agents_ledger_and_verifies_the_chain() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    for _ in 0..3 {
        let r = s.request(&agent, "email", "send", email()).await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
    let other_agent = s.funded_agent("email", 100).await;
    s.request(&other_agent, "email", "send", email()).await;

    let first = s.get(&path(&agent, "/activity?limit=2"), &s.pat).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["logs"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["hasMore"], true);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let mut seen: Vec<Value> = first.body["logs"].as_array().unwrap().clone();
    let mut next = Some(cursor);
    while let Some(c) = next {
        let page = s
            .get(
                &path(&agent, &format!("/activity?limit=2&cursor={c}")),
                &s.pat,
            )
            .await;
        assert_eq!(page.status, 200, "{page:?}");
        seen.extend(page.body["logs"].as_array().unwrap().iter().cloned());
        next = page.body["nextCursor"].as_str().map(str::to_owned);
        assert_eq!(page.body["hasMore"], next.is_some());
    }
    // created + binding.enabled + three executed requests, all its own.
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|e| e["agent_id"] == agent.id.as_str()));
    let stats = &first.body["stats"];
    assert_eq!(
        (stats["requests"].clone(), stats["executed"].clone()),
        (json!(3), json!(3)),
        "{stats}"
    );
    assert!(stats["total_spent_cents"].as_i64().unwrap() > 0);
    assert_eq!(stats["total_spent_cents"], stats["month_spent_cents"]);
    assert_eq!(first.body["service_requests"].as_array().unwrap().len(), 3);
    assert_eq!(first.body["delegations"], json!([]));
    assert!(first.body.get("verification").is_none());

    let only = s.get(&path(&agent, "/activity?type=stats"), &s.pat).await;
    assert_eq!(only.body["logs"], json!([]), "{only:?}");
    assert!(only.body.get("service_requests").is_none());
    assert_eq!(
        s.get(&path(&agent, "/activity?type=nope"), &s.pat)
            .await
            .status,
        400
    );
    assert_eq!(
        s.get(&path(&agent, "/activity?cursor=bad"), &s.pat)
            .await
            .status,
        400
    );

    let checked = s.get(&path(&agent, "/activity?verify=1"), &s.pat).await;
    let v = &checked.body["verification"];
    assert_eq!(v["ok"], true, "{checked:?}");
    assert!(v["entries_checked"].as_i64().unwrap() >= 5, "{v}");
    let member = s.user_pat(Role::Member).await;
    assert_eq!(s.get(&path(&agent, "/activity"), &member).await.status, 200);
}

#[tokio::test]
async fn skills_show_enabled_services_and_removing_one_disables_it() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 500).await;
    s.enable(
        &agent,
        json!({"service_id": "sms", "operations": ["send", "read"]}),
    )
    .await;
    let r = s.get(&path(&agent, "/skills"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["workflows"], json!([]));
    let services: Vec<&str> = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service_id"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["email", "sms"], "{r:?}");
    let sms = &r.body["services"][1]["operations"];
    assert_eq!(sms.as_array().unwrap().len(), 2, "{r:?}");

    let r = delete(&s, &path(&agent, "/skills?workflow_id=wf_none"), &s.pat).await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        delete(&s, &path(&agent, "/skills"), &s.pat).await.status,
        400
    );
    let member = s.user_pat(Role::Member).await;
    let r = delete(&s, &path(&agent, "/skills?service_id=email"), &member).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = delete(&s, &path(&agent, "/skills?service_id=email"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["removed"], 1);
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["reason_code"], "service_not_enabled", "{r:?}");
}
