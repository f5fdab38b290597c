//! Devices (API.md §2.20) over HTTP: the heartbeat marks a chat session
//! live and hands over its queued commands once each, even to heartbeats
//! racing; the live list with its online flag and message feed; pause,
//! resume, rename (of the chat session itself) and attach; cwd commands
//! only for a live device; command status; the hard delete; and who gets
//! 404.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;
use upivia_server::model::Role;

use crate::support::*;

async fn session(s: &TestServer, token: &str, agent: &TestAgent, model: &str) -> String {
    let r = s
        .post(
            "/api/v1/chat/sessions",
            token,
            json!({"agent_id": agent.id, "model_id": model, "title": "Upivia TUI · devices"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

async fn heartbeat(s: &TestServer, token: &str, body: Value) -> Reply {
    s.post("/api/v1/devices/heartbeat", token, body).await
}

async fn queue(s: &TestServer, id: &str, content: &str) -> Reply {
    s.post(
        &format!("/api/v1/devices/sessions/{id}"),
        &s.pat,
        json!({"content": content}),
    )
    .await
}

fn ids_of(r: &Reply) -> Vec<String> {
    r.body["commands"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn listed<'a>(r: &'a Reply, id: &str) -> Option<&'a Value> {
    r.body["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .find(|v| v["id"] == id)
}

#[tokio::test]
async fn a_heartbeat_makes_a_session_live_and_hands_each_command_over_once() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"name": "Helper"})).await;
    let id = session(&s, &s.pat, &agent, "m1").await;
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(r.body, json!({"sessions": []}), "no heartbeat yet: {r:?}");

    let beat = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(beat.status, 200, "{beat:?}");
    assert_eq!(beat.body["ok"], true);
    assert_eq!(beat.body["commands"], json!([]));
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    let row = listed(&r, &id).unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(row["online"], true, "{row}");
    assert_eq!(row["paused"], false, "{row}");
    assert_eq!(row["agent_id"], agent.id.as_str());
    assert_eq!(row["title"], "Upivia TUI · devices");
    assert_eq!(row["cwd"], Value::Null);
    assert_eq!(row["recent_messages"], json!([]));
    assert!(row["last_heartbeat_at"].is_string(), "{row}");

    // Queued commands, handed over by exactly one of two racing heartbeats.
    let mut queued = Vec::new();
    for text in ["first", "second", "{\"message\":\"third\"}"] {
        let c = queue(&s, &id, text).await;
        assert_eq!(c.status, 200, "{c:?}");
        assert_eq!(c.body["command"]["status"], "queued");
        assert_eq!(c.body["command"]["content"], text);
        assert!(
            c.body["command"]["id"]
                .as_str()
                .unwrap()
                .starts_with("dcmd_"),
            "{c:?}"
        );
        assert!(c.body["command"]["created_at"].is_string());
        queued.push(c.body["command"]["id"].as_str().unwrap().to_owned());
    }
    let body = json!({"session_id": id});
    let (a, b) = tokio::join!(
        heartbeat(&s, &s.pat, body.clone()),
        heartbeat(&s, &s.pat, body.clone())
    );
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    let mut got = ids_of(&a);
    got.extend(ids_of(&b));
    let mut sorted = got.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), got.len(), "delivered twice: {a:?} {b:?}");
    assert_eq!(sorted, queued, "{a:?} {b:?}");
    let first = if ids_of(&a).is_empty() { &b } else { &a };
    assert_eq!(
        first.body["commands"][0]["content"], "first",
        "oldest first"
    );
    let again = heartbeat(&s, &s.pat, body.clone()).await;
    assert_eq!(again.body["commands"], json!([]), "{again:?}");
    let stored = s
        .column("SELECT status FROM device_commands ORDER BY created_at, id")
        .await;
    assert_eq!(stored, ["delivered", "delivered", "delivered"]);

    // The device reports what it ran.
    let done = s
        .patch(
            &format!("/api/v1/devices/commands/{}", queued[0]),
            &s.pat,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["command"]["status"], "done");
    assert_eq!(done.body["command"]["id"], queued[0].as_str());
    let failed = s
        .patch(
            &format!("/api/v1/devices/commands/{}", queued[1]),
            &s.pat,
            json!({"status": "failed"}),
        )
        .await;
    assert_eq!(failed.body["command"]["status"], "failed", "{failed:?}");

    // A heartbeat may carry the device's working directory; one without
    // keeps it.
    let r = heartbeat(
        &s,
        &s.pat,
        json!({"session_id": id, "cwd": "/home/dev/project"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    heartbeat(&s, &s.pat, body.clone()).await;
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(listed(&r, &id).unwrap()["cwd"], "/home/dev/project");

    // Quiet for two minutes: listed, offline. For eleven: not listed.
    s.clock.advance(Duration::minutes(2));
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(listed(&r, &id).unwrap()["online"], false, "{r:?}");
    s.clock.advance(Duration::minutes(9));
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert!(listed(&r, &id).is_none(), "{r:?}");
}

#[tokio::test]
async fn pause_holds_commands_rename_renames_the_chat_session_and_attach_queues_the_move() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &s.pat, &agent, "m1").await;
    let target = session(&s, &s.pat, &agent, "m2").await;
    assert_ne!(id, target);
    let path = format!("/api/v1/devices/sessions/{id}");

    let r = s.patch(&path, &s.pat, json!({"action": "pause"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["session"]["paused"], true, "{r:?}");
    let c = queue(&s, &id, "held").await;
    let held = c.body["command"]["id"].as_str().unwrap().to_owned();
    let beat = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(beat.body["paused"], true, "{beat:?}");
    assert_eq!(beat.body["commands"], json!([]), "paused: {beat:?}");
    let listed_now = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(listed(&listed_now, &id).unwrap()["paused"], true);
    let r = s.patch(&path, &s.pat, json!({"action": "resume"})).await;
    assert_eq!(r.body["session"]["paused"], false, "{r:?}");
    let beat = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(ids_of(&beat), [held], "{beat:?}");

    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"action": "rename", "title": "  Refactor  "}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["session"]["title"], "Refactor");
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    assert_eq!(shown.body["session"]["title"], "Refactor", "{shown:?}");
    for bad in [
        json!({"action": "rename"}),
        json!({"action": "rename", "title": " "}),
    ] {
        let r = s.patch(&path, &s.pat, bad).await;
        assert_eq!(r.status, 422, "{r:?}");
    }

    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"action": "attach", "target_session_id": target}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let content = r.body["command"]["content"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(content).unwrap();
    assert_eq!(
        parsed,
        json!({"type": "attach_session", "target_session_id": target})
    );
    let beat = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(beat.body["commands"][0]["content"], content, "{beat:?}");
    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"action": "attach", "target_session_id": id}),
        )
        .await;
    assert_eq!(r.status, 422, "not to itself: {r:?}");
    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"action": "attach", "target_session_id": "chs_nope"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.patch(&path, &s.pat, json!({"action": "attach"})).await;
    assert_eq!(r.status, 422, "{r:?}");
    // Another person's session is no target.
    let admin = s.user_pat(Role::Admin).await;
    let admins = session(&s, &admin, &agent, "m3").await;
    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"action": "attach", "target_session_id": admins}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    let r = s.patch(&path, &s.pat, json!({"action": "explode"})).await;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("explode"),
        "{r:?}"
    );
    let r = s.patch(&path, &s.pat, json!({})).await;
    assert_eq!(r.status, 422, "{r:?}");
}

#[tokio::test]
async fn cwd_asks_a_live_device_and_refuses_an_offline_one() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &s.pat, &agent, "m1").await;
    let path = format!("/api/v1/devices/sessions/{id}/cwd");
    let r = s.post(&path, &s.pat, json!({"action": "get"})).await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.code(), "device_offline");

    heartbeat(&s, &s.pat, json!({"session_id": id, "cwd": "/srv"})).await;
    let r = s.post(&path, &s.pat, json!({"action": "get"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["command"]["status"], "queued");
    assert_eq!(r.body["cwd"], "/srv");
    let get: Value = serde_json::from_str(r.body["command"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(get["type"], "local_tools_pending");
    assert_eq!(get["tools"][0]["tool_name"], "local_list_dirs");
    assert_eq!(get["tools"][0]["args"], json!({}));
    assert!(get["tools"][0]["tool_call_id"].is_string(), "{get}");

    let r = s
        .post(&path, &s.pat, json!({"action": "list", "path": "src"}))
        .await;
    let list: Value = serde_json::from_str(r.body["command"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(list["tools"][0]["tool_name"], "local_list_dirs");
    assert_eq!(list["tools"][0]["args"], json!({"path": "src"}));
    let r = s
        .post(&path, &s.pat, json!({"action": "set", "path": "/srv/app"}))
        .await;
    let set: Value = serde_json::from_str(r.body["command"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(set["tools"][0]["tool_name"], "local_set_cwd");
    assert_eq!(set["tools"][0]["args"], json!({"path": "/srv/app"}));
    let beat = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(ids_of(&beat).len(), 3, "{beat:?}");

    for bad in [
        json!({"action": "set"}),
        json!({"action": "set", "path": ""}),
        json!({"action": "chdir"}),
    ] {
        let r = s.post(&path, &s.pat, bad).await;
        assert_eq!(r.status, 422, "{r:?}");
    }
    // A minute and more without a heartbeat: offline again.
    s.clock.advance(Duration::seconds(61));
    let r = s.post(&path, &s.pat, json!({"action": "get"})).await;
    assert_eq!(r.status, 409, "{r:?}");
}

#[tokio::test]
async fn the_feed_shows_recent_messages_and_delete_removes_everything() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &s.pat, &agent, "m1").await;
    let keep = session(&s, &s.pat, &agent, "m2").await;
    for message in ["one", "two", "three"] {
        let r = s
            .http
            .post(format!("{}/api/v1/chat/turn", s.base))
            .bearer_auth(&s.pat)
            .json(&json!({"sessionId": id, "message": message}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap();
    }
    heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    let feed = listed(&r, &id).unwrap()["recent_messages"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(feed.len(), 5, "the last five of six: {feed:?}");
    assert_eq!(feed[0]["role"], "assistant", "{feed:?}");
    assert_eq!(feed[1]["content"], "two", "{feed:?}");
    assert_eq!(feed[4]["role"], "assistant", "{feed:?}");
    assert!(feed[4]["created_at"].is_string());

    let queued = queue(&s, &id, "pending").await;
    let command = queued.body["command"]["id"].as_str().unwrap().to_owned();
    let paused = s
        .patch(
            &format!("/api/v1/devices/sessions/{id}"),
            &s.pat,
            json!({"action": "pause"}),
        )
        .await;
    assert_eq!(paused.status, 200);
    let r = s
        .send(
            Method::DELETE,
            &format!("/api/v1/devices/sessions/{id}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["deleted"], true);
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    assert_eq!(shown.status, 404, "{shown:?}");
    let again = s
        .send(
            Method::DELETE,
            &format!("/api/v1/devices/sessions/{id}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(again.status, 404, "{again:?}");
    let r = s
        .patch(
            &format!("/api/v1/devices/commands/{command}"),
            &s.pat,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        s.column("SELECT session_id FROM chat_messages").await,
        Vec::<String>::new()
    );
    assert_eq!(
        s.column("SELECT session_id FROM device_sessions").await,
        Vec::<String>::new()
    );
    assert_eq!(
        s.column("SELECT id FROM device_commands").await,
        Vec::<String>::new()
    );
    assert_eq!(s.column("SELECT id FROM chat_sessions").await, [keep]);
}

#[tokio::test]
async fn only_the_sessions_owner_reaches_it() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &s.pat, &agent, "m1").await;
    heartbeat(&s, &s.pat, json!({"session_id": id})).await;
    let command = queue(&s, &id, "mine").await.body["command"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = s.user_pat(Role::Admin).await;
    let other = s.other_org("Elsewhere").await;
    for token in [&admin, &other.pat] {
        let r = heartbeat(&s, token, json!({"session_id": id})).await;
        assert_eq!(r.status, 404, "{r:?}");
        let r = s.get("/api/v1/devices/sessions", token).await;
        assert_eq!(r.body, json!({"sessions": []}), "{r:?}");
        let session_path = format!("/api/v1/devices/sessions/{id}");
        let attempts = [
            (
                Method::PATCH,
                session_path.clone(),
                json!({"action": "pause"}),
            ),
            (Method::POST, session_path.clone(), json!({"content": "x"})),
            (Method::DELETE, session_path.clone(), json!({})),
            (
                Method::POST,
                format!("{session_path}/cwd"),
                json!({"action": "get"}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/devices/commands/{command}"),
                json!({"status": "done"}),
            ),
        ];
        for (method, path, body) in attempts {
            let r = s.send(method.clone(), &path, Some(token), Some(body)).await;
            assert_eq!(r.status, 404, "{method} {path}: {r:?}");
        }
    }
    // Still there, untouched, for its owner.
    let r = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(listed(&r, &id).unwrap()["paused"], false, "{r:?}");
    // An agent key is not a person.
    let r = heartbeat(&s, &agent.key, json!({"session_id": id})).await;
    assert!(r.status == 401 || r.status == 403, "{r:?}");

    // Bad bodies.
    let r = heartbeat(&s, &s.pat, json!({})).await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = heartbeat(&s, &s.pat, json!({"session_id": "chs_nope"})).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = queue(&s, &id, &"x".repeat(32_001)).await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = queue(&s, &id, "").await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .post(&format!("/api/v1/devices/sessions/{id}"), &s.pat, json!({}))
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .patch(
            &format!("/api/v1/devices/commands/{command}"),
            &s.pat,
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .patch(
            "/api/v1/devices/commands/dcmd_nope",
            &s.pat,
            json!({"status": "done"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}
