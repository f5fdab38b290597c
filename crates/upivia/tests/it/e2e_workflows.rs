//! Workflows against the real server, through the SDK only: create, a
//! version, the governed publish approved in the inbox, `run_and_wait` on
//! the published version, a draft test run through an approval step, a
//! failed step retried and a failed run rerun, cancel, grants, share,
//! export, templates, update and delete.

use std::time::Duration;

use serde_json::{Value, json};
use upivia::models::RunWorkflow;
use upivia::resources::WaitOptions;

use crate::e2e_support::Server;

fn wait() -> WaitOptions {
    WaitOptions {
        poll_interval: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
    }
}

fn email(id: &str) -> Value {
    json!({"id": id, "type": "service_request", "service": "email", "operation": "send",
           "payload": {"to": "ops@example.com", "subject": "{{input.title}}", "body": "from the SDK"}})
}

async fn pending_of(owner: &upivia::Client, kind: &str, key: &str, value: &str) -> String {
    for _ in 0..200 {
        let inbox = owner.approvals().list().await.unwrap();
        if let Some(row) = inbox["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind && a[key] == value)
        {
            return row["id"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no pending {kind} for {value}");
}

#[tokio::test]
async fn a_workflow_is_published_through_the_inbox_and_run_to_completion() {
    let server = Server::start();
    let owner = server.owner();
    let agent = server.funded_agent("email", 10_000).await;
    let wf = owner
        .workflows()
        .create(&json!({"name": "SDK flow", "agent_id": agent.id, "category": "sdk"}))
        .await
        .unwrap();
    let wf = wf["workflow"]["id"].as_str().unwrap().to_owned();
    let version = owner
        .workflows()
        .create_version(&wf, &json!({"steps": [email("one"), email("two")], "edges": [{"from": "one", "to": "two"}]}))
        .await
        .unwrap();
    let version = version["version"]["id"].as_str().unwrap().to_owned();

    let none = owner
        .workflows()
        .run_and_wait(&wf, RunWorkflow::new(), wait())
        .await
        .unwrap_err();
    assert!(none.to_string().contains("published"), "{none}");

    let request = owner
        .workflows()
        .publish_version(&wf, &version, None)
        .await
        .unwrap();
    assert_eq!(request["publish_request"]["status"], "pending");
    let id = pending_of(&owner, "workflow_publish", "version_id", &version).await;
    owner.approvals().approve(&id).await.unwrap();
    let detail = owner.workflows().get(&wf).await.unwrap();
    assert_eq!(detail["versions"][0]["status"], "published");

    let run = owner
        .workflows()
        .run_and_wait(
            &wf,
            RunWorkflow::new().with_input(json!({"title": "Hello"})),
            wait(),
        )
        .await
        .unwrap();
    assert_eq!(run.status, "completed", "{run:?}");
    assert_eq!(run.steps.as_ref().unwrap().len(), 2);
    let runs = owner.workflows().runs().list(&wf).await.unwrap();
    assert_eq!(runs["runs"][0]["id"], run.id.as_str());
    let got = owner.workflows().runs().get(&wf, &run.id).await.unwrap();
    assert_eq!(got["run"]["status"], "completed");

    let unpublished = owner
        .workflows()
        .unpublish_version(&wf, &version, None)
        .await
        .unwrap();
    assert_eq!(unpublished["version"]["status"], "draft");
    let listed = owner.workflows().list(Some("sdk")).await.unwrap();
    assert_eq!(listed["workflows"][0]["id"], wf.as_str());
    let renamed = owner
        .workflows()
        .update(&wf, &json!({"name": "Renamed"}))
        .await
        .unwrap();
    assert_eq!(renamed["workflow"]["name"], "Renamed");
    owner.workflows().delete(&wf).await.unwrap();
    assert!(owner.workflows().get(&wf).await.is_err());
}

#[tokio::test]
async fn a_test_run_waits_at_its_gate_and_failed_steps_are_retried() {
    let server = Server::start();
    let owner = server.owner();
    let agent = server.funded_agent("email", 10_000).await;
    let wf = owner
        .workflows()
        .create(&json!({"name": "Gated", "agent_id": agent.id}))
        .await
        .unwrap()["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let search = json!({"id": "search", "type": "service_request", "service": "web_search",
                        "operation": "search", "payload": {"query": "{{input.title}}"}});
    let version = owner
        .workflows()
        .create_version(&wf, &json!({"steps": [{"id": "gate", "type": "approval"}, email("mail"), search],
                                     "edges": [{"from": "gate", "to": "mail"}, {"from": "mail", "to": "search"}]}))
        .await
        .unwrap()["version"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft = RunWorkflow::new()
        .with_version_id(&version)
        .with_test_run(true)
        .with_input(json!({"title": "t"}));
    let started = owner.workflows().runs().create(&wf, &draft).await.unwrap();
    let run = started["run"]["id"].as_str().unwrap().to_owned();
    let gate = pending_of(&owner, "workflow_approval", "run_id", &run).await;
    owner.approvals().approve(&gate).await.unwrap();

    // `search` is not enabled: the run fails there, after `mail` ran.
    let failed = wait_status(&owner, &wf, &run, "failed").await;
    let mail_request = failed["steps"][1]["service_request_id"].clone();
    owner
        .agents()
        .enable_service(&agent.id, &json!({"service_id": "web_search"}))
        .await
        .unwrap();
    owner
        .workflows()
        .runs()
        .retry_step(&wf, &run, "search", None)
        .await
        .unwrap();
    let done = wait_status(&owner, &wf, &run, "completed").await;
    assert_eq!(
        done["steps"][1]["service_request_id"], mail_request,
        "mail ran once"
    );
    assert!(
        owner
            .workflows()
            .runs()
            .rerun_failed(&wf, &run)
            .await
            .is_err(),
        "nothing failed now"
    );
    assert!(
        owner.workflows().runs().cancel(&wf, &run).await.is_err(),
        "already finished"
    );

    // A second run, cancelled at its gate.
    let second = owner.workflows().runs().create(&wf, &draft).await.unwrap();
    let second = second["run"]["id"].as_str().unwrap().to_owned();
    pending_of(&owner, "workflow_approval", "run_id", &second).await;
    let cancelled = owner.workflows().runs().cancel(&wf, &second).await.unwrap();
    assert_eq!(cancelled["run"]["status"], "cancelled");
}

async fn wait_status(owner: &upivia::Client, wf: &str, run: &str, want: &str) -> Value {
    for _ in 0..400 {
        let r = owner.workflows().runs().get(wf, run).await.unwrap()["run"].clone();
        if r["status"] == want {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run} never became {want}");
}

#[tokio::test]
async fn grants_share_export_and_templates() {
    let server = Server::start();
    let owner = server.owner();
    let agent = server.funded_agent("email", 1_000).await;
    let wf = owner
        .workflows()
        .create(&json!({"name": "Shared", "agent_id": agent.id}))
        .await
        .unwrap()["workflow"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    owner
        .workflows()
        .create_version(&wf, &json!({"steps": [email("only")]}))
        .await
        .unwrap();
    owner
        .workflows()
        .agents()
        .grant(&wf, &agent.id)
        .await
        .unwrap();
    let grants = owner.workflows().agents().list(&wf).await.unwrap();
    assert_eq!(grants["agents"][0]["agent_id"], agent.id.as_str());
    owner
        .workflows()
        .agents()
        .revoke(&wf, &agent.id)
        .await
        .unwrap();
    assert!(
        owner
            .workflows()
            .agents()
            .revoke(&wf, &agent.id)
            .await
            .is_err()
    );
    let shared = owner.workflows().share(&wf, "team").await.unwrap();
    assert_eq!(shared["workflow"]["share_scope"], "team");
    let manifest = owner.workflows().export(&wf).await.unwrap();
    assert_eq!(manifest["input_schema"]["required"], json!(["title"]));
    let templates = owner.workflows().from_template().list().await.unwrap();
    assert!(templates["templates"].as_array().unwrap().len() >= 5);
    let made = owner
        .workflows()
        .from_template()
        .create(&json!({"template_id": "alert-to-oncall", "agent_id": agent.id}))
        .await
        .unwrap();
    assert_eq!(made["template_id"], "alert-to-oncall");
}
