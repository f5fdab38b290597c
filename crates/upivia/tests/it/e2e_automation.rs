//! Triggers and scheduled tasks against the real server, through the SDK
//! only: every method of `triggers()` and `scheduled_tasks()`, a signed
//! fire dispatched as the agent's request (and a wrong signature refused),
//! and a one-time task that the server's worker really runs. On SQLite,
//! and on PostgreSQL when `UPIVIA_TEST_POSTGRES_URL` is set.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::{Value, json};
use upivia::models::{ListScheduledTasks, PageQuery, ServiceRequestOutcome};
use upivia::resources::sign_fire_body;
use upivia::{AuthMode, ErrorKind, HttpMethod, RequestSpec};
use upivia_server::clock::{Clock, SystemClock, rfc3339};
use upivia_server::config::Config;
use upivia_server::store::postgres::testing::{TestDatabase, server_url};

use crate::e2e_support::Server;

const ALERT_TEMPLATE: &str =
    r#"{"to": "{{owner}}", "subject": "Alert {{name}}", "body": "Seen {{count}} times."}"#;

fn template() -> Value {
    serde_json::from_str(ALERT_TEMPLATE).unwrap()
}

fn mail() -> Value {
    json!({"to": "ops@example.com", "subject": "Scheduled", "body": "Sent by a task."})
}

/// A server on a database of its own; the server stops before the
/// database is dropped (fields drop in order).
struct PgServer {
    server: Server,
    _db: TestDatabase,
}

/// A server on a fresh PostgreSQL database, or `None` (skip) without one.
async fn on_postgres(configure: impl FnOnce(&mut Config) + Send + 'static) -> Option<PgServer> {
    let url = server_url()?;
    let db = TestDatabase::create(&url).await.unwrap();
    let database = db.url().to_owned();
    let server = Server::start_with(move |c| {
        c.database_url = Some(database.into());
        configure(c);
    });
    Some(PgServer { server, _db: db })
}

/// Now plus `secs`, as RFC 3339.
fn in_secs(secs: u64) -> String {
    rfc3339(SystemClock.now() + Duration::from_secs(secs))
}

async fn triggers_are_created_paged_updated_fired_and_disabled(server: &Server) {
    let owner = server.owner();
    let agent = server.funded_agent("email", 1_000).await;

    let created = owner
        .triggers()
        .create(&json!({
            "agent_id": agent.id,
            "kind": "webhook",
            "operation": "email.send",
            "payload_template": template(),
        }))
        .await
        .unwrap();
    let hook = created.trigger.id.clone();
    let secret = created.secret.clone();
    assert!(hook.starts_with("trg_"), "{created:?}");
    assert!(!secret.is_empty());
    assert_eq!(created.trigger.kind.as_deref(), Some("webhook"));
    assert_eq!(created.trigger.agent_id.as_deref(), Some(agent.id.as_str()));
    assert_eq!(created.trigger.operation.as_deref(), Some("email.send"));
    assert_eq!(created.trigger.payload_template, Some(template()));
    assert_eq!(created.trigger.schedule_expr, None);
    assert!(!created.trigger.disabled);
    let fire_url = created.fire_url.clone().unwrap();
    assert_eq!(
        fire_url,
        format!("{}/api/v1/triggers/{hook}/fire", server.base_url)
    );
    assert_eq!(created.trigger.fire_url.as_deref(), Some(fire_url.as_str()));

    let cron = owner
        .triggers()
        .create(&json!({
            "agent_id": agent.id,
            "kind": "cron",
            "operation": "email.send",
            "schedule_expr": "0 9 * * *",
            "timezone": "Europe/Paris",
            "payload_template": mail(),
        }))
        .await
        .unwrap();
    assert_eq!(cron.trigger.schedule_expr.as_deref(), Some("0 9 * * *"));
    assert_eq!(cron.fire_url, None);
    assert_eq!(cron.trigger.fire_url, None);
    assert!(cron.trigger.extra["next_run_at"].is_string(), "{cron:?}");
    assert_eq!(cron.trigger.extra["timezone"], "Europe/Paris");
    let third = owner
        .triggers()
        .create(&json!({"agent_id": agent.id, "kind": "webhook", "operation": "email.send"}))
        .await
        .unwrap();
    let refused = owner
        .triggers()
        .create(&json!({"agent_id": agent.id, "kind": "hourly", "operation": "email.send"}))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(422));
    assert_eq!(refused.code(), Some("invalid_payload"));

    // Pages of one, by id (time) descending, then the whole list as a stream.
    let first = owner
        .triggers()
        .list(PageQuery::default().with_limit(1))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let cursor = first.next().unwrap().to_owned();
    let second = owner
        .triggers()
        .list(PageQuery::default().with_limit(1).with_cursor(cursor))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.items[0].id < first.items[0].id);
    let all: Vec<_> = owner
        .triggers()
        .list_all(PageQuery::default().with_limit(2))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|t| t.id.as_str()).collect();
    let mut expected = vec![hook.as_str(), &cron.trigger.id, &third.trigger.id];
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, expected);
    assert_eq!(&ids[..2], [&*first.items[0].id, &*second.items[0].id]);
    for t in &all {
        assert!(!serde_json::to_string(t).unwrap().contains(&secret));
    }
    let last = owner
        .triggers()
        .list(PageQuery::default().with_limit(3))
        .await
        .unwrap();
    assert_eq!(last.next_cursor, None);
    let bad_cursor = owner
        .triggers()
        .list(PageQuery::default().with_cursor("nope"))
        .await
        .unwrap_err();
    assert_eq!(bad_cursor.status(), Some(400));

    let got = owner.triggers().get(&hook).await.unwrap();
    assert_eq!(got["trigger"]["id"], hook.as_str());
    assert_eq!(got["trigger"]["payload_template"], template());
    assert!(!got.to_string().contains(&secret), "{got}");

    // Only disabled, schedule_expr and payload_template change.
    let mut changed = template();
    changed["to"] = json!("changed+{{owner}}");
    let updated = owner
        .triggers()
        .update(&hook, &json!({"payload_template": changed}))
        .await
        .unwrap();
    assert_eq!(updated["trigger"]["payload_template"], changed);
    let rescheduled = owner
        .triggers()
        .update(&cron.trigger.id, &json!({"schedule_expr": "30 7 * * 1"}))
        .await
        .unwrap();
    assert_eq!(rescheduled["trigger"]["schedule_expr"], "30 7 * * 1");
    for immutable in [
        json!({"kind": "cron"}),
        json!({"agent_id": agent.id}),
        json!({"operation": "sms.send"}),
    ] {
        let err = owner
            .triggers()
            .update(&hook, &immutable)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{immutable}");
        assert_eq!(err.code(), Some("invalid_request"));
    }
    let missing = owner
        .triggers()
        .get("trg_01aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));

    // A signed fire, with no credential but the signature, is the agent's
    // request with the template filled in.
    let fired = server
        .anonymous()
        .triggers()
        .fire(
            &hook,
            Some(&json!({"owner": "oncall@example.com", "name": "disk", "count": 3})),
            &secret,
        )
        .await
        .unwrap();
    assert!(fired.accepted);
    assert_eq!(
        fired.dispatch_status.as_deref(),
        Some("executed"),
        "{fired:?}"
    );
    assert_eq!(fired.reason_code, None);
    let request_id = fired.request_id.clone().unwrap();
    let outcome = agent
        .client
        .service_requests()
        .get(&request_id)
        .await
        .unwrap();
    let ServiceRequestOutcome::Executed(done) = outcome else {
        panic!("{outcome:?}")
    };
    // The updated template, filled from the fire's payload.
    assert_eq!(done.result["to"], "changed+oncall@example.com");
    let row = owner.triggers().get(&hook).await.unwrap();
    assert_eq!(row["trigger"]["fire_count"], 1);
    assert_eq!(row["trigger"]["last_request_id"], request_id.as_str());

    // A wrong secret, an unknown trigger, a cron trigger.
    let forged = owner
        .triggers()
        .fire(
            &hook,
            Some(&json!({"owner": "x@example.com"})),
            "not-the-secret",
        )
        .await
        .unwrap_err();
    assert_eq!(forged.status(), Some(401));
    assert_eq!(forged.kind(), ErrorKind::Unauthorized);
    assert_eq!(forged.code(), Some("invalid_signature"));
    let other_secret = owner
        .triggers()
        .fire(&hook, None, &third.secret)
        .await
        .unwrap_err();
    assert_eq!(other_secret.status(), Some(401));
    let unknown = owner
        .triggers()
        .fire("trg_01aaaaaaaaaaaaaaaaaaaaaaaa", None, &secret)
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), Some(404));
    let not_a_webhook = owner
        .triggers()
        .fire(&cron.trigger.id, None, &cron.secret)
        .await
        .unwrap_err();
    assert_eq!(not_a_webhook.status(), Some(400));
    assert_eq!(not_a_webhook.code(), Some("not_a_webhook"));

    // A redelivery (same webhook-id, same signed bytes) dispatches once.
    let body = br#"{"owner":"oncall@example.com","name":"dup","count":1}"#;
    let redeliver = || {
        RequestSpec::new(
            HttpMethod::Post,
            format!("/api/v1/triggers/{hook}/fire"),
            AuthMode::None,
        )
        .raw(body.to_vec())
        .header("content-type", "application/json")
        .header("x-agentwallet-signature", sign_fire_body(&secret, body))
        .header("webhook-id", "msg_e2e_1")
    };
    let once = server.anonymous().send_json(redeliver()).await.unwrap();
    let charged = owner.balance().get(None).await.unwrap().amount_cents;
    let twice = server.anonymous().send_json(redeliver()).await.unwrap();
    assert_eq!(once["dispatch_status"], "executed", "{once}");
    assert_eq!(once["request_id"], twice["request_id"]);
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents,
        charged,
        "the redelivery was charged"
    );

    // Delete disables; the trigger stays readable and stops firing.
    let deleted = owner.triggers().delete(&hook, false).await.unwrap();
    assert_eq!(deleted["deleted"], false);
    assert_eq!(deleted["trigger"]["disabled"], true);
    let page = owner
        .triggers()
        .list(PageQuery::default().with_limit(50))
        .await
        .unwrap();
    assert!(page.items.iter().any(|t| t.id == hook && t.disabled));
    let disabled = owner
        .triggers()
        .fire(&hook, None, &secret)
        .await
        .unwrap_err();
    assert_eq!(disabled.status(), Some(409));
    assert_eq!(disabled.code(), Some("trigger_disabled"));
    let enabled = owner
        .triggers()
        .update(&hook, &json!({"disabled": false}))
        .await
        .unwrap();
    assert_eq!(enabled["trigger"]["disabled"], false);
    let purge = owner.triggers().delete(&hook, true).await.unwrap_err();
    assert_eq!(purge.status(), Some(403));
    assert_eq!(purge.code(), Some("purge_not_allowed"));
    assert_eq!(
        owner.triggers().get(&hook).await.unwrap()["trigger"]["id"],
        hook.as_str()
    );

    // Workspace calls need a PAT; the agent's key is not one.
    let as_agent = agent
        .client
        .triggers()
        .list(PageQuery::default())
        .await
        .unwrap_err();
    assert_eq!(as_agent.kind(), ErrorKind::Unauthorized);
}

async fn a_purge_deletes_for_good_where_allowed(server: &Server) {
    let owner = server.owner();
    let agent = server.agent_with("email", json!({})).await;
    let created = owner
        .triggers()
        .create(&json!({"agent_id": agent.id, "kind": "webhook", "operation": "email.send"}))
        .await
        .unwrap();
    let id = created.trigger.id;
    let purged = owner.triggers().delete(&id, true).await.unwrap();
    assert_eq!(purged["deleted"], true, "{purged}");
    assert_eq!(
        owner.triggers().get(&id).await.unwrap_err().status(),
        Some(404)
    );
    let gone = owner
        .triggers()
        .fire(&id, None, &created.secret)
        .await
        .unwrap_err();
    assert_eq!(gone.status(), Some(404));
    assert!(
        owner
            .triggers()
            .list(PageQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// Polls the task's runs until one has the request status `want`.
async fn wait_for_run(server: &Server, task: &str, want: &str) -> Value {
    let owner = server.owner();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = owner
            .scheduled_tasks()
            .runs(task, None, None)
            .await
            .unwrap();
        if runs["runs"][0]["service_request_status"] == want {
            return runs;
        }
        assert!(Instant::now() < deadline, "no {want} run in 20 s: {runs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scheduled_tasks_are_created_run_listed_updated_and_deleted(server: &Server) {
    let owner = server.owner();
    let agent = server.funded_agent("email", 1_000).await;
    let other = server.agent_with("email", json!({})).await;

    let once = owner
        .scheduled_tasks()
        .create(&json!({
            "agent_id": agent.id,
            "name": "one shot",
            "category": "reports",
            "description": "One email, soon.",
            "service": "email",
            "operation": "send",
            "payload": mail(),
            "run_at": in_secs(1),
        }))
        .await
        .unwrap();
    let once_id = once["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(once["task"]["status"], "active", "{once}");
    assert_eq!(once["task"]["recurring"], false);
    assert_eq!(once["task"]["payload"], mail());
    assert!(once["task"]["next_run_at"].is_string());

    let runs = wait_for_run(server, &once_id, "executed").await;
    assert_eq!(runs["total"], 1);
    let run = &runs["runs"][0];
    assert_eq!(run["status"], "completed");
    assert!(run["started_at"].is_string());
    let request_id = run["service_request_id"].as_str().unwrap();
    let outcome = agent
        .client
        .service_requests()
        .get(request_id)
        .await
        .unwrap();
    assert_eq!(outcome.status(), Some("executed"), "{outcome:?}");
    let detail = owner.scheduled_tasks().get(&once_id).await.unwrap();
    assert_eq!(detail["task"]["status"], "completed", "{detail}");
    assert_eq!(detail["task"]["run_count"], 1);
    assert_eq!(detail["runs_total"], 1);
    assert_eq!(detail["runs"][0]["id"], run["id"]);
    let past_the_end = owner
        .scheduled_tasks()
        .runs(&once_id, Some(1), Some(1))
        .await
        .unwrap();
    assert_eq!(past_the_end["runs"], json!([]));
    assert_eq!(past_the_end["total"], 1);

    let daily = owner
        .scheduled_tasks()
        .create(&json!({
            "agent_id": agent.id,
            "name": "daily digest",
            "category": "digests",
            "operation": "email.send",
            "payload": mail(),
            "schedule": "0 9 * * *",
            "timezone": "America/New_York",
        }))
        .await
        .unwrap();
    let daily_id = daily["task"]["id"].as_str().unwrap().to_owned();
    assert_eq!(daily["task"]["recurring"], true);
    assert_eq!(
        (&daily["task"]["service"], &daily["task"]["operation"]),
        (&json!("email"), &json!("send"))
    );
    let later = owner
        .scheduled_tasks()
        .create(&json!({
            "agent_id": other.id,
            "category": "digests",
            "operation": "email.send",
            "payload": mail(),
            "run_at": in_secs(86_400),
        }))
        .await
        .unwrap();
    let later_id = later["task"]["id"].as_str().unwrap().to_owned();
    for bad in [
        json!({"agent_id": agent.id, "operation": "email.send"}),
        json!({"agent_id": agent.id, "operation": "email.send", "run_at": in_secs(60), "schedule": "0 9 * * *"}),
        json!({"agent_id": agent.id, "operation": "email.send", "schedule": "whenever"}),
    ] {
        let err = owner.scheduled_tasks().create(&bad).await.unwrap_err();
        assert_eq!(err.status(), Some(422), "{bad}");
    }

    let all = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default())
        .await
        .unwrap();
    assert_eq!(all["total"], 3, "{all}");
    let digests = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default().with_category("digests"))
        .await
        .unwrap();
    assert_eq!(digests["total"], 2);
    let mine = owner
        .scheduled_tasks()
        .list(
            ListScheduledTasks::default()
                .with_category("digests")
                .with_agent_id(&agent.id),
        )
        .await
        .unwrap();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["tasks"][0]["id"], daily_id.as_str());
    let completed = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default().with_status("completed"))
        .await
        .unwrap();
    assert_eq!(completed["tasks"][0]["id"], once_id.as_str());
    let page = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default().with_limit(2).with_offset(2))
        .await
        .unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1);
    let listed: HashSet<&str> = all["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(
        listed,
        HashSet::from([once_id.as_str(), &daily_id, &later_id])
    );

    let paused = owner
        .scheduled_tasks()
        .update(
            &daily_id,
            &json!({"status": "paused", "description": "On hold."}),
        )
        .await
        .unwrap();
    assert_eq!(paused["task"]["status"], "paused", "{paused}");
    assert_eq!(paused["task"]["description"], "On hold.");
    let only_paused = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default().with_status("paused"))
        .await
        .unwrap();
    assert_eq!(only_paused["total"], 1);
    let resumed = owner
        .scheduled_tasks()
        .update(
            &daily_id,
            &json!({"status": "active", "schedule": "15 8 * * 1-5"}),
        )
        .await
        .unwrap();
    assert_eq!(resumed["task"]["schedule"], "15 8 * * 1-5");
    assert!(resumed["task"]["next_run_at"].is_string());
    let refused = owner
        .scheduled_tasks()
        .update(&daily_id, &json!({"agent_id": other.id}))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400));

    owner.scheduled_tasks().delete(&later_id).await.unwrap();
    let gone = owner.scheduled_tasks().get(&later_id).await.unwrap_err();
    assert_eq!(gone.status(), Some(404));
    let twice = owner.scheduled_tasks().delete(&later_id).await.unwrap_err();
    assert_eq!(twice.status(), Some(404));
    let no_runs = owner
        .scheduled_tasks()
        .runs(&later_id, None, None)
        .await
        .unwrap_err();
    assert_eq!(no_runs.status(), Some(404));
    // Deleting a task that ran removes its runs too.
    owner.scheduled_tasks().delete(&once_id).await.unwrap();
    let left = owner
        .scheduled_tasks()
        .list(ListScheduledTasks::default())
        .await
        .unwrap();
    assert_eq!(left["total"], 1);
}

#[tokio::test]
async fn triggers_are_created_paged_updated_fired_and_disabled_on_sqlite() {
    triggers_are_created_paged_updated_fired_and_disabled(&Server::start()).await;
}

#[tokio::test]
async fn triggers_are_created_paged_updated_fired_and_disabled_on_postgres() {
    let Some(pg) = on_postgres(|_| {}).await else {
        return;
    };
    triggers_are_created_paged_updated_fired_and_disabled(&pg.server).await;
}

#[tokio::test]
async fn a_purge_deletes_for_good_where_allowed_on_sqlite() {
    let server = Server::start_with(|c| c.allow_trigger_purge = true);
    a_purge_deletes_for_good_where_allowed(&server).await;
}

#[tokio::test]
async fn a_purge_deletes_for_good_where_allowed_on_postgres() {
    let Some(pg) = on_postgres(|c| c.allow_trigger_purge = true).await else {
        return;
    };
    a_purge_deletes_for_good_where_allowed(&pg.server).await;
}

#[tokio::test]
async fn scheduled_tasks_are_created_run_listed_updated_and_deleted_on_sqlite() {
    scheduled_tasks_are_created_run_listed_updated_and_deleted(&Server::start()).await;
}

#[tokio::test]
async fn scheduled_tasks_are_created_run_listed_updated_and_deleted_on_postgres() {
    let Some(pg) = on_postgres(|_| {}).await else {
        return;
    };
    scheduled_tasks_are_created_run_listed_updated_and_deleted(&pg.server).await;
}
