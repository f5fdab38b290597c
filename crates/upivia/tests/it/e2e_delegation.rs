//! Delegation against the real server, through the SDK only: the parent
//! spawns its child and delegates to it with its key, the owner drives the child's side (get and
//! update are `workspace` calls, sent with the PAT), the child spends
//! under the task's cap, and reattach reads the file writes after `since`.

use serde_json::{Value, json};
use upivia::models::{
    Cents, CreateDelegatedTask, ListDelegatedTasks, ServiceRequestOutcome, SpawnAgent,
};

use crate::e2e_support::{Agent, Server, agent_from, binding, email};

/// A funded parent bound to email, and the child it spawned with email
/// and 100 cents.
async fn family(server: &Server) -> (Agent, Agent) {
    server.credit(500).await;
    let owner = server.owner();
    let parent = agent_from(
        server,
        &owner
            .agents()
            .create(&json!({"name": "parent"}))
            .await
            .unwrap(),
    );
    owner
        .agents()
        .enable_service(&parent.id, &binding("email", json!({})))
        .await
        .unwrap();
    let spawned = parent
        .client
        .spawn()
        .create(SpawnAgent::new("child", ["email"]).with_budget_cents(Cents::new(100)))
        .await
        .unwrap();
    (parent, agent_from(server, &spawned))
}

fn ids(listed: &Value) -> Vec<&str> {
    listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_delegate_method_drives_a_task_to_completion() {
    let server = Server::start();
    let (parent, child) = family(&server).await;
    let owner = server.owner();

    let created = parent
        .client
        .delegate()
        .create(
            &parent.id,
            CreateDelegatedTask::new("Send the digest")
                .with_child_agent_id(&child.id)
                .with_budget_cap_cents(Cents::new(1))
                .with_permissions(["email.send"]),
        )
        .await
        .unwrap();
    let task = created["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["task"]["status"], "pending");
    assert_eq!(created["task"]["budget_cap_cents"], 1);

    let outgoing = parent
        .client
        .delegate()
        .list(
            &parent.id,
            ListDelegatedTasks::default().with_direction("outgoing"),
        )
        .await
        .unwrap();
    assert_eq!(ids(&outgoing), [task.as_str()]);
    let incoming = child
        .client
        .delegate()
        .list(
            &child.id,
            ListDelegatedTasks::default()
                .with_direction("incoming")
                .with_status("pending"),
        )
        .await
        .unwrap();
    assert_eq!(ids(&incoming), [task.as_str()]);

    let accepted = owner
        .delegate()
        .update_task(
            &child.id,
            &task,
            &json!({"status": "accepted", "file_writes": [{"path": "notes.md"}]}),
        )
        .await
        .unwrap();
    assert_eq!(accepted["task"]["status"], "accepted");

    // One cent of cap: the first email runs, the second is blocked by it.
    let under = |subject: &str| email(subject).with_metadata(json!({"delegated_task_id": task}));
    let first = child
        .client
        .service_requests()
        .create(under("one"))
        .await
        .unwrap();
    assert!(
        matches!(first, ServiceRequestOutcome::Executed(_)),
        "{first:?}"
    );
    let second = child
        .client
        .service_requests()
        .create(under("two"))
        .await
        .unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &second else {
        panic!("expected blocked, got {second:?}")
    };
    assert_eq!(blocked.reason_code.as_deref(), Some("budget_exceeded"));

    let got = owner.delegate().get_task(&parent.id, &task).await.unwrap();
    assert_eq!(got["task"]["spent_cents"], 1);

    let first_look = owner.delegate().reattach(&task, None).await.unwrap();
    let writes = first_look["file_writes"].as_array().unwrap();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0]["path"], "notes.md");
    let seen = first_look["last_seq"].as_i64().unwrap();

    let refused = owner
        .delegate()
        .update_task(&child.id, &task, &json!({"status": "completed"}))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(409));
    assert_eq!(refused.code(), Some("invalid_transition"));
    for (status, writes) in [
        ("in_progress", json!([])),
        ("completed", json!([{"path": "digest.txt"}])),
    ] {
        owner
            .delegate()
            .update_task(
                &child.id,
                &task,
                &json!({"status": status, "result": {"ok": true}, "file_writes": writes}),
            )
            .await
            .unwrap();
    }
    let later = owner.delegate().reattach(&task, Some(seen)).await.unwrap();
    let paths: Vec<&str> = later["file_writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["digest.txt"]);
    assert_eq!(later["task"]["status"], "completed");
    assert_eq!(later["task"]["result"], json!({"ok": true}));

    let now = parent
        .client
        .delegate()
        .create(
            &parent.id,
            CreateDelegatedTask::new("Run it now")
                .with_child_agent_id(&child.id)
                .with_execute_now(true),
        )
        .await
        .unwrap();
    // The child runs it in the background: it accepts it and reports.
    let id = now["task"]["id"].as_str().unwrap().to_owned();
    let mut ran = Value::Null;
    for _ in 0..200 {
        ran = owner.delegate().get_task(&parent.id, &id).await.unwrap();
        if ran["task"]["status"] == "completed" || ran["task"]["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ran["task"]["status"], "completed", "{ran}");
    assert_eq!(ran["task"]["result"]["executed_by"], "execute_now");
    assert!(
        ran["task"]["result"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let without_child = parent
        .client
        .delegate()
        .create(&parent.id, CreateDelegatedTask::new("Nobody"))
        .await
        .unwrap_err();
    assert_eq!(without_child.status(), Some(422));
}

#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_delegates_lists_moves_and_reattaches() {
    use upivia::blocking;

    let server = Server::start();
    let owner = blocking::Client::new(server.owner()).unwrap();
    owner
        .send_json(crate::e2e_support::credit_spec(100))
        .unwrap();
    let created = owner.agents().create(&json!({"name": "parent"})).unwrap();
    let made = [(
        created["agent"]["id"].as_str().unwrap().to_owned(),
        created["api_key"].as_str().unwrap().to_owned(),
    )];
    let (parent_id, parent_key) = made[0].clone();
    owner
        .agents()
        .enable_service(&parent_id, &binding("email", json!({})))
        .unwrap();
    let parent = blocking::Client::new(server.agent_client(&parent_key)).unwrap();
    let spawned = parent
        .spawn()
        .create(SpawnAgent::new("child", ["email"]).with_budget_cents(Cents::new(10)))
        .unwrap();
    let child_id = spawned["agent"]["id"].as_str().unwrap().to_owned();

    let created = parent
        .delegate()
        .create(
            &parent_id,
            CreateDelegatedTask::new("Blocking").with_child_agent_id(&child_id),
        )
        .unwrap();
    let task = created["task"]["id"].as_str().unwrap().to_owned();
    let listed = parent
        .delegate()
        .list(&parent_id, ListDelegatedTasks::default())
        .unwrap();
    assert_eq!(ids(&listed), [task.as_str()]);
    let moved = owner
        .delegate()
        .update_task(
            &child_id,
            &task,
            &json!({"status": "accepted", "file_write": {"path": "x.txt"}}),
        )
        .unwrap();
    assert_eq!(moved["task"]["status"], "accepted");
    let got = owner.delegate().get_task(&child_id, &task).unwrap();
    assert_eq!(got["task"]["status"], "accepted");
    let back = owner.delegate().reattach(&task, Some(0)).unwrap();
    assert_eq!(back["file_writes"][0]["path"], "x.txt");
    assert_eq!(back["last_seq"], 3);
    let cancelled = owner
        .delegate()
        .update_task(&parent_id, &task, &json!({"status": "cancelled"}))
        .unwrap();
    assert_eq!(cancelled["task"]["status"], "cancelled");
}
