//! Private services: an organisation registers its own API with
//! `platform.register_service`, and calls to it are governed like any
//! built-in (bindings, schema, budget, audit), made with the organisation's
//! secret, against a local fake of that API.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::fakes::{Canned, FakeHttp};
use crate::support::{TestAgent, TestServer};

const TOKEN: &str = "acme-internal-token-4f1c9e";

async fn server() -> TestServer {
    TestServer::start_with(|c| c.webhook_allowed_hosts = vec!["http://127.0.0.1".into()]).await
}

async fn put_secret(s: &TestServer, name: &str, value: &str) {
    let r = s
        .send(
            Method::PUT,
            &format!("/api/v1/secrets/{name}"),
            Some(&s.pat),
            Some(json!({"value": value})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

/// An agent of the owner with the platform's operations enabled.
async fn registrar(s: &TestServer) -> TestAgent {
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "platform"})).await;
    agent
}

fn definition(fake: &FakeHttp, cost: i64) -> Value {
    json!({
        "key": "acme.lookup",
        "endpoint": fake.url("/lookup"),
        "auth": {"type": "bearer", "secret_ref": "ACME_TOKEN"},
        "request_schema": {
            "type": "object",
            "properties": {"invoice_id": {"type": "string"}},
            "required": ["invoice_id"],
            "additionalProperties": false,
        },
        "cost_estimate_cents": cost,
        "description": "Looks up an invoice in the billing system.",
    })
}

/// Registers `acme.lookup` on `fake` and returns a funded agent bound to it.
async fn registered(s: &TestServer, fake: &FakeHttp, cost: i64) -> TestAgent {
    put_secret(s, "ACME_TOKEN", TOKEN).await;
    let admin = registrar(s).await;
    let r = s
        .request(
            &admin,
            "platform",
            "register_service",
            definition(fake, cost),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["cost_cents"], 0);
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "acme", "operation": "lookup"}))
        .await;
    agent
}

fn private_ops(catalog: &Value) -> Vec<(String, String)> {
    catalog["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["private"] == true)
        .flat_map(|s| s["operations"].as_array().unwrap().clone())
        .map(|op| {
            (
                op["full_name"].as_str().unwrap().to_owned(),
                op["provider"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_registered_api_is_called_with_its_secret_and_charged_its_estimate() {
    let fake = FakeHttp::start(vec![Canned::json(
        200,
        json!({"invoice_id": "inv_7", "amount_cents": 4200, "paid": true}),
    )])
    .await;
    let s = server().await;
    let agent = registered(&s, &fake, 3).await;
    let r = s
        .request(&agent, "acme", "lookup", json!({"invoice_id": "inv_7"}))
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "custom");
    assert_eq!(r.body["cost_cents"], 3);
    assert_eq!(
        r.body["result"],
        json!({"invoice_id": "inv_7", "amount_cents": 4200, "paid": true})
    );
    assert_eq!(s.balance().await, 97);

    let hits = fake.hits();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.uri, "/lookup");
    assert_eq!(hit.header("authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(
        hit.header("idempotency-key"),
        r.body["request_id"].as_str().unwrap()
    );
    assert_eq!(hit.header("content-type"), "application/json");
    assert_eq!(hit.json(), json!({"invoice_id": "inv_7"}));

    // The organisation's callers see it in the catalog; nobody else does.
    let mine = s.get("/api/v1/services", &agent.key).await;
    assert_eq!(
        private_ops(&mine.body),
        vec![("acme.lookup".to_owned(), "custom".to_owned())]
    );
    let by_pat = s.get("/api/v1/services", &s.pat).await;
    assert_eq!(private_ops(&by_pat.body).len(), 1);
    let anonymous = s.send(Method::GET, "/api/v1/services", None, None).await;
    assert!(private_ops(&anonymous.body).is_empty());
    let other = s.other_org("Elsewhere").await;
    let theirs = s.get("/api/v1/services", &other.pat).await;
    assert!(private_ops(&theirs.body).is_empty());

    // Registration and the call are both in the audit trail.
    let audit = s.get("/api/v1/audit-logs?limit=100", &s.pat).await;
    let text = audit.body.to_string();
    assert!(text.contains("custom_service.registered"), "{text}");
    assert!(!text.contains(TOKEN), "the secret reached the audit trail");
    s.ledger_ok().await;
}

#[tokio::test]
async fn payloads_are_checked_against_the_registered_schema() {
    let fake = FakeHttp::start(vec![]).await;
    let s = server().await;
    let agent = registered(&s, &fake, 3).await;
    for (payload, field) in [
        (json!({"invoice_id": 7}), "invoice_id"),
        (json!({}), "invoice_id"),
        (json!({"invoice_id": "inv_7", "extra": true}), "extra"),
    ] {
        let r = s.request(&agent, "acme", "lookup", payload.clone()).await;
        assert_eq!(r.status, 422, "{payload}: {r:?}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{payload}: {message}");
    }
    assert!(fake.hits().is_empty());
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn upstream_failures_cost_nothing() {
    let fake = FakeHttp::start(vec![
        Canned::text(503, "down for maintenance"),
        Canned::text(503, "still down"),
        Canned::text(503, "still down"),
        Canned::text(503, "still down"),
        Canned::text(503, "still down"),
    ])
    .await;
    let s = server().await;
    let agent = registered(&s, &fake, 3).await;
    let r = s
        .request(&agent, "acme", "lookup", json!({"invoice_id": "a"}))
        .await;
    assert_eq!(r.body["status"], "failed", "{r:?}");
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert_eq!(s.balance().await, 100);

    let refusing = FakeHttp::start(vec![
        Canned::json(400, json!({"error": "no such invoice"})),
        Canned::text(200, "<html>not json</html>"),
    ])
    .await;
    let s = server().await;
    let agent = registered(&s, &refusing, 3).await;
    for _ in 0..2 {
        let r = s
            .request(&agent, "acme", "lookup", json!({"invoice_id": "a"}))
            .await;
        assert_eq!(r.body["status"], "failed", "{r:?}");
        assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    }
    assert_eq!(refusing.hits().len(), 2);
    assert_eq!(s.balance().await, 100);
    s.ledger_ok().await;
}

#[tokio::test]
async fn updates_change_the_call_and_removal_ends_it() {
    let fake = FakeHttp::start(vec![
        Canned::json(200, json!({"ok": 1})),
        Canned::json(200, json!({"ok": 2})),
    ])
    .await;
    let s = server().await;
    let agent = registered(&s, &fake, 3).await;
    put_secret(&s, "ACME_KEY_V2", "second-credential").await;
    let admin = registrar(&s).await;
    let r = s
        .request(
            &admin,
            "platform",
            "update_service",
            json!({
                "key": "acme.lookup",
                "auth": {"type": "header", "header": "X-Api-Key", "secret_ref": "ACME_KEY_V2"},
                "cost_estimate_cents": 5,
            }),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["result"]["service"]["cost_estimate_cents"], 5);
    // The fields left out stay as registered.
    assert_eq!(
        r.body["result"]["service"]["request_schema"]["required"],
        json!(["invoice_id"])
    );
    let r = s
        .request(&agent, "acme", "lookup", json!({"invoice_id": "b"}))
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["cost_cents"], 5);
    let hit = fake.hits().pop().unwrap();
    assert_eq!(hit.header("x-api-key"), "second-credential");
    assert_eq!(hit.header("authorization"), "");
    assert_eq!(s.balance().await, 95);

    let r = s
        .request(
            &admin,
            "platform",
            "remove_service",
            json!({"key": "acme.lookup"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let r = s
        .request(&agent, "acme", "lookup", json!({"invoice_id": "b"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.code(), "unknown_service");
    // The agent's binding went with it.
    let services = s
        .get(&format!("/api/v1/agents/{}/services", agent.id), &s.pat)
        .await;
    assert!(!services.body.to_string().contains("acme"), "{services:?}");
    assert_eq!(fake.hits().len(), 1);
    s.ledger_ok().await;
}

#[tokio::test]
async fn registration_refuses_what_it_must() {
    let fake = FakeHttp::start(vec![]).await;
    let s = server().await;
    put_secret(&s, "ACME_TOKEN", TOKEN).await;
    let admin = registrar(&s).await;
    let with = |changes: Value| {
        let mut d = definition(&fake, 1);
        for (k, v) in changes.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    let cases = [
        (with(json!({"key": "email.send"})), "key", "built-in"),
        (with(json!({"key": "Bad Name"})), "key", "lowercase"),
        (
            with(json!({"endpoint": "https://api.not-listed.example/x"})),
            "endpoint",
            "",
        ),
        (
            with(json!({"endpoint": "http://user:pw@127.0.0.1:9/x"})),
            "endpoint",
            "credentials",
        ),
        (
            with(json!({"auth": {"type": "bearer", "secret_ref": "NOT_SET"}})),
            "secret_ref",
            "",
        ),
        (
            with(json!({"auth": {"type": "header", "header": "Host", "secret_ref": "ACME_TOKEN"}})),
            "header",
            "",
        ),
        (
            with(json!({"auth": {"type": "basic", "secret_ref": "ACME_TOKEN"}})),
            "auth",
            "",
        ),
        (
            with(json!({"request_schema": {"type": 12}})),
            "request_schema",
            "",
        ),
        (
            with(json!({"cost_estimate_cents": -1})),
            "cost_estimate_cents",
            "",
        ),
    ];
    for (payload, field, says) in cases {
        let r = s
            .request(&admin, "platform", "register_service", payload.clone())
            .await;
        assert_eq!(r.status, 422, "{payload}: {r:?}");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{payload}: {message}");
        assert!(message.contains(says), "{payload}: {message}");
    }

    // Registered once; the second registration is a conflict.
    let r = s
        .request(&admin, "platform", "register_service", definition(&fake, 1))
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let r = s
        .request(&admin, "platform", "register_service", definition(&fake, 1))
        .await;
    assert_eq!(r.status, 409, "{r:?}");
    assert_eq!(r.code(), "service_exists");
    // Updating or removing what does not exist.
    for op in ["update_service", "remove_service"] {
        let r = s
            .request(&admin, "platform", op, json!({"key": "acme.nothing"}))
            .await;
        assert_eq!(r.status, 404, "{op}: {r:?}");
    }

    // An agent of a member may not change the organisation's catalog.
    let member = s.user_pat(Role::Member).await;
    let r = s
        .post("/api/v1/agents", &member, json!({"name": "member's agent"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let members_agent = TestAgent {
        id: r.body["agent"]["id"].as_str().unwrap().to_owned(),
        key: r.body["api_key"].as_str().unwrap().to_owned(),
    };
    s.enable(&members_agent, json!({"service_id": "platform"}))
        .await;
    let mut other = definition(&fake, 1);
    other["key"] = json!("acme.other");
    let r = s
        .request(&members_agent, "platform", "register_service", other)
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // A test key never changes the catalog.
    let tester = s.agent(json!({"key_mode": "test"})).await;
    s.enable(&tester, json!({"service_id": "platform"})).await;
    let mut other = definition(&fake, 1);
    other["key"] = json!("acme.tested");
    let r = s
        .request(&tester, "platform", "register_service", other)
        .await;
    assert_eq!(r.body["reason_code"], "live_provider_not_allowed", "{r:?}");

    let catalog = s.get("/api/v1/services", &s.pat).await;
    assert_eq!(
        private_ops(&catalog.body),
        vec![("acme.lookup".to_owned(), "custom".to_owned())]
    );
}

#[tokio::test]
async fn another_organisation_cannot_call_or_bind_it() {
    let fake = FakeHttp::start(vec![]).await;
    let s = server().await;
    registered(&s, &fake, 1).await;
    let other = s.other_org("Elsewhere").await;
    let r = s
        .post("/api/v1/agents", &other.pat, json!({"name": "theirs"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["agent"]["id"].as_str().unwrap().to_owned();
    let key = r.body["api_key"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/agents/{id}/services"),
            &other.pat,
            json!({"service_id": "acme", "operation": "lookup"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s
        .post(
            "/api/v1/service-requests",
            &key,
            json!({"service": "acme", "operation": "lookup", "payload": {"invoice_id": "x"}}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.code(), "unknown_service");
    assert!(fake.hits().is_empty());
}

#[tokio::test]
async fn an_endpoint_the_guard_refuses_at_call_time_is_not_called() {
    // Listed by name, so registration passes; `localhost` resolves to
    // loopback, which the guard refuses for names not listed as http://.
    let fake = FakeHttp::start(vec![]).await;
    let port = fake.addr.port();
    let s = TestServer::start_with(|c| c.webhook_allowed_hosts = vec!["localhost".into()]).await;
    put_secret(&s, "ACME_TOKEN", TOKEN).await;
    let admin = registrar(&s).await;
    let mut d = definition(&fake, 2);
    d["endpoint"] = json!(format!("https://localhost:{port}/lookup"));
    let r = s.request(&admin, "platform", "register_service", d).await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "acme"})).await;
    let r = s
        .request(&agent, "acme", "lookup", json!({"invoice_id": "x"}))
        .await;
    assert_eq!(r.body["status"], "failed", "{r:?}");
    assert_eq!(r.body["reason_code"], "adapter_error", "{r:?}");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{r:?}"
    );
    assert!(fake.hits().is_empty());
    assert_eq!(s.balance().await, 100);
}
