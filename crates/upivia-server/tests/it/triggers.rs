//! Triggers over HTTP: the secret shown once and never stored in the
//! clear, HMAC over the exact body bytes, every refusal with its code, the
//! template filled and dispatched as a governed request of the agent, a
//! redelivery dispatched once, cron ticks on a moved clock (one catch-up
//! after downtime, never twice under racing passes), the update and purge
//! rules, and isolation between organisations.

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use time::Duration;
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer, reply};
use crate::teams::audit_events;

const PATH: &str = "/api/v1/triggers";

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook trigger sending email for `agent`: `(id, secret)`.
async fn webhook(s: &TestServer, agent: &TestAgent) -> (String, String) {
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({
                "agent_id": agent.id,
                "kind": "webhook",
                "operation": "email.send",
                "payload_template": {
                    "to": "{{alert.owner}}",
                    "subject": "Alert: {{alert.name}} ({{count}})",
                    "body": "Seen {{count}} times."
                }
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    (
        r.body["trigger"]["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn fire_raw(
    s: &TestServer,
    id: &str,
    body: &[u8],
    signature: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = s
        .http
        .post(format!("{}{PATH}/{id}/fire", s.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("x-agentwallet-signature", sig);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    reply(req.send().await.unwrap()).await
}

async fn fire(s: &TestServer, id: &str, secret: &str, body: &str) -> Reply {
    fire_raw(
        s,
        id,
        body.as_bytes(),
        Some(&sign(secret, body.as_bytes())),
        &[],
    )
    .await
}

const ALERT: &str = r#"{"alert":{"name":"disk full","owner":"oncall@example.com"},"count":3}"#;

#[tokio::test]
async fn a_signed_fire_is_a_governed_request_of_the_agent_and_the_secret_shows_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let (id, secret) = webhook(&s, &agent).await;
    assert!(id.starts_with("trg_") && secret.starts_with("trgsec_"));
    let before = s.balance().await;

    let r = fire(&s, &id, &secret, ALERT).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["accepted"], true);
    assert_eq!(r.body["dispatch_status"], "executed", "{r:?}");
    assert!(r.body["reason_code"].is_null());
    let request_id = r.body["request_id"].as_str().unwrap().to_owned();
    assert!(request_id.starts_with("req_"));
    assert!(s.balance().await < before, "the fire was charged");

    // The request is the agent's own, with the template filled in.
    let got = s
        .get(
            &format!("/api/v1/service-requests/{request_id}"),
            &agent.key,
        )
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body["status"], "executed");
    let events = audit_events(&s, "service_request.executed").await;
    let entry = events
        .iter()
        .find(|e| e["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(entry["agent_id"], agent.id.as_str());

    // The trigger row shows the fire; the secret is nowhere.
    let t = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(t.status, 200, "{t:?}");
    assert_eq!(t.body["trigger"]["fire_count"], 1);
    assert_eq!(t.body["trigger"]["last_request_id"], request_id.as_str());
    assert_eq!(
        t.body["trigger"]["fire_url"],
        format!("{}{PATH}/{id}/fire", s.base)
    );
    assert_eq!(t.body["trigger"]["operation"], "email.send");
    let list = s.get(PATH, &s.pat).await;
    for body in [&t.body, &list.body] {
        assert!(!body.to_string().contains(&secret), "{body}");
    }
    assert!(
        !audit_events(&s, "trigger.created").await[0]
            .to_string()
            .contains(&secret)
    );
    if !crate::support::on_postgres() {
        for file in ["upivia.db", "upivia.db-wal"] {
            let path = s.dir.path().join("data").join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "the secret is in {file} in the clear"
                );
            }
        }
    }
}

#[tokio::test]
async fn signatures_hold_only_over_the_exact_bytes_and_refusals_have_codes() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let (id, secret) = webhook(&s, &agent).await;

    // The same JSON with a space in it is other bytes.
    let spaced = r#"{"alert": {"name":"disk full","owner":"oncall@example.com"},"count":3}"#;
    let r = fire_raw(
        &s,
        &id,
        spaced.as_bytes(),
        Some(&sign(&secret, ALERT.as_bytes())),
        &[],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );
    let r = fire_raw(&s, &id, ALERT.as_bytes(), None, &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );
    let r = fire_raw(&s, &id, ALERT.as_bytes(), Some("sha256=nothex"), &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );
    let r = fire_raw(
        &s,
        &id,
        ALERT.as_bytes(),
        Some(&sign("trgsec_wrong", ALERT.as_bytes())),
        &[],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );
    // A bearer token is not a signature.
    let r = s
        .send(
            Method::POST,
            &format!("{PATH}/{id}/fire"),
            Some(&s.pat),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");

    let r = fire(&s, "trg_01NOSUCHTRIGGER", &secret, ALERT).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{r:?}");
    // Signed, but not JSON, or not an object.
    let r = fire(&s, &id, &secret, "{not json").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_request"),
        "{r:?}"
    );
    let r = fire(&s, &id, &secret, "[1,2]").await;
    assert_eq!(r.status, 400, "{r:?}");
    // An empty body is the empty payload.
    let r = fire(&s, &id, &secret, "").await;
    assert_eq!(r.status, 202, "{r:?}");

    // Disabled: 409 once the signature holds.
    let r = s
        .patch(&format!("{PATH}/{id}"), &s.pat, json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["trigger"]["disabled"], true);
    let r = fire(&s, &id, &secret, ALERT).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "trigger_disabled"),
        "{r:?}"
    );
    let r = fire_raw(&s, &id, ALERT.as_bytes(), None, &[]).await;
    assert_eq!(
        r.status, 401,
        "state shows only to a valid signature: {r:?}"
    );

    // A cron trigger is not fired over HTTP.
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"agent_id": agent.id, "kind": "cron", "operation": "email.send",
                   "schedule_expr": "0 9 * * *", "payload_template": {}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["fire_url"].is_null(), "{r:?}");
    let (cron_id, cron_secret) = (
        r.body["trigger"]["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    );
    let r = fire(&s, &cron_id, &cron_secret, "{}").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "not_a_webhook"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_redelivered_webhook_dispatches_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 1_000).await;
    let (id, secret) = webhook(&s, &agent).await;
    let sig = sign(&secret, ALERT.as_bytes());
    let before = s.balance().await;
    let first = fire_raw(
        &s,
        &id,
        ALERT.as_bytes(),
        Some(&sig),
        &[("webhook-id", "msg_1")],
    )
    .await;
    assert_eq!(first.status, 202, "{first:?}");
    let after_one = s.balance().await;
    let again = fire_raw(
        &s,
        &id,
        ALERT.as_bytes(),
        Some(&sig),
        &[("webhook-id", "msg_1")],
    )
    .await;
    assert_eq!(again.status, 202, "{again:?}");
    assert_eq!(again.body["request_id"], first.body["request_id"]);
    assert_eq!(s.balance().await, after_one, "charged once");
    assert_eq!(
        fire_count(&s, &id).await,
        1,
        "a redelivery is not another fire"
    );
    let other = r#"{"count":9}"#;
    let r = fire_raw(
        &s,
        &id,
        other.as_bytes(),
        Some(&sign(&secret, other.as_bytes())),
        &[("webhook-id", "msg_1")],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "idempotency_key_payload_mismatch"),
        "{r:?}"
    );
    let t = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(
        t.body["trigger"]["last_request_id"], first.body["request_id"],
        "{t:?}"
    );
    // The Idempotency-Key header works the same; another id is another fire.
    let keyed = fire_raw(
        &s,
        &id,
        ALERT.as_bytes(),
        Some(&sig),
        &[("idempotency-key", "k-9")],
    )
    .await;
    let keyed_again = fire_raw(
        &s,
        &id,
        ALERT.as_bytes(),
        Some(&sig),
        &[("idempotency-key", "k-9")],
    )
    .await;
    assert_eq!(keyed.body["request_id"], keyed_again.body["request_id"]);
    assert_ne!(keyed.body["request_id"], first.body["request_id"]);
    let plain = fire(&s, &id, &secret, ALERT).await;
    assert_ne!(plain.body["request_id"], first.body["request_id"]);
    let charge = before - after_one;
    assert_eq!(
        s.balance().await,
        before - 3 * charge,
        "three distinct deliveries"
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_refused_dispatch_is_still_accepted_and_audited() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    // The agent has no email binding: the pipeline blocks it.
    let agent = s.agent(json!({})).await;
    let (id, secret) = webhook(&s, &agent).await;
    let r = fire(&s, &id, &secret, ALERT).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["dispatch_status"], "blocked", "{r:?}");
    assert!(r.body["reason_code"].is_string(), "{r:?}");

    // A payload the template leaves without a recipient fails the schema:
    // no request exists, so the trigger's own entry records it.
    s.enable(&agent, json!({"service_id": "email"})).await;
    let r = fire(&s, &id, &secret, r#"{"count":1}"#).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.body["dispatch_status"], "failed", "{r:?}");
    assert_eq!(r.body["reason_code"], "invalid_payload", "{r:?}");
    assert!(r.body["request_id"].is_null());
    let refused = audit_events(&s, "trigger.dispatch_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["details"]["trigger_id"], id.as_str());
}

#[tokio::test]
async fn create_and_update_check_every_field() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let base = json!({"agent_id": agent.id, "kind": "webhook", "operation": "email.send"});
    let with = |extra: Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for (body, field) in [
        (with(json!({"kind": "sometimes"})), "kind"),
        (with(json!({"operation": "email"})), "operation"),
        (with(json!({"operation": "nosuch.thing"})), "operation"),
        (
            with(json!({"payload_template": "text"})),
            "payload_template",
        ),
        (with(json!({"schedule_expr": "* * * * *"})), "schedule_expr"),
        (with(json!({"kind": "cron"})), "schedule_expr"),
        (
            with(json!({"kind": "cron", "schedule_expr": "61 * * * *"})),
            "schedule_expr",
        ),
        (
            with(json!({"kind": "cron", "schedule_expr": "* * * * * * *"})),
            "schedule_expr",
        ),
        (
            with(json!({"kind": "cron", "schedule_expr": "0 9 * * *", "timezone": "Mars/Base"})),
            "timezone",
        ),
    ] {
        let r = s.post(PATH, &s.pat, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{r:?}"
        );
    }
    let r = s
        .post(PATH, &s.pat, with(json!({"agent_id": "agt_nosuch"})))
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    let (id, _) = webhook(&s, &agent).await;
    for key in ["secret", "agent_id", "kind", "operation", "fire_url"] {
        let r = s
            .patch(&format!("{PATH}/{id}"), &s.pat, json!({key: "x"}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "invalid_request"),
            "{key}: {r:?}"
        );
    }
    let r = s
        .patch(
            &format!("{PATH}/{id}"),
            &s.pat,
            json!({"schedule_expr": "0 9 * * *"}),
        )
        .await;
    assert_eq!(r.status, 422, "a webhook has no schedule: {r:?}");
    let r = s
        .patch(&format!("{PATH}/{id}"), &s.pat, json!({"disabled": "yes"}))
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .patch(
            &format!("{PATH}/{id}"),
            &s.pat,
            json!({"payload_template": {"to": "{{who}}"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["trigger"]["payload_template"],
        json!({"to": "{{who}}"})
    );
    let r = s.get(&format!("{PATH}/trg_nosuch"), &s.pat).await;
    assert_eq!(r.status, 404, "{r:?}");
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_and_stays_in_its_organisation() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(webhook(&s, &agent).await.0);
    }
    let first = s.get(&format!("{PATH}?limit=2"), &s.pat).await;
    assert_eq!(first.status, 200, "{first:?}");
    let page: Vec<_> = first.body["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(page.len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = s
        .get(&format!("{PATH}?limit=2&cursor={cursor}"), &s.pat)
        .await;
    let rest: Vec<_> = second.body["triggers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(rest.len(), 1);
    assert!(second.body["next_cursor"].is_null());
    let mut all: Vec<String> = page
        .iter()
        .chain(&rest)
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    all.sort();
    made.sort();
    assert_eq!(all, made);
    let r = s.get(&format!("{PATH}?cursor=forged"), &s.pat).await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = s.get(&format!("{PATH}?limit=0"), &s.pat).await;
    assert_eq!(r.status, 400, "{r:?}");

    // Another organisation sees none of it, and cannot touch it.
    let other = s.other_org("Elsewhere").await;
    let r = s.get(PATH, &other.pat).await;
    assert_eq!(r.body["triggers"], json!([]), "{r:?}");
    let r = s.get(&format!("{PATH}/{}", made[0]), &other.pat).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .patch(
            &format!("{PATH}/{}", made[0]),
            &other.pat,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .post(
            PATH,
            &other.pat,
            json!({"agent_id": agent.id, "kind": "webhook", "operation": "email.send"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // An agent key is not a workspace credential.
    let r = s.get(PATH, &agent.key).await;
    assert_eq!(r.status, 403, "{r:?}");
}

#[tokio::test]
async fn a_member_manages_only_triggers_of_agents_they_own() {
    let s = TestServer::start().await;
    let admins_agent = s.agent(json!({})).await;
    let member = s.user_pat(Role::Member).await;
    let r = s
        .post(
            PATH,
            &member,
            json!({"agent_id": admins_agent.id, "kind": "webhook", "operation": "email.send"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let (id, _) = webhook(&s, &admins_agent).await;
    let r = s.get(&format!("{PATH}/{id}"), &member).await;
    assert_eq!(
        r.status, 200,
        "members see the organisation's triggers: {r:?}"
    );
    let r = s
        .patch(&format!("{PATH}/{id}"), &member, json!({"disabled": true}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .send(Method::DELETE, &format!("{PATH}/{id}"), Some(&member), None)
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // Their own agent's trigger is theirs.
    let own = s
        .post("/api/v1/agents", &member, json!({"name": "mine"}))
        .await;
    let own_id = own.body["agent"]["id"].as_str().unwrap();
    let r = s
        .post(
            PATH,
            &member,
            json!({"agent_id": own_id, "kind": "webhook", "operation": "email.send"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

#[tokio::test]
async fn delete_disables_and_purge_needs_the_server_switch() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let (id, secret) = webhook(&s, &agent).await;
    let r = s
        .send(Method::DELETE, &format!("{PATH}/{id}"), Some(&s.pat), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["trigger"]["disabled"], true);
    let r = fire(&s, &id, &secret, "{}").await;
    assert_eq!(r.status, 409, "{r:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{id}?purge=true"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "purge_not_allowed"),
        "{r:?}"
    );
    assert_eq!(s.get(&format!("{PATH}/{id}"), &s.pat).await.status, 200);
    assert_eq!(audit_events(&s, "trigger.disabled").await.len(), 1);

    let s = TestServer::start_with(|c| c.allow_trigger_purge = true).await;
    let agent = s.agent(json!({})).await;
    let (id, secret) = webhook(&s, &agent).await;
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{id}?purge=true"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["deleted"], true);
    assert_eq!(s.get(&format!("{PATH}/{id}"), &s.pat).await.status, 404);
    assert_eq!(fire(&s, &id, &secret, "{}").await.status, 404);
    assert_eq!(audit_events(&s, "trigger.purged").await.len(), 1);
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{id}?purge=maybe"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
}

async fn cron(s: &TestServer, agent: &TestAgent, expr: &str) -> String {
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"agent_id": agent.id, "kind": "cron", "operation": "email.send",
                   "schedule_expr": expr,
                   "payload_template": {"to": "ops@example.com", "subject": "Tick {{scheduled_for}}",
                                        "body": "digest"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["trigger"]["id"].as_str().unwrap().to_owned()
}

async fn fire_count(s: &TestServer, id: &str) -> i64 {
    s.get(&format!("{PATH}/{id}"), &s.pat).await.body["trigger"]["fire_count"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_cron_trigger_fires_on_its_ticks_with_one_catch_up_after_downtime() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let id = cron(&s, &agent, "0 * * * *").await;
    assert_eq!(s.tick_automation().await, 0, "not due yet");
    s.clock.advance(Duration::hours(1));
    assert_eq!(s.tick_automation().await, 1);
    assert_eq!(s.tick_automation().await, 0, "a tick fires once");
    assert_eq!(fire_count(&s, &id).await, 1);
    let t = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(
        t.body["trigger"]["last_dispatch_status"], "executed",
        "{t:?}"
    );

    // Five hours down: one catch-up, then the next hour on.
    s.clock.advance(Duration::hours(5));
    assert_eq!(s.tick_automation().await, 1);
    assert_eq!(s.tick_automation().await, 0);
    assert_eq!(fire_count(&s, &id).await, 2);

    // Disabled, it does not fire; enabled again, it starts from now.
    s.patch(&format!("{PATH}/{id}"), &s.pat, json!({"disabled": true}))
        .await;
    s.clock.advance(Duration::hours(3));
    assert_eq!(s.tick_automation().await, 0);
    s.patch(&format!("{PATH}/{id}"), &s.pat, json!({"disabled": false}))
        .await;
    assert_eq!(
        s.tick_automation().await,
        0,
        "missed ticks while disabled are not made up"
    );
    s.clock.advance(Duration::hours(1));
    assert_eq!(s.tick_automation().await, 1);
    let requests = audit_events(&s, "service_request.executed").await;
    assert_eq!(requests.len(), 3, "{requests:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn racing_passes_fire_each_tick_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 10_000).await;
    let id = cron(&s, &agent, "* * * * * *").await;
    let before = s.balance().await;
    for _ in 0..3 {
        s.clock.advance(Duration::seconds(2));
        let passes: Vec<_> = (0..4).map(|_| s.tick_automation()).collect();
        let dispatched: usize = futures::future::join_all(passes).await.into_iter().sum();
        assert_eq!(dispatched, 1, "one pass wins each tick");
    }
    assert_eq!(fire_count(&s, &id).await, 3);
    let charged = before - s.balance().await;
    let one = audit_events(&s, "service_request.executed").await;
    assert_eq!(one.len(), 3);
    assert!(charged > 0);
    s.ledger_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_one_tick_claim_it_once() {
    if !crate::support::on_postgres() {
        return;
    }
    use upivia_server::store::postgres::{PgSettings, PgStore};
    use upivia_server::store::{ClaimTick, TriggerStore};
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = cron(&s, &agent, "0 * * * *").await;
    let trigger = s
        .platform
        .stores
        .triggers
        .trigger_for_fire(&id)
        .await
        .unwrap()
        .unwrap();
    let tick = trigger.next_run_at.unwrap();
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
            node.claim_tick(ClaimTick {
                id,
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
        won += usize::from(claim.await.unwrap());
    }
    assert_eq!(won, 1, "one node wins the tick");
}
