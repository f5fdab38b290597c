//! Human-input requests over HTTP: a workflow's `human_input` step pauses
//! its run and asks once; the answer (once: a second is 409) completes the
//! step with `{text, answered_by}` that later steps read, and the run goes
//! on. Members see and answer what is assigned to them or to nobody,
//! admins everything of their organisation, another organisation nothing.
//! Cancelling the run cancels its requests; the ops snapshot counts the
//! pending ones; a room asks through the domain function.

use std::time::Duration as StdDuration;

use serde_json::{Value, json};
use upivia_server::domains::human_input::service::{self, Ask, Source};
use upivia_server::ids::OrgId;
use upivia_server::model::Role;

use crate::support::{TestAgent, TestServer};
use crate::teams::audit_events;

const WF: &str = "/api/v1/workflows";
const HI: &str = "/api/v1/human-input";

async fn workflow(s: &TestServer, agent: &TestAgent, def: Value) -> (String, String) {
    let r = s
        .post(WF, &s.pat, json!({"name": "Release", "agent_id": agent.id}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let wf = r.body["workflow"]["id"].as_str().unwrap().to_owned();
    let r = s.post(&format!("{WF}/{wf}/versions"), &s.pat, def).await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.body["version"]["id"].as_str().unwrap().to_owned();
    (wf, v)
}

async fn start(s: &TestServer, wf: &str, v: &str) -> String {
    let r = s
        .post(
            &format!("{WF}/{wf}/runs"),
            &s.pat,
            json!({"workflow_version_id": v, "test_run": true, "input": {"version": "1.2"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["run"]["id"].as_str().unwrap().to_owned()
}

async fn get_run(s: &TestServer, wf: &str, run: &str) -> Value {
    let r = s.get(&format!("{WF}/{wf}/runs/{run}"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["run"].clone()
}

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

async fn pending(s: &TestServer, pat: &str) -> Vec<Value> {
    let r = s.get(HI, pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["requests"].as_array().unwrap().clone()
}

/// The request of `run` the owner sees, waiting for it to be asked.
async fn request_of(s: &TestServer, run: &str) -> Value {
    for _ in 0..100 {
        s.tick_automation().await;
        if let Some(r) = pending(s, &s.pat)
            .await
            .into_iter()
            .find(|r| r["workflow_run_id"] == run)
        {
            return r;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!("run {run} never asked");
}

async fn email_of(s: &TestServer, pat: &str) -> String {
    let r = s.get("/api/v1/whoami", pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["email"].as_str().unwrap().to_owned()
}

fn ask_def(assignee: Option<&str>) -> Value {
    let mut ask = json!({"id": "ask", "type": "human_input", "label": "Release notes",
                         "prompt": "Notes for {{input.version}}?"});
    if let Some(a) = assignee {
        ask["assignee_email"] = json!(a);
    }
    json!({"steps": [
        ask,
        {"id": "check", "type": "condition",
         "if": {"path": "steps.ask.output.text", "equals": "ship it"}},
        {"id": "mail", "type": "service_request", "operation": "email.send",
         "payload": {"to": "team@example.com", "subject": "Release",
                     "body": "{{steps.ask.output.text}} ({{steps.ask.result.answered_by}})"}}
    ], "edges": [{"from": "ask", "to": "check"}, {"from": "check", "to": "mail"}]})
}

#[tokio::test]
async fn a_human_input_step_pauses_the_run_and_the_answer_resumes_it_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let (wf, v) = workflow(&s, &agent, ask_def(None)).await;
    let run = start(&s, &wf, &v).await;
    let paused = until(&s, &wf, &run, "waiting_approval").await;
    assert_eq!(step(&paused, "ask")["status"], "waiting_input", "{paused}");
    assert_eq!(step(&paused, "ask")["step_type"], "human_input");

    let req = request_of(&s, &run).await;
    assert!(req["id"].as_str().unwrap().starts_with("hin_"), "{req}");
    assert_eq!(req["title"], "Release notes");
    assert_eq!(req["prompt_text"], "Notes for 1.2?");
    assert_eq!(req["source"], "workflow");
    assert_eq!(req["workflow_name"], "Release");
    assert_eq!(req["step_id"], "ask");
    assert_eq!(req["agent_id"], agent.id.as_str());
    assert_eq!(req["status"], "pending");
    assert!(req["room_id"].is_null() && req["assignee_email"].is_null());
    let id = req["id"].as_str().unwrap().to_owned();
    // Passes of the runner while it waits ask nothing more.
    for _ in 0..3 {
        s.tick_automation().await;
    }
    let mine: Vec<Value> = pending(&s, &s.pat)
        .await
        .into_iter()
        .filter(|r| r["workflow_run_id"] == run.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(audit_events(&s, "human_input.requested").await.len(), 1);
    assert_eq!(
        step(&get_run(&s, &wf, &run).await, "ask")["human_input_id"],
        id.as_str()
    );
    let snap = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(snap.body["blockers"]["pending_human_inputs"], 1, "{snap:?}");
    assert_eq!(snap.body["fleet"]["workflow_runs_paused"], 1, "{snap:?}");

    let r = s
        .post(&format!("{HI}/{id}"), &s.pat, json!({"text": "ship it"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["request"]["status"], "answered");
    assert_eq!(r.body["request"]["answer_text"], "ship it");
    let owner = email_of(&s, &s.pat).await;
    assert_eq!(r.body["request"]["answered_by"], owner.as_str());
    assert!(r.body["request"]["answered_at"].is_string());
    let again = s
        .post(&format!("{HI}/{id}"), &s.pat, json!({"text": "no, wait"}))
        .await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "human_input_already_answered"),
        "{again:?}"
    );

    let done = until(&s, &wf, &run, "completed").await;
    assert_eq!(
        step(&done, "ask")["result"],
        json!({"text": "ship it", "answered_by": owner})
    );
    assert_eq!(step(&done, "check")["result"]["value"], true, "{done}");
    assert_eq!(step(&done, "mail")["status"], "completed", "{done}");
    assert!(pending(&s, &s.pat).await.is_empty());
    let answered = s.get(&format!("{HI}?status=answered"), &s.pat).await;
    assert_eq!(answered.body["requests"][0]["id"], id.as_str());
    let all = s.get(&format!("{HI}?status=all"), &s.pat).await;
    assert_eq!(all.body["requests"].as_array().unwrap().len(), 1);
    let events = audit_events(&s, "human_input.answered").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["answer_text"], "ship it");
    let snap = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(snap.body["blockers"]["pending_human_inputs"], 0, "{snap:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn members_see_and_answer_only_what_is_theirs_or_nobodys_and_other_orgs_nothing() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let member = s.user_pat(Role::Member).await;
    let other_member = s.user_pat(Role::Member).await;
    let admin = s.user_pat(Role::Admin).await;
    let member_email = email_of(&s, &member).await;

    let (wf, v) = workflow(&s, &agent, ask_def(Some(&member_email.to_uppercase()))).await;
    let run = start(&s, &wf, &v).await;
    let assigned = request_of(&s, &run).await;
    assert_eq!(assigned["assignee_email"], member_email.to_lowercase());
    let assigned_id = assigned["id"].as_str().unwrap().to_owned();
    let (wf2, v2) = workflow(&s, &agent, ask_def(None)).await;
    let run2 = start(&s, &wf2, &v2).await;
    let open_id = request_of(&s, &run2).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let ids = |rows: Vec<Value>| -> Vec<String> {
        let mut ids: Vec<String> = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![assigned_id.clone(), open_id.clone()];
    both.sort();
    assert_eq!(ids(pending(&s, &member).await), both);
    assert_eq!(ids(pending(&s, &admin).await), both);
    assert_eq!(ids(pending(&s, &other_member).await), vec![open_id.clone()]);

    let r = s
        .post(
            &format!("{HI}/{assigned_id}"),
            &other_member,
            json!({"text": "me"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // Another organisation sees none of it and answers nothing (404).
    let other = s.other_org("Elsewhere Ltd").await;
    let r = s.get(HI, &other.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["requests"], json!([]));
    let r = s
        .post(&format!("{HI}/{open_id}"), &other.pat, json!({"text": "x"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let snap = s.get("/api/v1/ops/snapshot", &other.pat).await;
    assert_eq!(snap.body["blockers"]["pending_human_inputs"], 0, "{snap:?}");

    let r = s
        .post(
            &format!("{HI}/{assigned_id}"),
            &member,
            json!({"text": "ship it"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["request"]["answered_by"], member_email.as_str());
    until(&s, &wf, &run, "completed").await;
    let r = s
        .post(
            &format!("{HI}/{open_id}"),
            &other_member,
            json!({"text": "hold"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let done = until(&s, &wf2, &run2, "completed").await;
    assert_eq!(step(&done, "check")["result"]["value"], false, "{done}");
    assert_eq!(step(&done, "mail")["status"], "skipped", "{done}");
}

#[tokio::test]
async fn answers_and_lists_are_validated() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let (wf, v) = workflow(&s, &agent, ask_def(None)).await;
    let run = start(&s, &wf, &v).await;
    let id = request_of(&s, &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, want) in [
        (json!({}), "text"),
        (json!({"text": ""}), "text"),
        (json!({"text": "   "}), "text"),
        (json!({"text": 7}), "text"),
    ] {
        let r = s.post(&format!("{HI}/{id}"), &s.pat, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(want));
    }
    let r = s
        .post(&format!("{HI}/hin_nothing"), &s.pat, json!({"text": "x"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.get(&format!("{HI}?status=maybe"), &s.pat).await;
    assert_eq!(r.status, 400, "{r:?}");
    let agent_key = s.get(HI, &agent.key).await;
    assert_eq!(agent_key.status, 403, "{agent_key:?}");
    // A step without a prompt is refused when the version is saved.
    let r = s
        .post(
            &format!("{WF}/{wf}/versions"),
            &s.pat,
            json!({"steps": [{"id": "q", "type": "human_input"}]}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prompt")
    );
    // Still pending after all that.
    assert_eq!(pending(&s, &s.pat).await.len(), 1);
}

#[tokio::test]
async fn cancelling_the_run_cancels_its_requests() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let (wf, v) = workflow(&s, &agent, ask_def(None)).await;
    let run = start(&s, &wf, &v).await;
    let id = request_of(&s, &run).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(&format!("{WF}/{wf}/runs/{run}/cancel"), &s.pat, json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(pending(&s, &s.pat).await.is_empty());
    let r = s.get(&format!("{HI}?status=cancelled"), &s.pat).await;
    assert_eq!(r.body["requests"][0]["id"], id.as_str(), "{r:?}");
    assert!(r.body["requests"][0]["cancelled_at"].is_string());
    let r = s
        .post(&format!("{HI}/{id}"), &s.pat, json!({"text": "too late"}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "human_input_cancelled"),
        "{r:?}"
    );
    assert_eq!(audit_events(&s, "human_input.cancelled").await.len(), 1);
    s.tick_automation().await;
    assert_eq!(get_run(&s, &wf, &run).await["status"], "cancelled");
    let snap = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(snap.body["blockers"]["pending_human_inputs"], 0, "{snap:?}");
}

#[tokio::test]
async fn a_room_asks_once_per_key_and_its_answer_is_recorded() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"name": "roomie"})).await;
    let org = s
        .platform
        .stores
        .identity
        .primary_org()
        .await
        .unwrap()
        .unwrap()
        .id;
    let ask = || Ask {
        org_id: OrgId::from(&org),
        title: "Which colour?".into(),
        prompt_text: "Pick the launch colour".into(),
        assignee_email: None,
        source: Source::Room {
            room_id: "room_test".into(),
            agent_id: Some(agent.id.clone()),
        },
        dedupe_key: Some("room:room_test:1".into()),
        actor: format!("agent:{}", agent.id),
    };
    let (a, b) = tokio::join!(
        service::ask(&s.platform, ask()),
        service::ask(&s.platform, ask())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id, b.id, "one request per key");
    let rows = pending(&s, &s.pat).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["source"], "room");
    assert_eq!(rows[0]["room_id"], "room_test");
    assert!(rows[0]["workflow_name"].is_null());
    let snap = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(snap.body["blockers"]["pending_human_inputs"], 1, "{snap:?}");
    let r = s
        .post(&format!("{HI}/{}", a.id), &s.pat, json!({"text": "teal"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["request"]["answer_text"], "teal");
    assert_eq!(audit_events(&s, "human_input.requested").await.len(), 1);
    assert_eq!(audit_events(&s, "human_input.answered").await.len(), 1);
}
