//! The agent-requests inbox over HTTP: an agent raises a request with its
//! key and reads the human's response with it; members and admins see
//! what they may; a request is decided once, also when decisions race;
//! isolation between agents and organisations; bad input.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer};
use crate::teams::audit_events;

const PATH: &str = "/api/v1/agent-requests";

async fn raise(s: &TestServer, token: &str, body: Value) -> Reply {
    s.post(PATH, token, body).await
}

async fn raised(s: &TestServer, agent: &TestAgent, title: &str) -> String {
    let r = raise(
        s,
        &agent.key,
        json!({"request_type": "clarification", "body": "Which region?", "title": title}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["request"]["id"].as_str().unwrap().to_owned()
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_agent_asks_and_reads_the_answer_with_its_key() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"name": "Scout"})).await;
    let r = raise(
        &s,
        &agent.key,
        json!({"request_type": "secret_needed", "body": "I need the staging token",
               "title": "Staging token", "link": "https://example.com/runbook",
               "agent_id": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let req = &r.body["request"];
    let id = req["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("areq_"), "{r:?}");
    assert_eq!(req["status"], "pending");
    assert_eq!(req["agent_id"], agent.id.as_str());
    assert_eq!(req["agent_name"], "Scout");
    assert_eq!(req["request_type"], "secret_needed");
    assert_eq!(req["created_by"], format!("agent:{}", agent.id));

    // The owner's inbox shows it with the fields the terminal client reads.
    let inbox = s.get(PATH, &s.pat).await;
    assert_eq!(inbox.status, 200, "{inbox:?}");
    let row = &inbox.body["requests"][0];
    for (k, v) in [
        ("id", json!(id)),
        ("title", json!("Staging token")),
        ("request_type", json!("secret_needed")),
        ("status", json!("pending")),
        ("agent_name", json!("Scout")),
    ] {
        assert_eq!(row[k], v, "{k}: {inbox:?}");
    }

    // Resolved as the SDK sends it (both ids), with a response.
    let done = s
        .patch(
            PATH,
            &s.pat,
            json!({"request_id": id, "id": id, "action": "resolve", "response": "Use vault path x"}),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["ok"], true);
    assert_eq!(done.body["request"]["status"], "resolved");
    assert!(ids(&s.get(PATH, &s.pat).await).is_empty());

    // The agent reads the response with its key, in the list and by id.
    let mine = s.get(&format!("{PATH}?status=resolved"), &agent.key).await;
    assert_eq!(ids(&mine), [id.as_str()], "{mine:?}");
    assert_eq!(mine.body["requests"][0]["response"], "Use vault path x");
    let one = s.get(&format!("{PATH}/{id}"), &agent.key).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body["request"]["response"], "Use vault path x");
    assert_eq!(one.body["request"]["status"], "resolved");
    assert!(one.body["request"]["resolved_at"].is_string());
    assert_eq!(
        ids(&s.get(&format!("{PATH}?status=all"), &s.pat).await),
        [id.as_str()]
    );

    let created = audit_events(&s, "agent_request.created").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["actor"], format!("agent:{}", agent.id));
    assert_eq!(created[0]["agent_id"], agent.id.as_str());
    let resolved = audit_events(&s, "agent_request.resolved").await;
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(resolved[0]["details"]["agent_request_id"], id.as_str());
}

#[tokio::test]
async fn the_terminal_clients_reject_and_the_filters() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let (a, b, c) = (
        raised(&s, &agent, "a").await,
        raised(&s, &agent, "b").await,
        raised(&s, &agent, "c").await,
    );
    let blocked = raise(
        &s,
        &agent.key,
        json!({"request_type": "blocked", "body": "stuck"}),
    )
    .await;
    let d = blocked.body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(blocked.body["request"]["title"], "blocked", "default title");
    // The terminal client sends request_id only, and null for no response.
    let r = s
        .patch(
            PATH,
            &s.pat,
            json!({"request_id": a, "action": "reject", "response": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["request"]["status"], "rejected");
    assert_eq!(r.body["request"]["response"], Value::Null);
    // `id` alone works too.
    let r = s
        .patch(PATH, &s.pat, json!({"id": b, "action": "resolve"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(ids(&s.get(PATH, &s.pat).await)),
        sorted(vec![c.clone(), d.clone()])
    );
    assert_eq!(
        sorted(ids(&s
            .get(&format!("{PATH}?status=resolved"), &s.pat)
            .await)),
        sorted(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        ids(&s.get(&format!("{PATH}?status=rejected"), &s.pat).await),
        [a.as_str()]
    );
    assert_eq!(
        ids(&s.get(&format!("{PATH}?status=all"), &s.pat).await).len(),
        4
    );
    assert_eq!(
        ids(&s.get(&format!("{PATH}?type=blocked"), &s.pat).await),
        [d.as_str()]
    );
    assert_eq!(
        ids(&s
            .get(
                &format!("{PATH}?status=all&type=clarification&limit=2"),
                &s.pat
            )
            .await)
        .len(),
        2
    );
    assert_eq!(audit_events(&s, "agent_request.rejected").await.len(), 1);
}

#[tokio::test]
async fn a_request_is_decided_once() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = raised(&s, &agent, "once").await;
    let first = s
        .patch(
            PATH,
            &s.pat,
            json!({"request_id": id, "action": "resolve", "response": "yes"}),
        )
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    for action in ["resolve", "reject"] {
        let again = s
            .patch(
                PATH,
                &s.pat,
                json!({"request_id": id, "action": action, "response": "no"}),
            )
            .await;
        assert_eq!(
            (again.status.as_u16(), again.code()),
            (409, "request_already_resolved"),
            "{again:?}"
        );
    }
    let one = s.get(&format!("{PATH}/{id}"), &agent.key).await;
    assert_eq!(one.body["request"]["response"], "yes");
    assert_eq!(one.body["request"]["status"], "resolved");
}

#[tokio::test]
async fn concurrent_decisions_decide_once() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let admin = s.user_pat(Role::Admin).await;
    for round in 0..3 {
        let id = raised(&s, &agent, &format!("race {round}")).await;
        let calls = (0..8).map(|i| {
            let token = if i % 2 == 0 {
                s.pat.clone()
            } else {
                admin.clone()
            };
            let action = if i % 3 == 0 { "reject" } else { "resolve" };
            let body =
                json!({"request_id": id, "action": action, "response": format!("answer {i}")});
            let s = &s;
            async move { (i, action, s.patch(PATH, &token, body).await) }
        });
        let answers = futures::future::join_all(calls).await;
        let won: Vec<_> = answers.iter().filter(|(_, _, r)| r.status == 200).collect();
        assert_eq!(won.len(), 1, "round {round}: {answers:?}");
        for (_, _, r) in &answers {
            if r.status != 200 {
                assert_eq!(
                    (r.status.as_u16(), r.code()),
                    (409, "request_already_resolved"),
                    "{r:?}"
                );
            }
        }
        let (i, action, _) = won[0];
        let stored = s.get(&format!("{PATH}/{id}"), &agent.key).await;
        assert_eq!(stored.body["request"]["response"], format!("answer {i}"));
        let status = if *action == "reject" {
            "rejected"
        } else {
            "resolved"
        };
        assert_eq!(stored.body["request"]["status"], status);
        let decided: Vec<Value> = [
            audit_events(&s, "agent_request.resolved").await,
            audit_events(&s, "agent_request.rejected").await,
        ]
        .concat()
        .into_iter()
        .filter(|e| e["details"]["agent_request_id"] == id.as_str())
        .collect();
        assert_eq!(decided.len(), 1, "round {round}: {decided:?}");
    }
}

#[tokio::test]
async fn an_agent_sees_only_its_own_requests() {
    let s = TestServer::start().await;
    let a = s.agent(json!({"name": "A"})).await;
    let b = s.agent(json!({"name": "B"})).await;
    let id = raised(&s, &a, "mine").await;
    assert!(ids(&s.get(&format!("{PATH}?status=all"), &b.key).await).is_empty());
    let peek = s.get(&format!("{PATH}/{id}"), &b.key).await;
    assert_eq!(
        (peek.status.as_u16(), peek.code()),
        (404, "not_found"),
        "{peek:?}"
    );
    let as_other = raise(
        &s,
        &a.key,
        json!({"request_type": "approval", "body": "x", "agent_id": b.id}),
    )
    .await;
    assert_eq!(as_other.status, 403, "{as_other:?}");
    let as_self = raise(
        &s,
        &a.key,
        json!({"request_type": "approval", "body": "x", "agent_id": a.id}),
    )
    .await;
    assert_eq!(as_self.status, 200, "{as_self:?}");
    // An agent decides nothing.
    let decide = s
        .patch(PATH, &a.key, json!({"request_id": id, "action": "resolve"}))
        .await;
    assert_eq!(decide.status, 403, "{decide:?}");
    // Another organisation finds nothing.
    let other = s.other_org("Other Ltd").await;
    let theirs = s
        .post("/api/v1/agents", &other.pat, json!({"name": "theirs"}))
        .await;
    let their_key = theirs.body["api_key"].as_str().unwrap();
    for token in [other.pat.as_str(), their_key] {
        assert_eq!(s.get(&format!("{PATH}/{id}"), token).await.status, 404);
        let list = s.get(&format!("{PATH}?status=all"), token).await;
        assert_eq!(list.body["requests"], json!([]), "{list:?}");
    }
    let foreign = s
        .patch(
            PATH,
            &other.pat,
            json!({"request_id": id, "action": "resolve"}),
        )
        .await;
    assert_eq!(
        (foreign.status.as_u16(), foreign.code()),
        (404, "not_found")
    );
    let for_ours = raise(
        &s,
        &other.pat,
        json!({"request_type": "approval", "body": "x", "agent_id": a.id}),
    )
    .await;
    assert_eq!(for_ours.status, 404, "{for_ours:?}");
    assert_eq!(ids(&s.get(PATH, &s.pat).await).len(), 2);
}

#[tokio::test]
async fn members_see_and_decide_the_requests_of_their_agents() {
    let s = TestServer::start().await;
    let member = s.user_pat(Role::Member).await;
    let admin = s.user_pat(Role::Admin).await;
    let owners_agent = s.agent(json!({"name": "owner's"})).await;
    let r = s
        .post("/api/v1/agents", &member, json!({"name": "member's"}))
        .await;
    let members_agent = r.body["agent"]["id"].as_str().unwrap().to_owned();
    let members_key = r.body["api_key"].as_str().unwrap().to_owned();

    // A member raises for their own agent, not for another's.
    let own = raise(
        &s,
        &member,
        json!({"request_type": "plan_change", "body": "switch plan", "agent_id": members_agent}),
    )
    .await;
    assert_eq!(own.status, 200, "{own:?}");
    assert_eq!(own.body["request"]["agent_name"], "member's");
    let own_id = own.body["request"]["id"].as_str().unwrap().to_owned();
    let not_theirs = raise(
        &s,
        &member,
        json!({"request_type": "plan_change", "body": "x", "agent_id": owners_agent.id}),
    )
    .await;
    assert_eq!(not_theirs.status, 403, "{not_theirs:?}");
    let from_agent = TestAgent {
        id: members_agent.clone(),
        key: members_key,
    };
    let agents_own = raised(&s, &from_agent, "from the agent").await;
    let owners = raised(&s, &owners_agent, "owner's").await;

    // The member sees their agent's two, the admin all three.
    let mut seen = ids(&s.get(PATH, &member).await);
    seen.sort();
    let mut want = vec![own_id.clone(), agents_own.clone()];
    want.sort();
    assert_eq!(seen, want);
    assert_eq!(ids(&s.get(PATH, &admin).await).len(), 3);
    // Another's request is not found for the member; their own they decide.
    assert_eq!(
        s.get(&format!("{PATH}/{owners}"), &member).await.status,
        404
    );
    let denied = s
        .patch(
            PATH,
            &member,
            json!({"request_id": owners, "action": "resolve"}),
        )
        .await;
    assert_eq!(denied.status, 404, "{denied:?}");
    let ok = s
        .patch(
            PATH,
            &member,
            json!({"request_id": agents_own, "action": "resolve", "response": "ok"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let by_admin = s
        .patch(
            PATH,
            &admin,
            json!({"request_id": owners, "action": "reject"}),
        )
        .await;
    assert_eq!(by_admin.status, 200, "{by_admin:?}");
    // A request with no agent: seen by its author and admins.
    let loose = raise(
        &s,
        &member,
        json!({"request_type": "blocked", "body": "no agent"}),
    )
    .await;
    assert_eq!(loose.status, 200, "{loose:?}");
    assert_eq!(loose.body["request"]["agent_id"], Value::Null);
    let loose_id = loose.body["request"]["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("{PATH}/{loose_id}"), &member).await.status,
        200
    );
    assert_eq!(
        s.get(&format!("{PATH}/{loose_id}"), &admin).await.status,
        200
    );
}

#[tokio::test]
async fn bad_inbox_input_gets_the_envelope_with_its_code() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let creates: Vec<Value> = vec![
        json!({}),
        json!({"body": "x"}),
        json!({"request_type": "gossip", "body": "x"}),
        json!({"request_type": 3, "body": "x"}),
        json!({"request_type": "blocked"}),
        json!({"request_type": "blocked", "body": ""}),
        json!({"request_type": "blocked", "body": 5}),
        json!({"request_type": "blocked", "body": "a\u{0}b"}),
        json!({"request_type": "blocked", "body": "x".repeat(16 * 1024 + 1)}),
        json!({"request_type": "blocked", "body": "x", "title": "a\u{1b}[31m"}),
        json!({"request_type": "blocked", "body": "x", "title": "t\u{0}"}),
        json!({"request_type": "blocked", "body": "x", "link": "javascript:alert(1)"}),
        json!({"request_type": "blocked", "body": "x", "link": "//evil.example"}),
        json!({"request_type": "blocked", "body": "x", "agent_id": 7}),
    ];
    for body in creates {
        for token in [&agent.key, &s.pat] {
            let r = raise(&s, token, body.clone()).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (422, "invalid_payload"),
                "{body}: {r:?}"
            );
        }
    }
    let unknown_agent = raise(
        &s,
        &s.pat,
        json!({"request_type": "blocked", "body": "x", "agent_id": "agt_nope"}),
    )
    .await;
    assert_eq!(unknown_agent.status, 404, "{unknown_agent:?}");
    for q in [
        "?status=open",
        "?type=gossip",
        "?limit=0",
        "?limit=501",
        "?limit=x",
    ] {
        let r = s.get(&format!("{PATH}{q}"), &s.pat).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_request"),
            "{q}: {r:?}"
        );
    }
    let id = raised(&s, &agent, "t").await;
    let resolves: Vec<Value> = vec![
        json!({}),
        json!({"action": "resolve"}),
        json!({"request_id": 5}),
        json!({"request_id": id, "action": "approve"}),
        json!({"request_id": id, "response": 3}),
        json!({"request_id": id, "response": "a\u{0}"}),
    ];
    for body in resolves {
        let r = s.patch(PATH, &s.pat, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{body}: {r:?}"
        );
    }
    let missing = s
        .patch(PATH, &s.pat, json!({"request_id": "areq_nope"}))
        .await;
    assert_eq!(
        (missing.status.as_u16(), missing.code()),
        (404, "not_found")
    );
    assert_eq!(
        s.get(&format!("{PATH}/areq_nope"), &s.pat).await.status,
        404
    );
    let unauth = s.send(Method::GET, PATH, None, None).await;
    assert_eq!(unauth.status, 401);
    // Nothing was raised by the refused calls.
    assert_eq!(
        ids(&s.get(&format!("{PATH}?status=all"), &s.pat).await),
        [id]
    );
}
