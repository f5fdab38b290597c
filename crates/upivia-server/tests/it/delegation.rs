//! Delegation over HTTP: a parent agent delegates a task to its child,
//! the child moves it through the state machine and reports files and a
//! result; every refused move, both sides; who may read and act (agents,
//! members, other organisations); bad input; the task's budget cap, also
//! under concurrent requests; reattach with `since`; `execute_now` running the child's loop.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer, email};
use crate::teams::audit_events;

struct Family {
    parent: TestAgent,
    child: TestAgent,
}

/// A funded organisation with a parent (email and sms enabled) and the
/// child it spawned with both and 500 cents.
async fn family(s: &TestServer) -> Family {
    s.credit(1000).await;
    let parent = s.agent(json!({"name": "parent"})).await;
    s.enable(&parent, json!({"service_id": "email"})).await;
    s.enable(&parent, json!({"service_id": "sms"})).await;
    let child = s
        .spawn_child(&parent, "child", json!(["email", "sms"]), 500)
        .await;
    Family { parent, child }
}

fn tasks_path(agent: &str) -> String {
    format!("/api/v1/agents/{agent}/delegated-tasks")
}

fn task_path(agent: &str, task: &str) -> String {
    format!("/api/v1/agents/{agent}/delegated-tasks/{task}")
}

async fn create(s: &TestServer, f: &Family, extra: Value) -> Reply {
    let mut body = json!({
        "child_agent_id": f.child.id,
        "objective": "Email the weekly report",
        "budget_cap_cents": null,
        "permissions": null,
        "model_id": null,
        "execute_now": null,
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    s.post(&tasks_path(&f.parent.id), &f.parent.key, body).await
}

async fn task(s: &TestServer, f: &Family, extra: Value) -> String {
    let r = create(s, f, extra).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["task"]["id"].as_str().unwrap().to_owned()
}

async fn set(s: &TestServer, token: &str, agent: &str, task: &str, status: &str) -> Reply {
    s.patch(&task_path(agent, task), token, json!({"status": status}))
        .await
}

/// Moves a fresh task to `status` the way the sides do.
async fn task_at(s: &TestServer, f: &Family, status: &str) -> String {
    let id = task(s, f, json!({})).await;
    let child = |st: &'static str| (f.child.key.clone(), f.child.id.clone(), st);
    let steps: Vec<(String, String, &str)> = match status {
        "pending" => vec![],
        "accepted" => vec![child("accepted")],
        "in_progress" => vec![child("accepted"), child("in_progress")],
        "completed" => vec![child("accepted"), child("in_progress"), child("completed")],
        "failed" => vec![child("accepted"), child("in_progress"), child("failed")],
        "cancelled" => vec![(f.parent.key.clone(), f.parent.id.clone(), "cancelled")],
        other => panic!("no status {other}"),
    };
    for (key, agent, st) in steps {
        let r = set(s, &key, &agent, &id, st).await;
        assert_eq!(r.status, 200, "{st}: {r:?}");
    }
    id
}

async fn request_under(s: &TestServer, agent: &TestAgent, task: &str, op: &str) -> Reply {
    let (service, operation, payload) = match op {
        "email" => ("email", "send", email()),
        _ => (
            "sms",
            "send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "hi"}),
        ),
    };
    s.post(
        "/api/v1/service-requests",
        &agent.key,
        json!({"service": service, "operation": operation, "payload": payload,
               "metadata": {"delegated_task_id": task}}),
    )
    .await
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("{r:?}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_parent_delegates_and_the_child_carries_the_task_to_completion() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let r = create(
        &s,
        &f,
        json!({"budget_cap_cents": 50, "permissions": ["email.send"], "model_id": "m-1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let t = &r.body["task"];
    let id = t["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dtk_"), "{id}");
    assert_eq!(t["status"], "pending");
    assert_eq!(t["parent_agent_id"], f.parent.id.as_str());
    assert_eq!(t["child_agent_id"], f.child.id.as_str());
    assert_eq!(t["objective"], "Email the weekly report");
    assert_eq!(t["budget_cap_cents"], 50);
    assert_eq!(t["spent_cents"], 0);
    assert_eq!(t["permissions"], json!(["email.send"]));
    assert_eq!(t["model_id"], "m-1");
    assert_eq!(t["result"], Value::Null);

    let created = s.get(&tasks_path(&f.parent.id), &f.parent.key).await;
    assert_eq!(ids(&created), vec![id.clone()]);
    let received = s
        .get(
            &format!("{}?direction=incoming", tasks_path(&f.child.id)),
            &f.child.key,
        )
        .await;
    assert_eq!(ids(&received), vec![id.clone()]);
    let none = s
        .get(
            &format!("{}?direction=received", tasks_path(&f.parent.id)),
            &f.parent.key,
        )
        .await;
    assert!(ids(&none).is_empty(), "{none:?}");

    for status in ["accepted", "in_progress"] {
        let r = set(&s, &f.child.key, &f.child.id, &id, status).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["task"]["status"], status);
    }
    let sent = request_under(&s, &f.child, &id, "email").await;
    assert_eq!(sent.body["status"], "executed", "{sent:?}");
    let done = s
        .patch(
            &task_path(&f.child.id, &id),
            &f.child.key,
            json!({"status": "completed", "result": {"sent": 1},
                   "file_writes": [{"path": "reports/week.md", "bytes": 120}]}),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.body["task"]["status"], "completed");
    assert_eq!(done.body["task"]["result"], json!({"sent": 1}));
    assert_eq!(done.body["task"]["spent_cents"], 1);

    // The parent reads it; the owner reads it through either side.
    let read = s.get(&task_path(&f.parent.id, &id), &f.parent.key).await;
    assert_eq!(read.body["task"]["result"], json!({"sent": 1}), "{read:?}");
    let read = s.get(&task_path(&f.child.id, &id), &s.pat).await;
    assert_eq!(read.body["task"]["status"], "completed", "{read:?}");

    for kind in [
        "delegated_task.created",
        "delegated_task.accepted",
        "delegated_task.in_progress",
        "delegated_task.completed",
    ] {
        let events = audit_events(&s, kind).await;
        assert_eq!(events.len(), 1, "{kind}: {events:?}");
        assert_eq!(events[0]["details"]["delegated_task_id"], id.as_str());
    }
    let activity = s
        .get(
            &format!("/api/v1/agents/{}/activity?type=delegations", f.parent.id),
            &s.pat,
        )
        .await;
    assert_eq!(activity.status, 200, "{activity:?}");
    assert_eq!(activity.body["delegations"][0]["id"], id.as_str());
    assert_eq!(activity.body["delegations"][0]["direction"], "created");
    let activity = s
        .get(
            &format!("/api/v1/agents/{}/activity?type=delegations", f.child.id),
            &s.pat,
        )
        .await;
    assert_eq!(activity.body["delegations"][0]["direction"], "received");
    s.ledger_ok().await;
}

/// The allowed moves, written out by hand.
const ALLOWED: &[(&str, &str, &str)] = &[
    ("child", "pending", "accepted"),
    ("child", "accepted", "in_progress"),
    ("child", "in_progress", "completed"),
    ("child", "in_progress", "failed"),
    ("parent", "pending", "cancelled"),
    ("parent", "accepted", "cancelled"),
    ("parent", "in_progress", "cancelled"),
];

const STATUSES: [&str; 6] = [
    "pending",
    "accepted",
    "in_progress",
    "completed",
    "failed",
    "cancelled",
];

#[tokio::test]
async fn every_move_of_either_side_is_allowed_or_refused_as_the_machine_says() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let mut failures = Vec::new();
    for from in STATUSES {
        for to in STATUSES {
            for side in ["parent", "child"] {
                let id = task_at(&s, &f, from).await;
                let agent = if side == "parent" {
                    &f.parent
                } else {
                    &f.child
                };
                let r = set(&s, &agent.key, &agent.id, &id, to).await;
                let owner = match to {
                    "cancelled" => Some("parent"),
                    "pending" => None,
                    _ => Some("child"),
                };
                let (status, code) = if ALLOWED.contains(&(side, from, to)) {
                    (200, "")
                } else if owner.is_some_and(|o| o != side) {
                    (403, "wrong_side")
                } else {
                    (409, "invalid_transition")
                };
                let message = r.body["error"]["message"].as_str().unwrap_or("");
                let names_both = status != 409
                    || (message.contains(&format!("from {from}")) && message.contains(to));
                if r.status != status || r.code() != code || !names_both {
                    failures.push(format!("{side} {from} -> {to}: {} {}", r.status, r.body));
                }
                let now = s.get(&task_path(&agent.id, &id), &agent.key).await;
                let want = if status == 200 { to } else { from };
                if now.body["task"]["status"] != want {
                    failures.push(format!("{side} {from} -> {to}: left at {}", now.body));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn of_two_racing_moves_exactly_one_wins() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let admin = s.user_pat(Role::Admin).await;
    for (status, agent) in [("accepted", &f.child), ("cancelled", &f.parent)] {
        for _ in 0..4 {
            let id = task(&s, &f, json!({})).await;
            // The agent's key and an admin acting for the same side.
            let (a, b) = tokio::join!(
                set(&s, &agent.key, &agent.id, &id, status),
                set(&s, &admin, &agent.id, &id, status),
            );
            let mut statuses = [a.status.as_u16(), b.status.as_u16()];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
            let loser = if a.status == 409 { &a } else { &b };
            assert_eq!(loser.code(), "invalid_transition", "{loser:?}");
            let back = s
                .get(&format!("/api/v1/delegated-tasks/{id}"), &s.pat)
                .await;
            assert_eq!(back.body["task"]["status"], status);
            // The creation and the one winning move.
            assert_eq!(back.body["last_seq"], 2, "{back:?}");
            let moves = audit_events(&s, &format!("delegated_task.{status}")).await;
            let of_task = moves
                .iter()
                .filter(|e| e["details"]["delegated_task_id"] == id.as_str())
                .count();
            assert_eq!(of_task, 1, "{moves:?}");
        }
    }
}

#[tokio::test]
async fn users_act_for_a_side_only_when_they_may_manage_its_agent() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let id = task(&s, &f, json!({})).await;
    let member = s.user_pat(Role::Member).await;
    let admin = s.user_pat(Role::Admin).await;
    let other = s.other_org("Elsewhere").await;

    // Any member sees the agents' lists and reattaches; only managers act.
    let listed = s.get(&tasks_path(&f.parent.id), &member).await;
    assert_eq!(ids(&listed), vec![id.clone()], "{listed:?}");
    let r = s
        .get(&format!("/api/v1/delegated-tasks/{id}"), &member)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s.get(&task_path(&f.child.id, &id), &member).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = set(&s, &member, &f.child.id, &id, "accepted").await;
    assert_eq!(r.status, 403, "{r:?}");

    // The admin acts as the child, the owner as the parent.
    let r = set(&s, &admin, &f.child.id, &id, "accepted").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = set(&s, &admin, &f.child.id, &id, "cancelled").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "wrong_side"), "{r:?}");
    let r = set(&s, &s.pat, &f.parent.id, &id, "cancelled").await;
    assert_eq!(r.status, 200, "{r:?}");
    let cancelled = audit_events(&s, "delegated_task.cancelled").await;
    assert!(cancelled[0]["actor"].as_str().unwrap().starts_with("user:"));

    // Another organisation finds nothing, and a user cannot create.
    for path in [
        tasks_path(&f.parent.id),
        task_path(&f.parent.id, &id),
        format!("/api/v1/delegated-tasks/{id}"),
    ] {
        let r = s.get(&path, &other.pat).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(!r.body.to_string().contains(&f.parent.id), "{r:?}");
    }
    let r = s
        .post(
            &tasks_path(&f.parent.id),
            &s.pat,
            json!({"child_agent_id": f.child.id, "objective": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
}

#[tokio::test]
async fn an_agent_never_reads_or_moves_tasks_it_is_not_part_of() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let id = task(&s, &f, json!({})).await;
    let stranger = s.agent(json!({"name": "stranger"})).await;
    let other = s.other_org("Other Co").await;
    let foreign = s
        .post("/api/v1/agents", &other.pat, json!({"name": "foreign"}))
        .await;
    let foreign_key = foreign.body["api_key"].as_str().unwrap().to_owned();
    let foreign_id = foreign.body["agent"]["id"].as_str().unwrap().to_owned();

    // A stranger of the organisation: its own path finds no such task,
    // another agent's path is refused.
    let r = s.get(&task_path(&stranger.id, &id), &stranger.key).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = set(&s, &stranger.key, &stranger.id, &id, "accepted").await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.get(&task_path(&f.child.id, &id), &stranger.key).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s.get(&tasks_path(&f.parent.id), &stranger.key).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .get(&format!("/api/v1/delegated-tasks/{id}"), &stranger.key)
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let own = s.get(&tasks_path(&stranger.id), &stranger.key).await;
    assert!(ids(&own).is_empty(), "{own:?}");

    // Another organisation's agent: 404 on every path, and its own lists
    // are empty.
    for path in [
        tasks_path(&f.parent.id),
        task_path(&f.parent.id, &id),
        task_path(&foreign_id, &id),
        format!("/api/v1/delegated-tasks/{id}"),
    ] {
        let r = s.get(&path, &foreign_key).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let own = s
        .get(
            &format!("{}?direction=received", tasks_path(&foreign_id)),
            &foreign_key,
        )
        .await;
    assert!(ids(&own).is_empty(), "{own:?}");
    // Nor can it delegate to the first organisation's agent.
    let r = s
        .post(
            &tasks_path(&foreign_id),
            &foreign_key,
            json!({"child_agent_id": f.child.id, "objective": "x"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "child_agent_not_found"),
        "{r:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_precise_code_and_creates_nothing() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let stranger = s.agent(json!({"name": "not a child"})).await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"child_agent_id": null}),
            422,
            "invalid_payload",
            "child_agent_id is required",
        ),
        (
            json!({"objective": null}),
            422,
            "invalid_payload",
            "objective",
        ),
        (
            json!({"objective": "   "}),
            422,
            "invalid_payload",
            "objective",
        ),
        (
            json!({"objective": "x".repeat(17 * 1024)}),
            422,
            "invalid_payload",
            "objective",
        ),
        (
            json!({"budget_cap_cents": -1}),
            422,
            "invalid_payload",
            "budget_cap_cents",
        ),
        (
            json!({"budget_cap_cents": 1.5}),
            422,
            "invalid_payload",
            "budget_cap_cents",
        ),
        (
            json!({"budget_cap_cents": "10"}),
            422,
            "invalid_payload",
            "budget_cap_cents",
        ),
        (
            json!({"permissions": "email.send"}),
            422,
            "invalid_payload",
            "permissions",
        ),
        (
            json!({"permissions": [7]}),
            422,
            "invalid_payload",
            "permissions",
        ),
        (
            json!({"permissions": ["email.teleport"]}),
            422,
            "unknown_permission",
            "email.teleport",
        ),
        (
            json!({"permissions": ["nonsense"]}),
            422,
            "unknown_permission",
            "nonsense",
        ),
        (
            json!({"permissions": ["mms.send"]}),
            422,
            "permission_not_enabled",
            "mms.send",
        ),
        (
            json!({"execute_now": "yes"}),
            422,
            "invalid_payload",
            "execute_now",
        ),
        (
            json!({"child_agent_id": "agt_doesnotexist"}),
            404,
            "child_agent_not_found",
            "agt_doesnotexist",
        ),
        (
            json!({"child_agent_id": stranger.id}),
            403,
            "not_a_child_agent",
            "not a child",
        ),
        (
            json!({"child_agent_id": f.parent.id}),
            403,
            "not_a_child_agent",
            "not a child",
        ),
    ];
    for (extra, status, code, words) in cases {
        let r = create(&s, &f, extra.clone()).await;
        let message = r.body["error"]["message"].as_str().unwrap_or("");
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{extra}: {r:?}"
        );
        assert!(message.contains(words), "{extra}: {message}");
    }
    // Another agent's path, with the parent's key.
    let r = s
        .post(
            &tasks_path(&f.child.id),
            &f.parent.key,
            json!({"child_agent_id": f.child.id, "objective": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let listed = s.get(&tasks_path(&f.parent.id), &f.parent.key).await;
    assert!(ids(&listed).is_empty(), "{listed:?}");

    // Queries and updates.
    let id = task(&s, &f, json!({})).await;
    for query in ["direction=sideways", "status=done", "limit=0", "limit=x"] {
        let r = s
            .get(
                &format!("{}?{query}", tasks_path(&f.parent.id)),
                &f.parent.key,
            )
            .await;
        assert_eq!(r.status, 422, "{query}: {r:?}");
        assert!(r.body["error"]["code"].is_string());
    }
    for since in ["-1", "abc", "1.5"] {
        let r = s
            .get(
                &format!("/api/v1/delegated-tasks/{id}?since={since}"),
                &f.child.key,
            )
            .await;
        assert_eq!(r.status, 422, "{since}: {r:?}");
    }
    let patches = [
        json!({}),
        json!({"status": "done"}),
        json!({"status": 3}),
        json!({"file_writes": [{"bytes": 3}]}),
        json!({"file_writes": [{"path": ""}]}),
        json!({"file_writes": "a.txt"}),
        json!({"file_write": {"path": "a\u{0}b"}}),
        json!({"result": "x".repeat(70 * 1024)}),
    ];
    for body in patches {
        let r = s
            .patch(&task_path(&f.child.id, &id), &f.child.key, body.clone())
            .await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert_eq!(r.code(), "invalid_payload", "{body}: {r:?}");
    }
    for body in [b"[]".to_vec(), b"null".to_vec(), b"{".to_vec()] {
        let r = s
            .http
            .patch(format!("{}{}", s.base, task_path(&f.child.id, &id)))
            .bearer_auth(&f.child.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!(matches!(status, 400 | 422), "{status} {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    // The parent reports nothing, and nothing is reported on a closed task.
    let r = s
        .patch(
            &task_path(&f.parent.id, &id),
            &f.parent.key,
            json!({"file_writes": [{"path": "x"}]}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "wrong_side"), "{r:?}");
    let r = set(&s, &f.parent.key, &f.parent.id, &id, "cancelled").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .patch(
            &task_path(&f.child.id, &id),
            &f.child.key,
            json!({"result": {"late": true}}),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "task_closed"), "{r:?}");
    let r = s
        .send(
            Method::GET,
            &task_path(&f.child.id, "dtk_missing"),
            Some(&f.child.key),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

/// Reads the task as its parent until it leaves `pending` / `accepted` /
/// `in_progress` (the run is in the background).
async fn settled(s: &TestServer, f: &Family, id: &str) -> Value {
    for _ in 0..200 {
        let r = s.get(&task_path(&f.parent.id, id), &f.parent.key).await;
        assert_eq!(r.status, 200, "{r:?}");
        let status = r.body["task"]["status"].as_str().unwrap().to_owned();
        if !["pending", "accepted", "in_progress"].contains(&status.as_str()) {
            return r.body["task"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("task {id} never finished");
}

#[tokio::test]
async fn execute_now_runs_the_childs_loop_under_the_tasks_cap_and_permissions() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let before = s.balance().await;
    let objective = format!("please send an email {}", email());
    let r = create(
        &s,
        &f,
        json!({"execute_now": true, "objective": objective, "budget_cap_cents": 50,
               "permissions": ["email.send"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["task"]["id"].as_str().unwrap().to_owned();
    let task = settled(&s, &f, &id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let result = &task["result"];
    assert_eq!(result["executed_by"], "execute_now");
    assert!(
        result["text"]
            .as_str()
            .unwrap()
            .contains("email_send: executed"),
        "{task}"
    );
    let cost = result["cost_cents"].as_i64().unwrap();
    assert!(cost > 0, "{task}");
    assert_eq!(task["spent_cents"], cost, "spent from the task's account");
    // The email was the child's own request, made under the task.
    let request = result["request_ids"][0].as_str().unwrap();
    let shown = s
        .get(&format!("/api/v1/service-requests/{request}"), &f.child.key)
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["status"], "executed");
    let stored = s
        .platform
        .stores
        .governance
        .request(&upivia_server::ids::RequestId::from(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.metadata.unwrap()["delegated_task_id"], id.as_str());
    // The child took the task and reported it, each move audited.
    for kind in ["accepted", "in_progress", "completed"] {
        let events = audit_events(&s, &format!("delegated_task.{kind}")).await;
        assert_eq!(events.len(), 1, "{kind}: {events:?}");
        assert_eq!(events[0]["actor"], format!("agent:{}", f.child.id));
    }
    // The session the loop ran in holds its transcript.
    let session = result["chat_session_id"].as_str().unwrap();
    let shown = s
        .get(&format!("/api/v1/chat/sessions/{session}"), &s.pat)
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert!(shown.body["messages"].as_array().unwrap().len() >= 2);
    assert_eq!(before - s.balance().await, cost);
    s.ledger_ok().await;
}

#[tokio::test]
async fn execute_now_outside_the_tasks_permissions_spends_nothing() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let before = s.balance().await;
    let objective = format!("please send an email {}", email());
    let r = create(
        &s,
        &f,
        json!({"execute_now": true, "objective": objective, "permissions": ["sms.send"]}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["task"]["id"].as_str().unwrap().to_owned();
    let task = settled(&s, &f, &id).await;
    let result = &task["result"];
    assert_eq!(result["cost_cents"], 0, "{task}");
    assert_eq!(task["spent_cents"], 0);
    let request = result["request_ids"][0].as_str().unwrap();
    let shown = s
        .get(&format!("/api/v1/service-requests/{request}"), &f.child.key)
        .await;
    assert_eq!(shown.body["status"], "blocked", "{shown:?}");
    assert_eq!(
        shown.body["reason_code"], "operation_not_delegated",
        "{shown:?}"
    );
    assert_eq!(s.balance().await, before);
    // false is the same as leaving it out: the task waits for its child.
    let r = create(&s, &f, json!({"execute_now": false})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["task"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = s.get(&task_path(&f.parent.id, &id), &f.parent.key).await;
    assert_eq!(r.body["task"]["status"], "pending");
}

#[tokio::test]
async fn requests_under_a_task_are_held_to_its_cap_status_and_permissions() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    // The parent may send email itself: its request under the task is
    // refused by the task, not by its bindings.
    let id = task(
        &s,
        &f,
        json!({"budget_cap_cents": 2, "permissions": ["email.send"]}),
    )
    .await;

    // Pending: not taken on yet.
    let r = request_under(&s, &f.child, &id, "email").await;
    assert_eq!(r.body["reason_code"], "delegated_task_not_open", "{r:?}");
    set(&s, &f.child.key, &f.child.id, &id, "accepted").await;

    // Only the child, only listed operations.
    let r = request_under(&s, &f.parent, &id, "email").await;
    assert_eq!(r.body["reason_code"], "delegated_task_not_found", "{r:?}");
    let r = request_under(&s, &f.child, &id, "sms").await;
    assert_eq!(r.body["reason_code"], "operation_not_delegated", "{r:?}");
    let r = request_under(&s, &f.child, "dtk_nothing", "email").await;
    assert_eq!(r.body["reason_code"], "delegated_task_not_found", "{r:?}");

    // Two cents of cap: two emails, then the cap.
    for _ in 0..2 {
        let r = request_under(&s, &f.child, &id, "email").await;
        assert_eq!(r.body["status"], "executed", "{r:?}");
    }
    let r = request_under(&s, &f.child, &id, "email").await;
    assert_eq!(r.body["status"], "blocked", "{r:?}");
    assert_eq!(r.body["reason_code"], "budget_exceeded");
    assert!(
        r.body["message"].as_str().unwrap().contains(&id),
        "{}",
        r.body["message"]
    );
    // Without the task the child's own budgets apply.
    let r = s.request(&f.child, "email", "send", email()).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");

    let t = s.get(&task_path(&f.child.id, &id), &f.child.key).await;
    assert_eq!(t.body["task"]["spent_cents"], 2, "{t:?}");
    // created + accepted + five requests noted (the pending one, sms,
    // two executed, one over the cap); the parent's and the unknown
    // task's are not the task's.
    let back = s
        .get(&format!("/api/v1/delegated-tasks/{id}"), &f.child.key)
        .await;
    assert_eq!(back.body["last_seq"], 7, "{back:?}");
    assert_eq!(s.balance().await, 1000 - 3);
    s.ledger_ok().await;
}

#[tokio::test]
async fn concurrent_requests_under_one_task_never_spend_past_its_cap() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let id = task(&s, &f, json!({"budget_cap_cents": 5})).await;
    set(&s, &f.child.key, &f.child.id, &id, "accepted").await;
    set(&s, &f.child.key, &f.child.id, &id, "in_progress").await;
    let replies =
        futures::future::join_all((0..24).map(|_| request_under(&s, &f.child, &id, "email"))).await;
    let executed = replies
        .iter()
        .filter(|r| r.body["status"] == "executed")
        .count();
    let capped = replies
        .iter()
        .filter(|r| r.body["reason_code"] == "budget_exceeded")
        .count();
    assert_eq!((executed, capped), (5, 19), "{replies:?}");
    let t = s.get(&task_path(&f.parent.id, &id), &f.parent.key).await;
    assert_eq!(t.body["task"]["spent_cents"], 5, "{t:?}");
    assert_eq!(s.balance().await, 1000 - 5);
    s.ledger_ok().await;
}

#[tokio::test]
async fn reattach_returns_the_file_writes_after_since() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let id = task(&s, &f, json!({})).await;
    let path = task_path(&f.child.id, &id);
    let r = s
        .patch(
            &path,
            &f.child.key,
            json!({"status": "accepted", "file_writes": [{"path": "a.txt", "bytes": 1}, {"path": "b.txt"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .patch(
            &path,
            &f.child.key,
            json!({"file_write": {"path": "c.txt", "sha256": "00"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let all = s
        .get(&format!("/api/v1/delegated-tasks/{id}"), &f.parent.key)
        .await;
    assert_eq!(all.status, 200, "{all:?}");
    let writes = all.body["file_writes"].as_array().unwrap();
    let paths: Vec<&str> = writes.iter().map(|w| w["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["a.txt", "b.txt", "c.txt"]);
    assert_eq!(writes[0]["bytes"], 1);
    assert_eq!(writes[2]["sha256"], "00");
    let seqs: Vec<i64> = writes.iter().map(|w| w["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // created (1), accepted (2), a (3), b (4), c (5).
    assert_eq!(all.body["last_seq"], 5);
    assert_eq!(all.body["task"]["status"], "accepted");

    let after_b = s
        .get(
            &format!("/api/v1/delegated-tasks/{id}?since={}", seqs[1]),
            &s.pat,
        )
        .await;
    let paths: Vec<&str> = after_b.body["file_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["c.txt"], "{after_b:?}");
    let later = s
        .get(&format!("/api/v1/delegated-tasks/{id}?since=5"), &s.pat)
        .await;
    assert_eq!(later.body["file_writes"], json!([]));
    assert_eq!(later.body["last_seq"], 5);
}

#[tokio::test]
async fn a_parents_chat_turn_delegates_and_streams_the_childs_progress() {
    let s = TestServer::start().await;
    let f = family(&s).await;
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": f.parent.id}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let session = r.body["id"].as_str().unwrap().to_owned();
    let args = json!({
        "child_agent_id": f.child.id,
        "objective": format!("please send an email {}", email()),
        "budget_cap_cents": 20,
        "permissions": ["email.send"],
    });
    let raw = s
        .http
        .post(format!("{}/api/v1/chat/turn", s.base))
        .bearer_auth(&s.pat)
        .json(&json!({"sessionId": session, "message": format!("delegate this task {args}")}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames: Vec<(String, Value)> = raw
        .split("\n\n")
        .filter_map(|block| {
            let name = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((name.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect();
    let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n}: {raw}"))
    };
    assert!(at("tool_planned") < at("delegation_started"), "{names:?}");
    assert!(at("delegation_started") < at("agent_event"), "{names:?}");
    assert!(at("agent_event") < at("tool_done"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"));
    let started = &frames[at("delegation_started")].1;
    assert_eq!(started["agent"], "child");
    let agent_events: Vec<&Value> = frames
        .iter()
        .filter(|(n, _)| n == "agent_event")
        .map(|(_, d)| d)
        .collect();
    let types: Vec<&str> = agent_events
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"started"), "{types:?}");
    assert_eq!(types.last(), Some(&"done"), "{types:?}");
    assert!(
        agent_events
            .iter()
            .any(|d| d["type"] == "tool" && d["tool"] == "email_send" && d["status"] == "executed"),
        "{agent_events:?}"
    );
    let done = agent_events.last().unwrap();
    assert_eq!(done["agentName"], "child");
    let spent = done["spentCents"].as_i64().unwrap();
    assert!(spent > 0, "{done}");
    // The parent's tool answer is what the child did, under its task.
    let tool_done = &frames[at("tool_done")].1;
    assert_eq!(tool_done["tool_name"], "delegate_task");
    assert_eq!(tool_done["status"], "executed", "{tool_done}");
    let listed = s.get(&tasks_path(&f.parent.id), &f.parent.key).await;
    let task = &listed.body["tasks"][0];
    assert_eq!(task["status"], "completed", "{listed:?}");
    assert_eq!(task["spent_cents"], spent);
    s.ledger_ok().await;
}
