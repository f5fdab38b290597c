//! `GET /ops/snapshot` and `GET /ops/runs`: the operator's figures, read
//! from the stores, and the recent runs of every workflow.

use serde_json::{Value, json};

use upivia_server::model::Role;

use crate::support::{TestAgent, TestServer, email};

/// A workflow of `agent` whose one step is an approval gate, and a test
/// run of its draft: the workflow and the run.
async fn gated_run(s: &TestServer, agent: &TestAgent, name: &str) -> (String, String) {
    let w = s
        .post(
            "/api/v1/workflows",
            &s.pat,
            json!({"name": name, "agent_id": agent.id}),
        )
        .await;
    assert_eq!(w.status, 200, "{w:?}");
    let w = w.body["workflow"]["id"].as_str().unwrap().to_owned();
    let v = s
        .post(
            &format!("/api/v1/workflows/{w}/versions"),
            &s.pat,
            json!({"steps": [{"id": "gate", "type": "approval"}]}),
        )
        .await;
    assert_eq!(v.status, 200, "{v:?}");
    let v = v.body["version"]["id"].as_str().unwrap().to_owned();
    let run = s
        .post(
            &format!("/api/v1/workflows/{w}/runs"),
            &s.pat,
            json!({"workflow_version_id": v, "test_run": true}),
        )
        .await;
    assert_eq!(run.status, 201, "{run:?}");
    (w, run.body["run"]["id"].as_str().unwrap().to_owned())
}

async fn snapshot(s: &TestServer) -> Value {
    let r = s.get("/api/v1/ops/snapshot", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn lease<'a>(snap: &'a Value, subsystem: &str) -> &'a Value {
    snap["automation"]["scheduler_leases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["subsystem"] == subsystem)
        .unwrap_or_else(|| panic!("no lease {subsystem}: {snap}"))
}

#[tokio::test]
async fn the_snapshot_counts_fleet_blockers_spend_and_leases() {
    let s = TestServer::start().await;
    s.credit(10_000).await;
    let worker = s.agent(json!({})).await;
    s.enable(&worker, json!({"service_id": "email"})).await;
    let done = s.request(&worker, "email", "send", email()).await;
    assert_eq!(done.body["status"], "executed", "{done:?}");
    let cost = done.body["cost_cents"].as_i64().unwrap();
    assert!(cost > 0, "{done:?}");

    // An agent whose every request fails is an incident.
    let broken = s.agent(json!({})).await;
    s.enable(&broken, json!({"service_id": "email"})).await;
    let failed = s
        .request(
            &broken,
            "email",
            "send",
            json!({"to": "ops@example.com", "subject": "x", "body": "sandbox-error"}),
        )
        .await;
    assert_eq!(failed.body["status"], "failed", "{failed:?}");

    let paused = s.agent(json!({})).await;
    let r = s
        .patch(
            &format!("/api/v1/agents/{}", paused.id),
            &s.pat,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // One approval waiting, and a workflow run at its gate.
    let (_, _, _) = s.parked().await;
    let (_, run) = gated_run(&s, &worker, "Gate").await;
    for _ in 0..20 {
        s.tick_automation().await;
        let r = s
            .get("/api/v1/ops/runs?status=waiting_approval", &s.pat)
            .await;
        if r.body["runs"][0]["id"] == run.as_str() {
            break;
        }
    }
    s.tick_workers().await;

    let snap = snapshot(&s).await;
    let fleet = &snap["fleet"];
    // parked() made one more agent.
    assert_eq!(fleet["agents_total"], 4, "{snap}");
    assert_eq!(fleet["agents_active"], 3, "{snap}");
    assert_eq!(fleet["rooms_active"], 0, "{snap}");
    assert_eq!(fleet["workflow_runs_paused"], 1, "{snap}");
    assert_eq!(fleet["workflow_runs_running"], 0, "{snap}");
    let blockers = &snap["blockers"];
    assert_eq!(blockers["pending_approvals"], 2, "{snap}");
    assert_eq!(blockers["pending_human_inputs"], 0, "{snap}");
    assert_eq!(blockers["active_incidents"], 1, "{snap}");

    let spend = &snap["spend"];
    assert_eq!(spend["balance_cents"], s.balance().await, "{snap}");
    assert_eq!(spend["month_spend_cents"], cost, "{snap}");
    assert!(
        spend["forecast_month_cents"].as_i64().unwrap() >= cost,
        "{snap}"
    );
    let balance = spend["balance_cents"].as_i64().unwrap();
    assert_eq!(
        spend["days_until_balance_exhausted"],
        balance * 7 / cost,
        "{snap}"
    );

    for subsystem in [
        "workers",
        "reconcile",
        "approval_expiry",
        "idempotency_retention",
        "rate_bucket_retention",
    ] {
        let l = lease(&snap, subsystem);
        assert_eq!(l["healthy"], true, "{l}");
        assert!(l["heartbeat_age_s"].as_u64().unwrap() < 60, "{l}");
    }
    let recovery = snap["automation"]["scheduler_leases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["subsystem"] == "recovery");
    assert_eq!(recovery, crate::support::on_postgres(), "{snap}");

    // A heartbeat gone quiet is unhealthy.
    s.clock.advance(time::Duration::hours(24 * 30));
    let snap = snapshot(&s).await;
    assert_eq!(lease(&snap, "workers")["healthy"], false, "{snap}");
}

#[tokio::test]
async fn without_spend_the_balance_never_runs_out_and_members_are_refused() {
    let s = TestServer::start().await;
    s.credit(500).await;
    let snap = snapshot(&s).await;
    assert_eq!(snap["spend"]["balance_cents"], 500, "{snap}");
    assert_eq!(snap["spend"]["month_spend_cents"], 0, "{snap}");
    assert_eq!(snap["spend"]["forecast_month_cents"], 0, "{snap}");
    assert!(
        snap["spend"]["days_until_balance_exhausted"].is_null(),
        "{snap}"
    );
    assert_eq!(snap["fleet"]["agents_total"], 0, "{snap}");

    let member = s.user_pat(Role::Member).await;
    let r = s.get("/api/v1/ops/snapshot", &member).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{r:?}");
    let admin = s.user_pat(Role::Admin).await;
    let r = s.get("/api/v1/ops/snapshot", &admin).await;
    assert_eq!(r.status, 200, "{r:?}");
    let agent = s.agent(json!({})).await;
    let r = s.get("/api/v1/ops/snapshot", &agent.key).await;
    assert_eq!(r.status, 403, "{r:?}");
}

#[tokio::test]
async fn runs_come_newest_first_across_workflows_within_the_limit() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let mut started = Vec::new();
    for name in ["First", "Second", "Third"] {
        let (w, run) = gated_run(&s, &agent, name).await;
        started.push((w, run, name));
        s.clock.advance(time::Duration::seconds(1));
    }
    let r = s.get("/api/v1/ops/runs", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    let runs = r.body["runs"].as_array().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = started
        .iter()
        .rev()
        .map(|(_, run, _)| run.as_str())
        .collect();
    assert_eq!(ids, want, "{r:?}");
    let newest = &runs[0];
    assert_eq!(newest["workflow_id"], started[2].0.as_str(), "{newest}");
    assert_eq!(newest["workflow_name"], "Third", "{newest}");
    assert_eq!(newest["triggered_by_type"], "user", "{newest}");
    assert!(
        newest["status"].is_string() && newest.get("error").is_some(),
        "{newest}"
    );

    let r = s.get("/api/v1/ops/runs?limit=2", &s.pat).await;
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 2, "{r:?}");
    let r = s.get("/api/v1/ops/runs?status=completed", &s.pat).await;
    assert_eq!(r.body["runs"], json!([]), "{r:?}");
    let r = s.get("/api/v1/ops/runs?limit=100&status=all", &s.pat).await;
    assert_eq!(r.body["runs"].as_array().unwrap().len(), 3, "{r:?}");

    for bad in ["limit=0", "limit=101", "limit=ten", "status=sleeping"] {
        let r = s.get(&format!("/api/v1/ops/runs?{bad}"), &s.pat).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_request"),
            "{bad}: {r:?}"
        );
    }

    // A member sees the runs of the workflows they may see: none of these.
    let member = s.user_pat(Role::Member).await;
    let r = s.get("/api/v1/ops/runs", &member).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["runs"], json!([]), "{r:?}");
    // Once one is shared with the organisation, its run shows.
    let r = s
        .post(
            &format!("/api/v1/workflows/{}/share", started[0].0),
            &s.pat,
            json!({"scope": "org"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s.get("/api/v1/ops/runs?limit=1", &member).await;
    let ids: Vec<&str> = r.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [started[0].1.as_str()], "{r:?}");
}
