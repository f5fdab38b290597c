//! Rooms and swarms (API.md §2.22) over HTTP: created, listed and read;
//! asked agents replying through governed chat turns (the sandbox model)
//! with each reply's cost in its metadata and the room's spend; the
//! room's budget cap refusing a reply and cancelling the queued ones; a
//! swarm's rounds and summary; who sees a room; and the refusals.

use std::time::Duration;

use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::*;

fn send_email_message() -> String {
    format!("please send an email {}", email())
}

/// An agent with email enabled, for the owner.
async fn emailer(s: &TestServer, name: &str) -> TestAgent {
    let agent = s.agent(json!({"name": name})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    agent
}

async fn room(s: &TestServer, token: &str, body: Value) -> Value {
    let r = s.post("/api/v1/rooms", token, body).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["room"].clone()
}

async fn read(s: &TestServer, id: &str) -> Value {
    let r = s.get(&format!("/api/v1/rooms/{id}"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// Reads the room until `done` holds of it (replies are made in the
/// background; the automation pass also picks up what is queued).
async fn until(s: &TestServer, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let body = read(s, id).await;
        if done(&body) {
            return body;
        }
        s.tick_automation().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("room {id} never had {what}: {}", read(s, id).await);
}

fn by(body: &Value, kind: &str) -> Vec<Value> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author_kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_room_is_created_listed_and_read() {
    let s = TestServer::start().await;
    let a = s.agent(json!({"name": "Ada"})).await;
    let b = s.agent(json!({"name": "Bo"})).await;
    let created = room(
        &s,
        &s.pat,
        json!({"title": " Launch plan ", "objective": "Plan the launch", "agent_ids": [a.id, b.id],
               "budget_cap_cents": null, "team_id": null}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("room_"), "{created}");
    assert_eq!(created["title"], "Launch plan");
    assert_eq!(created["status"], "active");
    assert_eq!(created["kind"], "room");
    assert_eq!(created["spent_cents"], 0);
    assert!(created["budget_cap_cents"].is_null());
    let participants = created["participants"].as_array().unwrap();
    // The opener first, then the agents in the order given.
    let kinds: Vec<_> = participants.iter().map(|p| p["kind"].clone()).collect();
    assert_eq!(kinds, [json!("user"), json!("agent"), json!("agent")]);
    assert_eq!(participants[1]["name"], "Ada");
    assert_eq!(participants[2]["status"], "active");

    let list = s.get("/api/v1/rooms", &s.pat).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["rooms"][0]["id"], id);
    let none = s.get("/api/v1/rooms?status=completed", &s.pat).await;
    assert_eq!(none.body["rooms"], json!([]));
    let bad = s.get("/api/v1/rooms?status=open", &s.pat).await;
    assert_eq!(bad.status, 400, "{bad:?}");

    let got = read(&s, id).await;
    assert_eq!(got["room"]["objective"], "Plan the launch");
    assert_eq!(got["messages"], json!([]));

    // A message without ask_agents queues nothing and is stored as sent.
    let r = s
        .post(
            &format!("/api/v1/rooms/{id}/messages"),
            &s.pat,
            json!({"body": "Notes for later"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["queued_replies"], 0);
    assert_eq!(r.body["message"]["body"], "Notes for later");
    s.tick_automation().await;
    let got = read(&s, id).await;
    assert_eq!(got["messages"].as_array().unwrap().len(), 1, "{got}");

    let snapshot = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(snapshot.body["fleet"]["rooms_active"], 1, "{snapshot:?}");
}

#[tokio::test]
async fn bad_rooms_are_refused_with_the_field_named() {
    let s = TestServer::start().await;
    let a = s.agent(json!({})).await;
    let cases = [
        (json!({"objective": "x"}), 422, "title"),
        (json!({"title": "   "}), 422, "title"),
        (json!({"title": "x".repeat(201)}), 422, "title"),
        (
            json!({"title": "t", "agent_ids": "agt_1"}),
            422,
            "agent_ids",
        ),
        (json!({"title": "t", "agent_ids": [7]}), 422, "agent_ids"),
        (
            json!({"title": "t", "budget_cap_cents": -1}),
            422,
            "budget_cap_cents",
        ),
        (
            json!({"title": "t", "budget_cap_cents": "5"}),
            422,
            "budget_cap_cents",
        ),
        (
            json!({"title": "t", "agent_ids": ["agt_nope"]}),
            404,
            "agent",
        ),
        (json!({"title": "t", "team_id": "team_nope"}), 404, "team"),
    ];
    for (body, status, named) in cases {
        let r = s.post("/api/v1/rooms", &s.pat, body.clone()).await;
        assert_eq!(r.status, status, "{body} → {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(named),
            "{body} → {r:?}"
        );
    }
    let swarms = [
        (json!({"objective": "x", "agent_ids": [a.id]}), "agent_ids"),
        (
            json!({"objective": "x", "agent_ids": [a.id, a.id]}),
            "agent_ids",
        ),
        (json!({"agent_ids": [a.id, a.id]}), "objective"),
        (
            json!({"objective": "x", "agent_ids": [a.id, "b"], "rounds": 0}),
            "rounds",
        ),
        (
            json!({"objective": "x", "agent_ids": [a.id, "b"], "rounds": 11}),
            "rounds",
        ),
    ];
    for (body, named) in swarms {
        let r = s.post("/api/v1/swarms", &s.pat, body.clone()).await;
        assert_eq!(r.status, 422, "{body} → {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(named),
            "{body} → {r:?}"
        );
    }
    // Nothing was stored by any of them.
    let list = s.get("/api/v1/rooms", &s.pat).await;
    assert_eq!(list.body["rooms"], json!([]), "{list:?}");

    let id = room(&s, &s.pat, json!({"title": "t"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/rooms/{id}/messages");
    for body in [
        json!({}),
        json!({"body": "  "}),
        json!({"body": "x", "ask_agents": "yes"}),
    ] {
        let r = s.post(&path, &s.pat, body.clone()).await;
        assert_eq!(r.status, 422, "{body} → {r:?}");
    }
    let r = s
        .post(
            "/api/v1/rooms/room_nope/messages",
            &s.pat,
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn asked_agents_reply_through_governed_turns_and_their_cost_is_recorded() {
    let s = TestServer::start().await;
    s.credit(500).await;
    let a = emailer(&s, "Ada").await;
    let b = emailer(&s, "Bo").await;
    let id = room(
        &s,
        &s.pat,
        json!({"title": "Ops", "agent_ids": [a.id, b.id]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = s.balance().await;
    let r = s
        .post(
            &format!("/api/v1/rooms/{id}/messages"),
            &s.pat,
            json!({"body": send_email_message(), "ask_agents": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["queued_replies"], 2);

    let body = until(&s, &id, "two replies", |b| by(b, "agent").len() == 2).await;
    let replies = by(&body, "agent");
    // In the order the agents joined.
    assert_eq!(replies[0]["author_name"], "Ada");
    assert_eq!(replies[1]["author_name"], "Bo");
    let mut total = 0;
    for reply in &replies {
        let cost = reply["metadata"]["cost_cents"].as_i64().unwrap();
        assert!(cost > 0, "{reply}");
        total += cost;
        // Each reply's requests are the agent's own, executed and charged.
        let requests = reply["metadata"]["request_ids"].as_array().unwrap();
        assert!(!requests.is_empty(), "{reply}");
        let agent = if reply["author_name"] == "Ada" {
            &a
        } else {
            &b
        };
        for request in requests {
            let shown = s
                .get(
                    &format!("/api/v1/service-requests/{}", request.as_str().unwrap()),
                    &agent.key,
                )
                .await;
            assert_eq!(shown.status, 200, "{shown:?}");
            assert_eq!(shown.body["status"], "executed", "{shown:?}");
        }
    }
    assert_eq!(body["room"]["spent_cents"], total, "{body}");
    assert_eq!(before - s.balance().await, total);
    s.ledger_ok().await;

    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    assert!(audit.body.to_string().contains("room.created"), "{audit:?}");
}

#[tokio::test]
async fn the_room_cap_refuses_a_reply_and_cancels_the_queued_ones() {
    let s = TestServer::start().await;
    s.credit(500).await;
    let a = emailer(&s, "Ada").await;
    let b = emailer(&s, "Bo").await;
    let id = room(
        &s,
        &s.pat,
        json!({"title": "Capped", "agent_ids": [a.id, b.id], "budget_cap_cents": 0}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = s.balance().await;
    let r = s
        .post(
            &format!("/api/v1/rooms/{id}/messages"),
            &s.pat,
            json!({"body": send_email_message(), "ask_agents": true}),
        )
        .await;
    assert_eq!(r.body["queued_replies"], 2, "{r:?}");
    let body = until(&s, &id, "the cap notice", |b| !by(b, "system").is_empty()).await;
    // A few more passes: the second reply must stay cancelled.
    for _ in 0..3 {
        s.tick_automation().await;
    }
    let body_after = read(&s, &id).await;
    assert_eq!(
        body_after["messages"], body["messages"],
        "nothing more came"
    );
    let replies = by(&body, "agent");
    assert_eq!(replies.len(), 1, "{body}");
    assert_eq!(replies[0]["author_name"], "Ada");
    assert_eq!(replies[0]["metadata"]["cost_cents"], 0);
    let notice = &by(&body, "system")[0];
    assert!(
        notice["body"].as_str().unwrap().contains("budget cap"),
        "{notice}"
    );
    assert_eq!(s.balance().await, before, "nothing was spent");
    assert_eq!(body["room"]["spent_cents"], 0);
    // The refused request is the agent's, blocked for the room's budget.
    let request = replies[0]["metadata"]["request_ids"][0].as_str().unwrap();
    let shown = s
        .get(&format!("/api/v1/service-requests/{request}"), &a.key)
        .await;
    assert_eq!(shown.body["status"], "blocked", "{shown:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_swarm_runs_its_rounds_then_sums_up_and_completes() {
    let s = TestServer::start().await;
    let a = s.agent(json!({"name": "Ada"})).await;
    let b = s.agent(json!({"name": "Bo"})).await;
    let m = s.agent(json!({"name": "Mod"})).await;
    let r = s
        .post(
            "/api/v1/swarms",
            &s.pat,
            json!({"objective": "Pick a launch date", "agent_ids": [a.id, b.id],
                   "moderator_agent_id": m.id, "rounds": 2, "budget_cap_cents": null,
                   "team_id": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let swarm = &r.body["room"];
    assert_eq!(swarm["kind"], "swarm");
    assert_eq!(swarm["rounds"], 2);
    let id = swarm["id"].as_str().unwrap().to_owned();

    let body = until(&s, &id, "completed", |b| b["room"]["status"] == "completed").await;
    let replies = by(&body, "agent");
    let speakers: Vec<_> = replies.iter().map(|m| m["author_name"].clone()).collect();
    // Two rounds of Ada and Bo, then the moderator sums up.
    assert_eq!(
        speakers,
        [
            json!("Ada"),
            json!("Bo"),
            json!("Ada"),
            json!("Bo"),
            json!("Mod")
        ],
        "{body}"
    );
    assert_eq!(replies[4]["metadata"]["kind"], "summary", "{body}");
    assert_eq!(body["messages"][0]["body"], "Pick a launch date");

    // A completed swarm takes no more messages.
    let r = s
        .post(
            &format!("/api/v1/rooms/{id}/messages"),
            &s.pat,
            json!({"body": "one more?", "ask_agents": true}),
        )
        .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.body["error"]["code"], "room_not_active");
    let done = s.get("/api/v1/rooms?status=completed", &s.pat).await;
    assert_eq!(done.body["rooms"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_member_sees_only_the_rooms_they_opened_or_posted_in() {
    let s = TestServer::start().await;
    let member = s.user_pat(Role::Member).await;
    let owners = room(&s, &s.pat, json!({"title": "Owner's"})).await;
    let owners_id = owners["id"].as_str().unwrap();
    // Hidden from the member: listing, reading and posting.
    let list = s.get("/api/v1/rooms", &member).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["rooms"], json!([]));
    let r = s.get(&format!("/api/v1/rooms/{owners_id}"), &member).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/rooms/{owners_id}/messages"),
            &member,
            json!({"body": "hi"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // An agent the member may not manage cannot be brought in.
    let agent = s.agent(json!({})).await;
    let r = s
        .post(
            "/api/v1/rooms",
            &member,
            json!({"title": "Mine", "agent_ids": [agent.id]}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // Their own room they see; the owner (an admin) sees both.
    let mine = room(&s, &member, json!({"title": "Mine"})).await;
    let list = s.get("/api/v1/rooms", &member).await;
    assert_eq!(list.body["rooms"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["rooms"][0]["id"], mine["id"]);
    let list = s.get("/api/v1/rooms", &s.pat).await;
    assert_eq!(list.body["rooms"].as_array().unwrap().len(), 2);
    // Another organisation's person sees neither.
    let other = s.other_org("Other Ltd").await;
    let r = s
        .get(&format!("/api/v1/rooms/{owners_id}"), &other.pat)
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn a_reply_cut_off_by_a_crash_is_failed_not_made_again() {
    use upivia_server::store::{NewRoomTurn, PostRoomMessage, RoomMessage};
    let s = TestServer::start().await;
    s.credit(500).await;
    let a = emailer(&s, "Ada").await;
    let created = room(&s, &s.pat, json!({"title": "Crash", "agent_ids": [a.id]})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let org = upivia_server::ids::OrgId::from(
        s.platform
            .stores
            .identity
            .primary_org()
            .await
            .unwrap()
            .unwrap()
            .id,
    );
    // A reply queued as a post queues it, but not kicked: this test takes
    // the claim itself, as a node that then dies would.
    let now = s.platform.clock.now();
    let rooms = &s.platform.stores.rooms;
    rooms
        .post_room_message(PostRoomMessage {
            org_id: org,
            room_id: id.clone(),
            message: RoomMessage {
                id: format!("rmsg_{}", ulid::Ulid::new()),
                room_id: id.clone(),
                author_kind: "user".into(),
                author_id: None,
                author_name: "owner@upivia.local".into(),
                body: send_email_message(),
                metadata: json!({}),
                created_at: now,
            },
            poster: None,
            turns: vec![NewRoomTurn {
                id: format!("rturn_{}", ulid::Ulid::new()),
                agent_id: a.id.clone(),
                kind: "reply".into(),
                round: 0,
            }],
        })
        .await
        .unwrap();
    let lease = (now + time::Duration::seconds(1))
        .replace_nanosecond(0)
        .unwrap();
    let claimed = rooms.claim_room_turn(now, lease).await.unwrap();
    assert!(claimed.is_some(), "the reply was claimed");
    // The claim runs out; the next pass finds it and fails it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let body = until(&s, &id, "the failure notice", |b| {
        !by(b, "system").is_empty()
    })
    .await;
    assert!(
        by(&body, "agent").is_empty(),
        "the reply was not made: {body}"
    );
    let notice = &by(&body, "system")[0];
    assert!(
        notice["body"]
            .as_str()
            .unwrap()
            .contains("interrupted by a restart"),
        "{body}"
    );
    assert_eq!(notice["metadata"]["agent_id"], a.id.as_str());
    assert_eq!(body["room"]["spent_cents"], 0);
    // Nothing was sent on the agent's behalf.
    let usage = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", a.id), &s.pat)
        .await;
    assert!(!usage.body.to_string().contains("email.send"), "{usage:?}");
}
