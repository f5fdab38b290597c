//! Workflows over HTTP: definitions checked (422 naming the step),
//! publishing decided in the approvals inbox, runs through the durable
//! runner with approval gates, conditions, parallel branches, a run
//! budget, retries that never re-run a completed step (the charges are
//! counted), skips, cancels, a run resumed after its pass died between
//! sending and recording, grants, sharing, export and templates.

use std::time::Duration as StdDuration;

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::domains::automation::dispatch::{self, Dispatch};
use upivia_server::ids::{AgentId, OrgId};
use upivia_server::model::Role;
use upivia_server::store::SaveRun;

use crate::support::{Reply, TestAgent, TestServer, email};
use crate::teams::audit_events;

const PATH: &str = "/api/v1/workflows";

async fn workflow(s: &TestServer, agent: &TestAgent) -> String {
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"name": "On-call", "agent_id": agent.id, "category": "ops"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["workflow"]["id"].as_str().unwrap().to_owned()
}

async fn version(s: &TestServer, wf: &str, def: Value) -> String {
    let r = s.post(&format!("{PATH}/{wf}/versions"), &s.pat, def).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["version"]["status"], "draft");
    r.body["version"]["id"].as_str().unwrap().to_owned()
}

fn email_step(id: &str, to: &str) -> Value {
    json!({"id": id, "type": "service_request", "service": "email", "operation": "send",
           "payload": {"to": to, "subject": "From {{input.who}}", "body": "step " }})
}

/// Starts a test run of `version` with `extra` fields.
async fn start(s: &TestServer, wf: &str, version: &str, extra: Value) -> Reply {
    let mut body =
        json!({"workflow_version_id": version, "input": {"who": "ci"}, "test_run": true});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    s.post(&format!("{PATH}/{wf}/runs"), &s.pat, body).await
}

async fn get_run(s: &TestServer, wf: &str, run: &str) -> Value {
    let r = s.get(&format!("{PATH}/{wf}/runs/{run}"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["run"].clone()
}

/// Passes the runner until the run's status is `want` (or fails after 10 s).
async fn until(s: &TestServer, wf: &str, run: &str, want: &str) -> Value {
    for _ in 0..100 {
        s.tick_automation().await;
        let r = get_run(s, wf, run).await;
        if r["status"] == want {
            return r;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("run never reached {want}: {}", get_run(s, wf, run).await);
}

fn step<'r>(run: &'r Value, id: &str) -> &'r Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {run}"))
}

async fn executed(s: &TestServer) -> usize {
    audit_events(s, "service_request.executed").await.len()
}

async fn inbox(s: &TestServer) -> Vec<Value> {
    let r = s.get("/api/v1/approvals", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["approvals"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_run_passes_an_approval_gate_and_every_step_is_a_governed_request() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(
        &s,
        &wf,
        json!({"steps": [
            email_step("first", "a@example.com"),
            {"id": "gate", "label": "Go on?", "type": "approval", "message": "Send the second?"},
            email_step("second", "b@example.com")
        ], "edges": [{"from": "first", "to": "gate"}, {"from": "gate", "to": "second"}]}),
    )
    .await;
    let r = start(&s, &wf, &v, json!({})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let run_id = r.body["run"]["id"].as_str().unwrap().to_owned();
    assert!(run_id.starts_with("wfr_"));
    let run = until(&s, &wf, &run_id, "waiting_approval").await;
    assert_eq!(step(&run, "first")["status"], "completed", "{run}");
    assert!(
        step(&run, "first")["service_request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(step(&run, "gate")["status"], "waiting_approval");
    assert_eq!(step(&run, "second")["status"], "pending");
    assert_eq!(step(&run, "gate")["step_type"], "approval");
    assert_eq!(step(&run, "gate")["label"], "Go on?");

    let gates: Vec<Value> = inbox(&s)
        .await
        .into_iter()
        .filter(|a| a["kind"] == "workflow_approval")
        .collect();
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0]["run_id"], run_id.as_str());
    let gate = gates[0]["id"].as_str().unwrap().to_owned();
    // A member cannot decide it; an admin can, once.
    let member = s.user_pat(Role::Member).await;
    let r = s
        .post(
            &format!("/api/v1/approvals/{gate}/approve"),
            &member,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/approvals/{gate}/approve"),
            &s.pat,
            json!({"note": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/approvals/{gate}/reject"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "approval_already_decided"),
        "{r:?}"
    );

    let run = until(&s, &wf, &run_id, "completed").await;
    assert_eq!(step(&run, "second")["status"], "completed");
    assert!(run["finished_at"].is_string());
    assert!(run["spent_cents"].as_i64().unwrap() > 0, "{run}");
    assert_eq!(executed(&s).await, 2);
    assert_eq!(audit_events(&s, "workflow.step_approved").await.len(), 1);
    assert_eq!(audit_events(&s, "workflow.run_completed").await.len(), 1);
    let list = s.get(&format!("{PATH}/{wf}/runs"), &s.pat).await;
    assert_eq!(list.body["runs"][0]["id"], run_id.as_str());
    let ops = s.get("/api/v1/ops/runs?status=completed", &s.pat).await;
    assert_eq!(ops.body["runs"][0]["workflow_name"], "On-call", "{ops:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_rejected_gate_fails_the_run() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(
        &s,
        &wf,
        json!({"steps": [{"id": "gate", "type": "approval"}, email_step("after", "a@example.com")],
                                    "edges": [{"from": "gate", "to": "after"}]}),
    )
    .await;
    let run_id = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = until(&s, &wf, &run_id, "waiting_approval").await;
    let gate = step(&run, "gate")["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            &format!("/api/v1/approvals/{gate}/reject"),
            &s.pat,
            json!({"note": "not now"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let run = until(&s, &wf, &run_id, "failed").await;
    assert!(run["error"].as_str().unwrap().contains("not now"), "{run}");
    assert_eq!(step(&run, "after")["status"], "pending");
    assert_eq!(executed(&s).await, 0);
}

#[tokio::test]
async fn a_failed_step_is_retried_without_running_what_completed_again() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    // `search` is not enabled for the agent: that step is blocked.
    let v = version(
        &s,
        &wf,
        json!({"steps": [
        email_step("a", "a@example.com"),
        {"id": "b", "type": "service_request", "service": "web_search", "operation": "search",
         "payload": {"query": "status of {{input.who}}"}},
        email_step("c", "c@example.com")
    ], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}),
    )
    .await;
    let run_id = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = until(&s, &wf, &run_id, "failed").await;
    let a_request = step(&run, "a")["service_request_id"].clone();
    assert_eq!(step(&run, "b")["status"], "failed");
    assert!(
        step(&run, "b")["error"]
            .as_str()
            .unwrap()
            .contains("service_not_enabled"),
        "{run}"
    );
    assert_eq!(step(&run, "c")["status"], "pending");
    assert!(run["error"].as_str().unwrap().contains("step b failed"));
    assert_eq!(executed(&s).await, 1);

    // Retrying a step that did not fail is refused.
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{run_id}/steps/a/retry"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "step_not_failed"),
        "{r:?}"
    );
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{run_id}/steps/ghost/retry"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    s.enable(&agent, json!({"service_id": "web_search"})).await;
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{run_id}/steps/b/retry"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["ok"], true);
    let run = until(&s, &wf, &run_id, "completed").await;
    assert_eq!(
        step(&run, "a")["service_request_id"],
        a_request,
        "a was not run again"
    );
    assert_eq!(step(&run, "a")["attempt"], 1);
    assert_eq!(step(&run, "b")["attempt"], 2);
    assert_eq!(step(&run, "c")["status"], "completed");
    assert_eq!(executed(&s).await, 3, "a once, b once, c once");
    s.ledger_ok().await;
}

#[tokio::test]
async fn rerun_failed_and_skip_move_a_failed_run_on() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let blocked = json!({"id": "b", "type": "service_request", "service": "web_search", "operation": "search",
                         "payload": {"query": "x"}});
    let v = version(
        &s,
        &wf,
        json!({"steps": [blocked, email_step("c", "c@example.com")],
                                    "edges": [{"from": "b", "to": "c"}]}),
    )
    .await;
    let first = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until(&s, &wf, &first, "failed").await;
    // Skipped by a person, what follows runs.
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{first}/steps/b/skip"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let run = until(&s, &wf, &first, "completed").await;
    assert_eq!(step(&run, "b")["status"], "skipped");
    assert_eq!(step(&run, "b")["skip_reason"], "manual");
    assert_eq!(step(&run, "c")["status"], "completed");
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{first}/steps/c/skip"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{r:?}");

    let second = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until(&s, &wf, &second, "failed").await;
    s.enable(&agent, json!({"service_id": "web_search"})).await;
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{second}/rerun-failed"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    until(&s, &wf, &second, "completed").await;
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{second}/rerun-failed"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "a completed run has nothing to rerun: {r:?}");
}

#[tokio::test]
async fn conditions_skip_branches_and_parallel_branches_join() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(&s, &wf, json!({"steps": [
        {"id": "critical", "type": "condition", "if": {"path": "input.severity", "equals": "critical"}},
        email_step("page", "{{input.oncall}}"),
        email_step("left", "l@example.com"),
        email_step("right", "r@example.com"),
        {"id": "join", "type": "service_request", "service": "email", "operation": "send",
         "payload": {"to": "j@example.com", "subject": "joined", "body": "{{steps.left.result.id}}"}}
    ], "edges": [{"from": "critical", "to": "page"}, {"from": "left", "to": "join"}, {"from": "right", "to": "join"}]})).await;
    let low = start(&s, &wf, &v, json!({"input": {"severity": "low"}})).await;
    let low = low.body["run"]["id"].as_str().unwrap().to_owned();
    let run = until(&s, &wf, &low, "completed").await;
    assert_eq!(step(&run, "critical")["result"]["value"], false);
    assert_eq!(step(&run, "page")["status"], "skipped");
    assert_eq!(step(&run, "page")["skip_reason"], "condition");
    assert_eq!(step(&run, "join")["status"], "completed");
    assert_eq!(executed(&s).await, 3);
    let high = start(
        &s,
        &wf,
        &v,
        json!({"input": {"severity": "critical", "oncall": "oc@example.com"}}),
    )
    .await;
    let high = high.body["run"]["id"].as_str().unwrap().to_owned();
    let run = until(&s, &wf, &high, "completed").await;
    assert_eq!(step(&run, "page")["status"], "completed");
    assert_eq!(executed(&s).await, 7);
}

#[tokio::test]
async fn a_run_budget_caps_what_its_steps_spend() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "a@example.com"), email_step("b", "b@example.com")],
                                    "edges": [{"from": "a", "to": "b"}]}),
    )
    .await;
    // What one email costs, from an unbounded run.
    let free = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = until(&s, &wf, &free, "completed").await;
    let two = run["spent_cents"].as_i64().unwrap();
    assert!(two > 0);
    // A budget for one step only: the second is blocked.
    let capped = start(&s, &wf, &v, json!({"budget_cents": two / 2})).await;
    let capped = capped.body["run"]["id"].as_str().unwrap().to_owned();
    let run = until(&s, &wf, &capped, "failed").await;
    assert_eq!(step(&run, "a")["status"], "completed", "{run}");
    assert!(
        step(&run, "b")["error"]
            .as_str()
            .unwrap()
            .contains("budget_exceeded"),
        "{run}"
    );
    assert!(run["spent_cents"].as_i64().unwrap() <= two / 2);
    for bad in [
        json!({"budget_cents": -1}),
        json!({"budget_cents": "5"}),
        json!({"test_run": "yes"}),
        json!({"input": [1]}),
    ] {
        let r = start(&s, &wf, &v, bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {r:?}");
    }
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_cancelled_run_stops_and_its_gate_closes() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(
        &s,
        &wf,
        json!({"steps": [{"id": "gate", "type": "approval"}, email_step("after", "a@example.com")],
                                    "edges": [{"from": "gate", "to": "after"}]}),
    )
    .await;
    let run_id = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = until(&s, &wf, &run_id, "waiting_approval").await;
    let gate = step(&run, "gate")["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{run_id}/cancel"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["run"]["status"], "cancelled");
    assert!(inbox(&s).await.iter().all(|a| a["id"] != gate.as_str()));
    let r = s
        .post(
            &format!("/api/v1/approvals/{gate}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 409, "{r:?}");
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs/{run_id}/cancel"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "run_finished"),
        "{r:?}"
    );
    s.tick_automation().await;
    assert_eq!(get_run(&s, &wf, &run_id).await["status"], "cancelled");
    assert_eq!(executed(&s).await, 0);
}

#[tokio::test]
async fn publishing_is_decided_in_the_inbox_and_drafts_run_only_as_tests() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v1 = version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "a@example.com")]}),
    )
    .await;
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs"),
            &s.pat,
            json!({"workflow_version_id": v1}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "version_not_published"),
        "{r:?}"
    );
    let r = s
        .post(&format!("{PATH}/{wf}/runs"), &s.pat, json!({}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "no_published_version"),
        "{r:?}"
    );

    let r = s
        .post(
            &format!("{PATH}/{wf}/versions/{v1}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["publish_request"]["status"], "pending");
    assert_eq!(r.body["publish_request"]["version_id"], v1.as_str());
    let request = r.body["publish_request"]["id"].as_str().unwrap().to_owned();
    // Asking again is the same request.
    let again = s
        .post(
            &format!("{PATH}/{wf}/versions/{v1}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(again.body["publish_request"]["id"], request.as_str());
    let got = s.get(&format!("{PATH}/{wf}"), &s.pat).await;
    assert_eq!(
        got.body["versions"][0]["status"], "draft",
        "not live before approval"
    );
    let row = inbox(&s)
        .await
        .into_iter()
        .find(|a| a["id"] == request.as_str())
        .unwrap();
    assert_eq!(row["kind"], "workflow_publish");
    assert_eq!(row["publish_request_id"], request.as_str());
    assert_eq!(row["status"], "pending");

    let r = s
        .post(
            &format!("/api/v1/approvals/{request}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/approvals/{request}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "approval_already_decided"),
        "{r:?}"
    );
    let got = s.get(&format!("{PATH}/{wf}"), &s.pat).await;
    assert_eq!(got.body["versions"][0]["status"], "published", "{got:?}");
    let r = s
        .post(
            &format!("{PATH}/{wf}/runs"),
            &s.pat,
            json!({"input": {"who": "prod"}}),
        )
        .await;
    assert_eq!(r.status, 201, "the published version runs: {r:?}");
    assert_eq!(r.body["run"]["workflow_version_id"], v1.as_str());
    assert_eq!(r.body["run"]["test_run"], false);

    // A second version published replaces the first; a rejected one stays a draft.
    let v2 = version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "b@example.com")]}),
    )
    .await;
    let p2 = s
        .post(
            &format!("{PATH}/{wf}/versions/{v2}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    let p2 = p2.body["publish_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(
        &format!("/api/v1/approvals/{p2}/approve"),
        &s.pat,
        json!({}),
    )
    .await;
    let got = s.get(&format!("{PATH}/{wf}"), &s.pat).await;
    let status_of = |id: &str| {
        got.body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(
        (status_of(&v1), status_of(&v2)),
        (json!("draft"), json!("published"))
    );
    let v3 = version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "c@example.com")]}),
    )
    .await;
    let p3 = s
        .post(
            &format!("{PATH}/{wf}/versions/{v3}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    let p3 = p3.body["publish_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(&format!("/api/v1/approvals/{p3}/reject"), &s.pat, json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let got = s.get(&format!("{PATH}/{wf}"), &s.pat).await;
    assert_eq!(got.body["versions"][0]["id"], v3.as_str());
    assert_eq!(got.body["versions"][0]["status"], "draft");

    let r = s
        .post(
            &format!("{PATH}/{wf}/versions/{v2}/unpublish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["version"]["status"], "draft");
    let r = s
        .post(
            &format!("{PATH}/{wf}/versions/{v2}/unpublish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "not_published"),
        "{r:?}"
    );
    let r = s
        .post(
            &format!("{PATH}/{wf}/versions/wfv_nosuch/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(audit_events(&s, "workflow.published").await.len(), 2);
    assert_eq!(audit_events(&s, "workflow.publish_rejected").await.len(), 1);
}

#[tokio::test]
async fn versions_are_checked_and_refusals_name_the_step() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let wf = workflow(&s, &agent).await;
    for (def, needle) in [
        (json!({"steps": [{"id": "x", "type": "teleport"}]}), "\"x\""),
        (
            json!({"steps": [{"id": "a", "type": "approval"}, {"id": "b", "type": "approval"}],
                "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}),
            "cycle",
        ),
        (
            json!({"steps": [{"id": "a", "type": "approval"}], "edges": [{"from": "a", "to": "nowhere"}]}),
            "nowhere",
        ),
        (
            json!({"steps": [{"id": "a", "type": "service_request", "operation": "email.send",
                           "payload": {"to": "{{steps.ghost.result.to}}"}}]}),
            "ghost",
        ),
        (
            json!({"steps": [{"id": "n", "type": "service_request", "operation": "nosuch.op"}]}),
            "\"n\"",
        ),
        (json!({"steps": "many"}), "steps"),
        (json!([1, 2]), "object"),
    ] {
        let r = s
            .post(&format!("{PATH}/{wf}/versions"), &s.pat, def.clone())
            .await;
        assert_eq!(r.status, 422, "{def}: {r:?}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{def}: {message}");
    }
    let got = s.get(&format!("{PATH}/{wf}"), &s.pat).await;
    assert_eq!(got.body["versions"], json!([]), "nothing was saved");
}

#[tokio::test]
async fn workflows_are_managed_by_who_manages_their_agent_and_shared_on_purpose() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    for (body, field) in [
        (json!({"name": "x"}), "agent_id"),
        (json!({"agent_id": agent.id}), "name"),
        (
            json!({"agent_id": agent.id, "name": "x", "status": "asleep"}),
            "status",
        ),
    ] {
        let r = s.post(PATH, &s.pat, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(field));
    }
    let wf = workflow(&s, &agent).await;
    let path = format!("{PATH}/{wf}");
    let r = s
        .patch(
            &path,
            &s.pat,
            json!({"name": "Renamed", "status": "archived", "icon": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["workflow"]["name"], "Renamed");
    let r = s.patch(&path, &s.pat, json!({"agent_id": "agt_x"})).await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = s.get(&format!("{PATH}?category=ops"), &s.pat).await;
    assert_eq!(r.body["workflows"].as_array().unwrap().len(), 1, "{r:?}");
    let r = s.get(&format!("{PATH}?category=none"), &s.pat).await;
    assert_eq!(r.body["workflows"], json!([]));

    let member = s.user_pat(Role::Member).await;
    assert_eq!(
        s.get(&path, &member).await.status,
        404,
        "private to its people"
    );
    assert!(
        s.get(PATH, &member).await.body["workflows"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = s
        .post(
            &format!("{path}/share"),
            &s.pat,
            json!({"scope": "everyone"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .post(&format!("{path}/share"), &s.pat, json!({"scope": "org"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        s.get(&path, &member).await.status,
        200,
        "shared with the organisation"
    );
    assert_eq!(
        s.patch(&path, &member, json!({"name": "mine now"}))
            .await
            .status,
        403
    );
    assert_eq!(
        s.post(
            &format!("{path}/versions"),
            &member,
            json!({"steps": [{"id": "a", "type": "approval"}]})
        )
        .await
        .status,
        403
    );
    let r = s
        .post(PATH, &member, json!({"name": "x", "agent_id": agent.id}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    let other = s.other_org("Elsewhere").await;
    assert_eq!(s.get(&path, &other.pat).await.status, 404);
    assert_eq!(
        s.send(Method::DELETE, &path, Some(&other.pat), None)
            .await
            .status,
        404
    );
    assert_eq!(s.get(PATH, &agent.key).await.status, 403);

    let r = s.send(Method::DELETE, &path, Some(&s.pat), None).await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(s.get(&path, &s.pat).await.status, 404);
}

#[tokio::test]
async fn grants_templates_and_export() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let helper = s.agent(json!({"name": "helper"})).await;
    let wf = workflow(&s, &agent).await;
    let r = s.get(&format!("{PATH}/{wf}/export"), &s.pat).await;
    assert_eq!(r.status, 409, "nothing to export yet: {r:?}");
    version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "{{input.recipient}}")]}),
    )
    .await;
    let r = s.get(&format!("{PATH}/{wf}/export"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["kind"], "upivia.skill");
    assert_eq!(
        r.body["input_schema"]["required"],
        json!(["recipient", "who"]),
        "{r:?}"
    );
    assert_eq!(r.body["steps"][0]["id"], "a");

    let grants = format!("{PATH}/{wf}/agents");
    let r = s
        .post(&grants, &s.pat, json!({"agent_id": helper.id}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s.get(&grants, &s.pat).await;
    assert_eq!(r.body["agents"][0]["agent_id"], helper.id.as_str(), "{r:?}");
    assert_eq!(r.body["agents"][0]["agent_name"], "helper");
    let r = s
        .post(&grants, &s.pat, json!({"agent_id": "agt_nosuch"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("{grants}?agent_id={}", helper.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("{grants}?agent_id={}", helper.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.send(Method::DELETE, &grants, Some(&s.pat), None).await;
    assert_eq!(r.status, 400, "{r:?}");

    let r = s.get(&format!("{PATH}/from-template"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    let templates = r.body["templates"].as_array().unwrap();
    assert!(templates.len() >= 5);
    assert!(templates.iter().any(|t| t["id"] == "alert-to-oncall"));
    assert!(templates.iter().all(|t| t["preview"]["steps"].is_array()));
    let r = s
        .post(
            &format!("{PATH}/from-template"),
            &s.pat,
            json!({"template_id": "daily-spend-digest", "agent_id": agent.id}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let made = r.body["workflow"]["id"].as_str().unwrap();
    assert_eq!(r.body["workflow"]["name"], "Daily spend digest email");
    assert_eq!(r.body["version"]["status"], "draft");
    let r = s.get(&format!("{PATH}/{made}/agents"), &s.pat).await;
    assert_eq!(r.body["agents"][0]["agent_id"], agent.id.as_str(), "{r:?}");
    let r = s
        .post(
            &format!("{PATH}/from-template"),
            &s.pat,
            json!({"template_id": "nope", "agent_id": agent.id}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn a_pass_cut_off_after_sending_resumes_without_sending_twice() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(&s, &wf, json!({"steps": [{"id": "gate", "type": "approval"}, email_step("send", "a@example.com"),
                                              email_step("after", "b@example.com")],
                                    "edges": [{"from": "gate", "to": "send"}, {"from": "send", "to": "after"}]})).await;
    let run_id = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    until(&s, &wf, &run_id, "waiting_approval").await;
    // The state a pass leaves when it dies after sending `send`: the gate
    // approved, `send` running with nothing recorded, its request made.
    // Read before the run moves on: once it is `running`, a worker pass may
    // make the send (the same request) before this test does.
    let before = s.balance().await;
    let store = s.platform.stores.workflows.clone();
    let run = store.run_by_id(&run_id).await.unwrap().unwrap();
    let mut steps: Vec<Value> = serde_json::from_value(run.steps.clone()).unwrap();
    steps[0]["status"] = json!("completed");
    steps[1]["status"] = json!("running");
    let mut next = run.clone();
    next.steps = json!(steps);
    next.status = upivia_server::store::RunStatus::Running;
    store
        .save_run(SaveRun {
            run: next,
            expected_revision: run.revision,
            now: s.platform.clock.now(),
            audit: vec![],
        })
        .await
        .unwrap();
    let sent = dispatch::dispatch(
        &s.platform,
        Dispatch {
            org_id: OrgId::from(&run.org_id),
            agent_id: AgentId::from(&agent.id),
            service: "email".into(),
            operation: "send".into(),
            payload: json!({"to": "a@example.com", "subject": "From ci", "body": "step "}),
            idempotency_key: Some(format!("workflow-step:{run_id}:send:1")),
            metadata: json!({"workflow_run_id": run_id, "workflow_step_id": "send",
                             "workflow_id": wf, "attempt": 1}),
        },
    )
    .await
    .unwrap();
    assert_eq!(sent.status, "executed", "{sent:?}");
    let run = until(&s, &wf, &run_id, "completed").await;
    // What one email costs: the send's own charge (the same whether this
    // dispatch made it or replayed a worker's).
    let one = sent.body["cost_cents"].as_i64().unwrap();
    assert_eq!(
        step(&run, "send")["service_request_id"],
        sent.request_id.unwrap().as_str(),
        "the same request"
    );
    assert_eq!(before - s.balance().await, 2 * one, "send once, after once");
    assert_eq!(executed(&s).await, 2);
    s.ledger_ok().await;
    let _ = email();
}

#[tokio::test]
async fn racing_decisions_on_a_gate_and_a_publish_request_decide_each_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &agent).await;
    let v = version(
        &s,
        &wf,
        json!({"steps": [{"id": "gate", "type": "approval"}, email_step("after", "a@example.com")],
                                    "edges": [{"from": "gate", "to": "after"}]}),
    )
    .await;
    let run_id = start(&s, &wf, &v, json!({})).await.body["run"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = until(&s, &wf, &run_id, "waiting_approval").await;
    let gate = step(&run, "gate")["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let publish = s
        .post(
            &format!("{PATH}/{wf}/versions/{v}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    let publish = publish.body["publish_request"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [gate, publish] {
        let paths: Vec<String> = (0..6)
            .map(|i| {
                let verb = if i % 2 == 0 { "approve" } else { "reject" };
                format!("/api/v1/approvals/{id}/{verb}")
            })
            .collect();
        let decisions: Vec<_> = paths.iter().map(|p| s.post(p, &s.pat, json!({}))).collect();
        let answers = futures::future::join_all(decisions).await;
        let won = answers.iter().filter(|r| r.status == 200).count();
        let refused = answers
            .iter()
            .filter(|r| r.code() == "approval_already_decided")
            .count();
        assert_eq!((won, refused), (1, 5), "{id}: {answers:?}");
    }
    let decided = audit_events(&s, "workflow.step_approved").await.len()
        + audit_events(&s, "workflow.step_rejected").await.len();
    assert_eq!(decided, 1, "one decision is in the audit trail");
}

/// Saves `def` as a version of `wf` and has it published (asked, then
/// approved in the inbox).
async fn published(s: &TestServer, wf: &str, def: Value) -> String {
    let v = version(s, wf, def).await;
    let r = s
        .post(
            &format!("{PATH}/{wf}/versions/{v}/publish"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let request = r.body["publish_request"]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/approvals/{request}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    v
}

#[tokio::test]
async fn a_granted_agent_starts_a_workflow_through_a_governed_workflow_run() {
    let s = TestServer::start().await;
    let owner = s.funded_agent("email", 10_000).await;
    let helper = s.agent(json!({"name": "helper"})).await;
    s.enable(&helper, json!({"service_id": "workflow"})).await;
    let wf = workflow(&s, &owner).await;
    let run_payload = json!({"workflow_id": wf, "input": {"who": "helper"}});

    // Not granted: it reads as not there, and nothing is started.
    let r = s
        .request(&helper, "workflow", "run", run_payload.clone())
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{r:?}");

    s.post(
        &format!("{PATH}/{wf}/agents"),
        &s.pat,
        json!({"agent_id": helper.id}),
    )
    .await;
    // Granted, but only a draft: an agent never starts one.
    version(
        &s,
        &wf,
        json!({"steps": [email_step("a", "a@example.com")]}),
    )
    .await;
    let r = s
        .request(&helper, "workflow", "run", run_payload.clone())
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "no_published_version"),
        "{r:?}"
    );
    let v = published(
        &s,
        &wf,
        json!({"steps": [email_step("a", "a@example.com")]}),
    )
    .await;
    let r = s
        .request(
            &helper,
            "workflow",
            "run",
            json!({"workflow_id": wf, "input": "x"}),
        )
        .await;
    assert_eq!(r.status, 422, "input must be an object: {r:?}");

    let before = s.balance().await;
    let r = s
        .request_with_key(
            &helper,
            "start-1",
            json!({"service": "workflow", "operation": "run", "payload": run_payload}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["cost_cents"], 0, "starting is free: {r:?}");
    let run = r.body["result"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["result"]["workflow_id"], wf.as_str());
    assert_eq!(r.body["result"]["version_id"], v.as_str());
    // The same idempotency key is the same start.
    let again = s
        .request_with_key(
            &helper,
            "start-1",
            json!({"service": "workflow", "operation": "run", "payload": run_payload}),
        )
        .await;
    assert_eq!(again.body["result"]["run_id"], run.as_str(), "{again:?}");

    let done = until(&s, &wf, &run, "completed").await;
    assert_eq!(
        done["triggered_by"],
        format!("agent:{}", helper.id),
        "{done}"
    );
    assert_eq!(done["test_run"], false);
    let sent = step(&done, "a");
    let step_request = sent["service_request_id"].as_str().unwrap();
    // The step ran as the workflow's agent, charged as its own request.
    let r = s
        .get(
            &format!("/api/v1/service-requests/{step_request}"),
            &owner.key,
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let theirs = s
        .get(
            &format!("/api/v1/service-requests/{step_request}"),
            &helper.key,
        )
        .await;
    assert_eq!(theirs.status, 404, "not the starter's request: {theirs:?}");
    assert!(s.balance().await < before, "the step was charged");
    let runs = s.get(&format!("{PATH}/{wf}/runs"), &s.pat).await;
    assert_eq!(runs.body["runs"].as_array().unwrap().len(), 1, "{runs:?}");
    let started = audit_events(&s, "workflow.run_started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["actor"], format!("agent:{}", helper.id));

    // Revoked: refused again.
    s.send(
        Method::DELETE,
        &format!("{PATH}/{wf}/agents?agent_id={}", helper.id),
        Some(&s.pat),
        None,
    )
    .await;
    let r = s
        .request(&helper, "workflow", "run", json!({"workflow_id": wf}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // Without a binding for workflow.run, policy refuses before anything.
    let stranger = s.agent(json!({"name": "stranger"})).await;
    s.post(
        &format!("{PATH}/{wf}/agents"),
        &s.pat,
        json!({"agent_id": stranger.id}),
    )
    .await;
    let r = s
        .request(&stranger, "workflow", "run", json!({"workflow_id": wf}))
        .await;
    assert_eq!(r.body["status"], "blocked", "{r:?}");
    // The owner agent may start its own workflow when it holds the binding.
    s.enable(&owner, json!({"service_id": "workflow"})).await;
    let r = s
        .request(&owner, "workflow", "run", json!({"workflow_id": wf}))
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
}

#[tokio::test]
async fn a_workflow_run_waiting_for_approval_starts_once_approved_and_is_checked_again() {
    let s = TestServer::start().await;
    let owner = s.funded_agent("email", 10_000).await;
    let wf = workflow(&s, &owner).await;
    published(
        &s,
        &wf,
        json!({"steps": [email_step("a", "a@example.com")]}),
    )
    .await;
    s.enable(
        &owner,
        json!({"service_id": "workflow", "require_approval": true}),
    )
    .await;
    let park = || async {
        let r = s
            .request(&owner, "workflow", "run", json!({"workflow_id": wf}))
            .await;
        assert_eq!(r.body["status"], "approval_required", "{r:?}");
        (
            r.body["approval_id"].as_str().unwrap().to_owned(),
            r.body["request_id"].as_str().unwrap().to_owned(),
        )
    };
    let runs = || async {
        let r = s.get(&format!("{PATH}/{wf}/runs"), &s.pat).await;
        r.body["runs"].as_array().unwrap().len()
    };
    let (approval, request) = park().await;
    assert_eq!(runs().await, 0, "nothing starts before the decision");
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    s.tick_workers().await;
    let got = s
        .get(&format!("/api/v1/service-requests/{request}"), &owner.key)
        .await;
    assert_eq!(got.body["status"], "executed", "{got:?}");
    assert_eq!(runs().await, 1);

    // Archived while the next start waited: it fails when it executes.
    let (approval, request) = park().await;
    let r = s
        .patch(
            &format!("{PATH}/{wf}"),
            &s.pat,
            json!({"status": "archived"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    s.post(
        &format!("/api/v1/approvals/{approval}/approve"),
        &s.pat,
        json!({}),
    )
    .await;
    s.tick_workers().await;
    let got = s
        .get(&format!("/api/v1/service-requests/{request}"), &owner.key)
        .await;
    assert_eq!(got.body["status"], "failed", "{got:?}");
    assert_eq!(runs().await, 1, "no second run");
}
