//! The auth matrix: every route the server answers × every kind of
//! credential → the class of answer it must get. A route that exists but
//! is missing from `ROUTES` fails `every_answered_endpoint_is_in_the_matrix`,
//! so a route added later cannot skip this check.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestServer, email};

/// Who a route is for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    /// Anyone, with or without credentials.
    Public,
    /// Only an agent key.
    Agent,
    /// An agent key or a user credential.
    Either,
    /// A user (PAT or cookie) of at least this role; agent keys are 403.
    User(Role),
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Role {
    Member,
    Admin,
    Owner,
}

/// The routes, with `{agent}`, `{request}`, `{approval}` standing for real
/// ids that the matrix creates first.
const ROUTES: &[(&str, &str, Who)] = &[
    ("GET", "/healthz", Who::Public),
    ("GET", "/health/readiness", Who::Public),
    ("GET", "/agent-docs", Who::Public),
    ("GET", "/services", Who::Public),
    ("POST", "/auth/login", Who::Public),
    ("POST", "/auth/logout", Who::User(Role::Member)),
    ("GET", "/whoami", Who::User(Role::Member)),
    ("GET", "/auth/csrf", Who::User(Role::Member)),
    ("POST", "/auth/password", Who::User(Role::Member)),
    ("GET", "/audit-logs/checkpoints", Who::User(Role::Admin)),
    ("GET", "/audit-logs/public-key", Who::User(Role::Member)),
    ("POST", "/service-requests", Who::Agent),
    ("GET", "/service-requests/{request}", Who::Agent),
    ("GET", "/balance", Who::User(Role::Member)),
    ("POST", "/balance/credits", Who::User(Role::Owner)),
    ("GET", "/usage", Who::User(Role::Member)),
    ("GET", "/approvals", Who::User(Role::Member)),
    (
        "POST",
        "/approvals/{approval}/approve",
        Who::User(Role::Admin),
    ),
    (
        "POST",
        "/approvals/{approval}/reject",
        Who::User(Role::Admin),
    ),
    ("GET", "/audit-logs", Who::User(Role::Member)),
    ("GET", "/agents", Who::Either),
    ("POST", "/agents", Who::User(Role::Member)),
    ("GET", "/agents/{agent}", Who::User(Role::Member)),
    // The matrix's agent belongs to the owner: a member manages only the
    // agents they own (tests/it/roles.rs covers the owning member).
    ("PATCH", "/agents/{agent}", Who::User(Role::Admin)),
    ("PATCH", "/agents/{agent}/key", Who::User(Role::Admin)),
    ("PATCH", "/agents/{agent}/budget", Who::User(Role::Admin)),
    ("POST", "/agents/{agent}/services", Who::User(Role::Admin)),
    ("DELETE", "/agents/{agent}/services", Who::User(Role::Admin)),
    ("PATCH", "/org", Who::User(Role::Admin)),
    ("GET", "/admin/ledger/check", Who::User(Role::Admin)),
    ("GET", "/admin/audit/verify", Who::User(Role::Admin)),
];

#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    Garbage,
    UnknownPat,
    UnknownAgentKey,
    AgentKey,
    MemberPat,
    AdminPat,
    OwnerPat,
    OwnerCookie,
}

const CREDS: &[Cred] = &[
    Cred::None,
    Cred::Garbage,
    Cred::UnknownPat,
    Cred::UnknownAgentKey,
    Cred::AgentKey,
    Cred::MemberPat,
    Cred::AdminPat,
    Cred::OwnerPat,
    Cred::OwnerCookie,
];

/// The class of answer a credential must get on a route.
#[derive(Debug, PartialEq)]
enum Class {
    Unauthenticated,
    Forbidden,
    /// Past authentication and authorisation: 2xx, or a 4xx about the
    /// input or the state (400, 404 of an id, 409, 422), never 401/403/5xx.
    Allowed,
}

fn expected(who: Who, cred: Cred) -> Class {
    use Class::*;
    match (who, cred) {
        (Who::Public, _) => Allowed,
        (_, Cred::None | Cred::Garbage | Cred::UnknownPat | Cred::UnknownAgentKey) => {
            Unauthenticated
        }
        (Who::Agent, Cred::AgentKey) => Allowed,
        (Who::Agent, _) => Forbidden,
        (Who::Either, _) => Allowed,
        (Who::User(_), Cred::AgentKey) => Forbidden,
        (Who::User(needed), Cred::OwnerPat | Cred::OwnerCookie) if Role::Owner >= needed => Allowed,
        (Who::User(needed), Cred::AdminPat) if Role::Admin >= needed => Allowed,
        (Who::User(needed), Cred::MemberPat) if Role::Member >= needed => Allowed,
        (Who::User(_), _) => Forbidden,
    }
}

fn classify(status: u16) -> Option<Class> {
    match status {
        401 => Some(Class::Unauthenticated),
        403 => Some(Class::Forbidden),
        200..=299 | 400 | 404 | 409 | 410 | 422 => Some(Class::Allowed),
        _ => None,
    }
}

struct Ids {
    agent: String,
    agent_key: String,
    request: String,
    approval: String,
    cookie: String,
    member_pat: String,
    admin_pat: String,
}

async fn setup(s: &TestServer) -> Ids {
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["status"], "approval_required", "{r:?}");
    let login = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": "owner@upivia.local", "password": s.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    Ids {
        agent: agent.id,
        agent_key: agent.key,
        request: r.body["request_id"].as_str().unwrap().to_owned(),
        approval: r.body["approval_id"].as_str().unwrap().to_owned(),
        cookie,
        member_pat: s.user_pat(upivia_server::model::Role::Member).await,
        admin_pat: s.user_pat(upivia_server::model::Role::Admin).await,
    }
}

fn fill(path: &str, ids: &Ids) -> String {
    path.replace("{agent}", &ids.agent)
        .replace("{request}", &ids.request)
        .replace("{approval}", &ids.approval)
}

async fn call(s: &TestServer, ids: &Ids, method: &str, path: &str, cred: Cred) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let has_body = method != Method::GET;
    let mut req = s.http.request(method, format!("{}{path}", s.base));
    req = match cred {
        Cred::None => req,
        Cred::Garbage => req.bearer_auth("garbage"),
        Cred::UnknownPat => req.bearer_auth("upivia_pat_live_0000000000000000"),
        Cred::UnknownAgentKey => req.bearer_auth("agent_key_live_0000000000000000"),
        Cred::AgentKey => req.bearer_auth(&ids.agent_key),
        Cred::MemberPat => req.bearer_auth(&ids.member_pat),
        Cred::AdminPat => req.bearer_auth(&ids.admin_pat),
        Cred::OwnerPat => req.bearer_auth(&s.pat),
        Cred::OwnerCookie => req.header("cookie", &ids.cookie),
    };
    if has_body {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_route_answers_every_credential_with_its_class() {
    // The matrix causes hundreds of 401s from one address; the login
    // throttle (tested on its own) would turn them into 429s.
    let s = TestServer::start_with(|c| c.auth_failures_per_minute = None).await;
    let ids = setup(&s).await;
    let mut failures = Vec::new();
    for prefix in ["/api/v1", "/v1"] {
        for &(method, path, who) in ROUTES {
            // Logging out ends the cookie's session; it goes last.
            if path == "/auth/logout" {
                continue;
            }
            let full = format!("{prefix}{}", fill(path, &ids));
            for &cred in CREDS {
                let (status, body) = call(&s, &ids, method, &full, cred).await;
                let want = expected(who, cred);
                if classify(status).as_ref() != Some(&want) {
                    failures.push(format!(
                        "{method} {full} with {cred:?}: {status} {body}, want {want:?}"
                    ));
                    continue;
                }
                if status >= 400 && !body["error"]["code"].is_string() {
                    failures.push(format!(
                        "{method} {full} with {cred:?}: no envelope: {body}"
                    ));
                }
            }
        }
    }
    for &cred in CREDS {
        let (status, _) = call(&s, &ids, "POST", "/api/v1/auth/logout", cred).await;
        let want = expected(Who::User(Role::Member), cred);
        if classify(status).as_ref() != Some(&want) {
            failures.push(format!(
                "POST /auth/logout with {cred:?}: {status}, want {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every endpoint of the spec's list that this server answers (anything
/// but "no route" / "method not allowed") must be in `ROUTES`.
#[tokio::test]
async fn every_answered_endpoint_is_in_the_matrix() {
    let s = TestServer::start().await;
    let table = include_str!("endpoints.tsv");
    let mut missing = Vec::new();
    let mut answered = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (method, path) = (cols[2], cols[3]);
        let concrete = fill_spec_params(path);
        let (status, body) = call_raw(&s, method, &concrete).await;
        let unrouted = (status == 404 && body["error"]["message"] == "no route for this path")
            || status == 405;
        if unrouted {
            continue;
        }
        answered += 1;
        let Some(rel) = path.strip_prefix("/api/v1") else {
            continue;
        };
        let known = ROUTES
            .iter()
            .any(|&(m, p, _)| m == method && same_shape(p, rel));
        if !known {
            missing.push(format!("{method} {path} ({status})"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes the server answers but the auth matrix does not cover:\n{}",
        missing.join("\n")
    );
    assert!(answered >= 20, "only {answered} endpoints answered");
}

fn fill_spec_params(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        out.push_str("x_0");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Whether our route serves the spec's path: `/agents/{agent}` serves
/// `/agents/{agent_id}`, and also `/agents/health` until that has a route
/// of its own (axum then prefers the literal one).
fn same_shape(ours: &str, spec: &str) -> bool {
    let a: Vec<&str> = ours.split('/').collect();
    let b: Vec<&str> = spec.split('/').collect();
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || x.starts_with('{'))
}

async fn call_raw(s: &TestServer, method: &str, path: &str) -> (u16, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let resp = s
        .http
        .request(method, format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Hostile input on every route of the matrix, with the credential that
/// gets furthest in: never a 5xx, always the envelope on an error.
#[tokio::test]
async fn hostile_input_on_every_route_never_breaks_the_server() {
    let s = TestServer::start().await;
    let ids = setup(&s).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let long = format!("{{\"name\":\"{}\"}}", "x".repeat(200_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"{".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"\"str\"".to_vec()),
        ("application/json", b"{\"amount_cents\":1e400}".to_vec()),
        (
            "application/json",
            b"{\"amount_cents\":-9223372036854775808}".to_vec(),
        ),
        (
            "application/json",
            b"{\"amount_cents\":9223372036854775807}".to_vec(),
        ),
        (
            "application/json",
            br#"{"name":"\u0000","service":{},"payload":[1]}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"service_id":"email","daily_limit":-1,"max_cost_cents":"x"}"#.to_vec(),
        ),
        ("application/json", deep.into_bytes()),
        ("application/json", long.into_bytes()),
        ("application/json", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("text/plain", b"amount_cents=5".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"amount_cents=5&name=x".to_vec(),
        ),
    ];
    let queries = [
        "?limit=-1",
        "?limit=99999999999999999999",
        "?cursor=%00%ff",
        "?cursor=bm90IGEgY3Vyc29y",
        "?status=%27%3B--",
        "?from=yesterday&to=2026-13-45",
    ];
    let mut failures = Vec::new();
    for &(method, path, who) in ROUTES {
        if path == "/auth/logout" {
            continue;
        }
        let token = if who == Who::Agent {
            ids.agent_key.clone()
        } else {
            s.pat.clone()
        };
        let url = format!("{}/api/v1{}", s.base, fill(path, &ids));
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut attempts: Vec<reqwest::RequestBuilder> = Vec::new();
        if m == Method::GET {
            for q in queries {
                attempts.push(s.http.get(format!("{url}{q}")));
            }
        } else {
            for (ctype, body) in &bodies {
                attempts.push(
                    s.http
                        .request(m.clone(), &url)
                        .header("content-type", *ctype)
                        .body(body.clone()),
                );
            }
        }
        if path.contains('{') {
            for bad in [
                "..%2F..%2Fetc",
                "%00",
                "agt_%F0%9F%92%A3",
                &"a".repeat(5000),
            ] {
                let bad_path = path
                    .replace("{agent}", bad)
                    .replace("{request}", bad)
                    .replace("{approval}", bad);
                attempts.push(
                    s.http
                        .request(m.clone(), format!("{}/api/v1{bad_path}", s.base))
                        .json(&json!({})),
                );
            }
        }
        for attempt in attempts {
            let resp = attempt.bearer_auth(&token).send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status >= 500 {
                failures.push(format!("{method} {path}: {status} {body}"));
            } else if status >= 400 && !body["error"]["code"].is_string() {
                failures.push(format!(
                    "{method} {path}: {status} without the envelope: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
        }
    }
    let health = s
        .http
        .get(format!("{}/api/v1/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    s.ledger_ok().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
