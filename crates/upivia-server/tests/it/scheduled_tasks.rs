//! Scheduled tasks over HTTP: one-time and recurring runs on a moved
//! clock, daylight saving gaps and folds in an IANA zone, a run that waits
//! for approval and completes when approved, runs cut off by a crash
//! dispatched again without a second charge, every update rule and
//! refusal, and isolation between organisations.

use reqwest::Method;
use serde_json::{Value, json};
use time::Duration;
use upivia_server::clock::{parse_rfc3339, rfc3339};
use upivia_server::domains::automation::dispatch::{self, Dispatch};
use upivia_server::ids::{AgentId, OrgId};
use upivia_server::model::Role;
use upivia_server::store::ClaimRun;

use crate::support::{TestAgent, TestServer, email};

const PATH: &str = "/api/v1/scheduled-tasks";

/// Moves the test clock so that it reads `target` (RFC 3339).
fn set_clock(s: &TestServer, target: &str) {
    let now = s.platform.clock.now();
    s.clock.advance(parse_rfc3339(target).unwrap() - now);
}

async fn create(s: &TestServer, agent: &TestAgent, extra: Value) -> Value {
    let mut body = json!({"agent_id": agent.id, "name": "digest", "category": "reports",
                          "service": "email", "operation": "send", "payload": email()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = s.post(PATH, &s.pat, body).await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["task"].clone()
}

async fn task(s: &TestServer, id: &str) -> Value {
    let r = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

#[tokio::test]
async fn a_one_time_task_runs_once_at_its_time_and_completes() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let at = rfc3339(s.platform.clock.now() + Duration::hours(1));
    let t = create(&s, &agent, json!({"run_at": at})).await;
    let id = t["id"].as_str().unwrap();
    assert!(id.starts_with("stask_"));
    assert_eq!(t["status"], "active");
    assert_eq!(t["next_run_at"], at.as_str());
    assert_eq!(t["timezone"], "UTC");

    assert_eq!(s.tick_automation().await, 0);
    s.clock.advance(Duration::hours(1));
    assert_eq!(s.tick_automation().await, 1);
    assert_eq!(s.tick_automation().await, 0);
    let got = task(&s, id).await;
    assert_eq!(got["task"]["status"], "completed");
    assert!(got["task"]["next_run_at"].is_null());
    assert_eq!(got["task"]["run_count"], 1);
    let runs = got["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{got}");
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["service_request_status"], "executed");
    let request = runs[0]["service_request_id"].as_str().unwrap();
    let r = s
        .get(&format!("/api/v1/service-requests/{request}"), &agent.key)
        .await;
    assert_eq!(
        r.body["status"], "executed",
        "the run is the agent's own request: {r:?}"
    );

    let r = s
        .get(&format!("{PATH}/{id}/runs?limit=10&offset=0"), &s.pat)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["total"], 1);
    assert_eq!(r.body["runs"][0]["id"], runs[0]["id"]);
    assert!(r.body["runs"][0]["started_at"].is_string());
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_recurring_task_in_new_york_runs_at_the_first_valid_instant_of_a_spring_gap() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    // New York skips 02:00–03:00 on 2027-03-14 (07:00Z).
    set_clock(&s, "2027-03-13T12:00:00Z");
    let t = create(
        &s,
        &agent,
        json!({"schedule": "30 2 * * *", "timezone": "America/New_York"}),
    )
    .await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["next_run_at"], "2027-03-14T07:00:00.000000Z", "{t}");
    set_clock(&s, "2027-03-14T06:59:00Z");
    assert_eq!(s.tick_automation().await, 0);
    set_clock(&s, "2027-03-14T07:00:01Z");
    assert_eq!(s.tick_automation().await, 1);
    let got = task(&s, id).await;
    assert_eq!(got["task"]["next_run_at"], "2027-03-15T06:30:00.000000Z");
    assert_eq!(got["task"]["status"], "active");
    assert_eq!(
        got["runs"][0]["scheduled_for"],
        "2027-03-14T07:00:00.000000Z"
    );
}

#[tokio::test]
async fn a_recurring_task_runs_once_in_an_autumn_fold() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    // 01:00–02:00 happens twice in New York on 2027-11-07 (EDT, then EST).
    set_clock(&s, "2027-11-06T12:00:00Z");
    let t = create(
        &s,
        &agent,
        json!({"schedule": "30 1 * * *", "timezone": "America/New_York"}),
    )
    .await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(t["next_run_at"], "2027-11-07T05:30:00.000000Z");
    set_clock(&s, "2027-11-07T05:31:00Z");
    assert_eq!(s.tick_automation().await, 1);
    // 01:30 again on the clock (EST): not again.
    set_clock(&s, "2027-11-07T06:31:00Z");
    assert_eq!(s.tick_automation().await, 0);
    let got = task(&s, id).await;
    assert_eq!(got["task"]["next_run_at"], "2027-11-08T06:30:00.000000Z");
    assert_eq!(got["task"]["run_count"], 1);
    // A one-time local time in the gap moves to its end; in the fold it
    // takes the first instant.
    set_clock(&s, "2028-03-11T12:00:00Z");
    let gap = create(
        &s,
        &agent,
        json!({"run_at": "2028-03-12T02:30:00", "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(gap["run_at"], "2028-03-12T07:00:00.000000Z");
    let fold = create(
        &s,
        &agent,
        json!({"run_at": "2028-11-05T01:30:00", "timezone": "America/New_York"}),
    )
    .await;
    assert_eq!(fold["run_at"], "2028-11-05T05:30:00.000000Z");
}

#[tokio::test]
async fn a_run_that_needs_approval_completes_when_approved() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let at = rfc3339(s.platform.clock.now() + Duration::minutes(5));
    let t = create(&s, &agent, json!({"run_at": at})).await;
    let id = t["id"].as_str().unwrap();
    s.clock.advance(Duration::minutes(5));
    assert_eq!(s.tick_automation().await, 1);
    let got = task(&s, id).await;
    let run = &got["runs"][0];
    assert_eq!(run["status"], "approval_required", "{got}");
    assert_eq!(run["service_request_status"], "approval_required");
    let approvals = s.get("/api/v1/approvals", &s.pat).await;
    let approval = approvals.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["request_id"] == run["service_request_id"])
        .unwrap_or_else(|| panic!("{approvals:?}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let got = task(&s, id).await;
    assert_eq!(got["runs"][0]["status"], "completed", "{got}");
    assert_eq!(got["runs"][0]["service_request_status"], "executed");
}

#[tokio::test]
async fn a_run_cut_off_by_a_crash_is_dispatched_again_without_a_second_charge() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let at = rfc3339(s.platform.clock.now() + Duration::minutes(1));
    let t = create(&s, &agent, json!({"run_at": at})).await;
    let id = t["id"].as_str().unwrap().to_owned();
    s.clock.advance(Duration::minutes(1));
    // A pass claims the run and sends it, then dies before recording it.
    let store = s.platform.stores.scheduled_tasks.clone();
    let run = store
        .claim_task_run(ClaimRun {
            task_id: id.clone(),
            run_id: "srun_crashed".into(),
            tick: parse_rfc3339(&at).unwrap(),
            next: None,
            now: s.platform.clock.now(),
        })
        .await
        .unwrap()
        .expect("the claim wins");
    let before = s.balance().await;
    let sent = dispatch::dispatch(
        &s.platform,
        Dispatch {
            org_id: OrgId::from(&run.org_id),
            agent_id: AgentId::from(&agent.id),
            service: "email".into(),
            operation: "send".into(),
            payload: email(),
            idempotency_key: Some(format!("scheduled-task-run:{}", run.id)),
            metadata: json!({"scheduled_task_id": id, "scheduled_task_run_id": run.id,
                             "scheduled_for": at}),
        },
    )
    .await
    .unwrap();
    assert_eq!(sent.status, "executed");
    let charged = before - s.balance().await;
    assert!(charged > 0);
    // Not yet stale: nobody takes it.
    assert_eq!(s.tick_automation().await, 0);
    s.clock.advance(Duration::seconds(61));
    assert_eq!(s.tick_automation().await, 1, "the stale run is taken over");
    assert_eq!(s.tick_automation().await, 0);
    assert_eq!(
        before - s.balance().await,
        charged,
        "the same request, not a second one"
    );
    let got = task(&s, &id).await;
    assert_eq!(got["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        got["runs"][0]["service_request_id"],
        sent.request_id.unwrap().as_str()
    );
    assert_eq!(got["runs"][0]["status"], "completed");
    s.ledger_ok().await;
}

#[tokio::test]
async fn racing_passes_run_each_tick_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let t = create(&s, &agent, json!({"schedule": "*/10 * * * * *"})).await;
    for _ in 0..3 {
        s.clock.advance(Duration::seconds(10));
        let passes: Vec<_> = (0..4).map(|_| s.tick_automation()).collect();
        let ran: usize = futures::future::join_all(passes).await.into_iter().sum();
        assert_eq!(ran, 1);
    }
    let got = task(&s, t["id"].as_str().unwrap()).await;
    assert_eq!(got["task"]["run_count"], 3);
    assert_eq!(got["runs_total"], 3);
}

#[tokio::test]
async fn updates_pause_resume_reschedule_and_final_states_stay_final() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let t = create(&s, &agent, json!({"schedule": "0 * * * *"})).await;
    let id = t["id"].as_str().unwrap();
    let path = format!("{PATH}/{id}");
    let r = s.patch(&path, &s.pat, json!({"status": "paused"})).await;
    assert_eq!(r.body["task"]["status"], "paused", "{r:?}");
    s.clock.advance(Duration::hours(3));
    assert_eq!(s.tick_automation().await, 0, "a paused task does not run");
    let r = s.patch(&path, &s.pat, json!({"status": "active"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let next = parse_rfc3339(r.body["task"]["next_run_at"].as_str().unwrap()).unwrap();
    assert!(
        next > s.platform.clock.now(),
        "resumed from now, nothing made up"
    );
    assert_eq!(s.tick_automation().await, 0);

    let r = s
        .patch(&path, &s.pat, json!({"schedule": "*/15 * * * *", "payload": {"to": "a@example.com", "subject": "s", "body": "b"}, "name": "quarterly"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["task"]["schedule"], "*/15 * * * *");
    assert_eq!(r.body["task"]["name"], "quarterly");
    assert_eq!(r.body["task"]["payload"]["to"], "a@example.com");

    for (body, status) in [
        (json!({"status": "sleeping"}), 422),
        (json!({"schedule": "nope"}), 422),
        (json!({"timezone": "Nowhere/City"}), 422),
        (json!({"agent_id": "agt_x"}), 400),
        (json!({"run_at": "2020-01-01T00:00:00Z"}), 422),
        (
            json!({"schedule": "* * * * *", "run_at": "2030-01-01T00:00:00Z"}),
            422,
        ),
        (json!({"payload": []}), 422),
    ] {
        let r = s.patch(&path, &s.pat, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {r:?}");
    }

    let r = s.patch(&path, &s.pat, json!({"status": "cancelled"})).await;
    assert_eq!(r.body["task"]["status"], "cancelled", "{r:?}");
    assert!(r.body["task"]["next_run_at"].is_null());
    let r = s.patch(&path, &s.pat, json!({"status": "active"})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "task_finished"),
        "{r:?}"
    );
    s.clock.advance(Duration::hours(1));
    assert_eq!(s.tick_automation().await, 0);

    let r = s.send(Method::DELETE, &path, Some(&s.pat), None).await;
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(s.get(&path, &s.pat).await.status, 404);
    assert_eq!(
        s.send(Method::DELETE, &path, Some(&s.pat), None)
            .await
            .status,
        404
    );
    assert_eq!(s.get(&format!("{path}/runs"), &s.pat).await.status, 404);
}

#[tokio::test]
async fn create_refuses_what_cannot_run_and_lists_filter() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let other_agent = s.agent(json!({})).await;
    let future = rfc3339(s.platform.clock.now() + Duration::hours(2));
    for (body, status, field) in [
        (
            json!({"agent_id": agent.id, "operation": "email.send"}),
            422,
            "run_at",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": future, "schedule": "* * * * *"}),
            422,
            "schedule",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": "2001-01-01T00:00:00Z"}),
            422,
            "run_at",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": "soon"}),
            422,
            "run_at",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "schedule": "0 0 31 2 *"}),
            422,
            "schedule",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email", "run_at": future}),
            422,
            "operation",
        ),
        (
            json!({"agent_id": agent.id, "service": "nosuch", "operation": "x", "run_at": future}),
            422,
            "operation",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": future, "payload": "x"}),
            422,
            "payload",
        ),
        (
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": future, "name": "\u{202e}x"}),
            422,
            "name",
        ),
        (
            json!({"operation": "email.send", "run_at": future}),
            422,
            "agent_id",
        ),
    ] {
        let r = s.post(PATH, &s.pat, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {r:?}"
        );
    }
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"agent_id": "agt_nosuch", "operation": "email.send", "run_at": future}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    let a = create(&s, &agent, json!({"run_at": future})).await;
    let b = create(
        &s,
        &other_agent,
        json!({"schedule": "0 9 * * 1", "category": "ops"}),
    )
    .await;
    let r = s
        .get(&format!("{PATH}?agent_id={}", agent.id), &s.pat)
        .await;
    assert_eq!(r.body["total"], 1, "{r:?}");
    assert_eq!(r.body["tasks"][0]["id"], a["id"]);
    let r = s.get(&format!("{PATH}?category=ops"), &s.pat).await;
    assert_eq!(r.body["tasks"][0]["id"], b["id"], "{r:?}");
    let r = s.get(&format!("{PATH}?limit=1&offset=1"), &s.pat).await;
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["tasks"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    s.patch(
        &format!("{PATH}/{}", b["id"].as_str().unwrap()),
        &s.pat,
        json!({"status": "paused"}),
    )
    .await;
    let r = s.get(&format!("{PATH}?status=paused"), &s.pat).await;
    assert_eq!(r.body["total"], 1, "{r:?}");
    assert_eq!(
        s.get(&format!("{PATH}?status=asleep"), &s.pat).await.status,
        400
    );
    assert_eq!(
        s.get(&format!("{PATH}?limit=1000"), &s.pat).await.status,
        400
    );

    // Other organisations and members of this one.
    let other = s.other_org("Elsewhere").await;
    let r = s.get(PATH, &other.pat).await;
    assert_eq!(r.body["total"], 0, "{r:?}");
    let path = format!("{PATH}/{}", a["id"].as_str().unwrap());
    assert_eq!(s.get(&path, &other.pat).await.status, 404);
    assert_eq!(
        s.send(Method::DELETE, &path, Some(&other.pat), None)
            .await
            .status,
        404
    );
    let member = s.user_pat(Role::Member).await;
    assert_eq!(s.get(&path, &member).await.status, 200);
    assert_eq!(
        s.patch(&path, &member, json!({"status": "paused"}))
            .await
            .status,
        403
    );
    assert_eq!(
        s.send(Method::DELETE, &path, Some(&member), None)
            .await
            .status,
        403
    );
    let r = s
        .post(
            PATH,
            &member,
            json!({"agent_id": agent.id, "operation": "email.send", "run_at": future}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(s.get(PATH, &agent.key).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_one_run_claim_it_once() {
    if !crate::support::on_postgres() {
        return;
    }
    use upivia_server::store::ScheduledTaskStore;
    use upivia_server::store::postgres::{PgSettings, PgStore};
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let t = create(&s, &agent, json!({"schedule": "0 * * * *"})).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let tick = parse_rfc3339(t["next_run_at"].as_str().unwrap()).unwrap();
    let url = s.database.as_ref().unwrap().url().to_owned();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        nodes.push(PgStore::connect(&url, PgSettings::default()).await.unwrap());
    }
    let mut claims = Vec::new();
    for i in 0..20 {
        let node = nodes[i % 2].clone();
        let id = id.clone();
        claims.push(tokio::spawn(async move {
            node.claim_task_run(ClaimRun {
                task_id: id,
                run_id: format!("srun_race{i}"),
                tick,
                next: Some(tick + Duration::hours(1)),
                now: tick,
            })
            .await
            .unwrap()
        }));
    }
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.unwrap().is_some());
    }
    assert_eq!(won, 1, "one node wins the run");
    let got = task(&s, &id).await;
    assert_eq!(got["runs_total"], 1, "{got}");
    assert_eq!(got["task"]["run_count"], 1);
}
