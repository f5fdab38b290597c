//! Cross-site request forgery: a mutation carried by the session cookie must
//! come from the server's own origin and be JSON (or carry the session's
//! CSRF token). Bearer credentials are not affected.

use reqwest::Method;
use serde_json::{Value, json};

use super::{json_body, owner_session, with_cookie};
use crate::support::{Reply, TestAgent, TestServer, reply};

const EVIL: &str = "http://evil.example";

/// An agent whose email binding needs approval, one pending approval, a
/// funded organisation (100 cents) and a logged-in owner.
struct Scene {
    agent: TestAgent,
    approval: String,
    cookie: String,
}

async fn scene(s: &TestServer) -> Scene {
    let (agent, approval, _) = s.parked().await;
    Scene {
        approval,
        agent,
        cookie: owner_session(s).await,
    }
}

/// The four mutations of the report: approve, drop an approval requirement,
/// credit the balance, create an agent.
fn mutations(scene: &Scene) -> Vec<(&'static str, String, Value)> {
    vec![
        (
            "approve",
            format!("/api/v1/approvals/{}/approve", scene.approval),
            json!({}),
        ),
        (
            "binding without approval",
            format!("/api/v1/agents/{}/services", scene.agent.id),
            json!({"service_id": "email", "require_approval": false}),
        ),
        (
            "credit",
            "/api/v1/balance/credits".to_owned(),
            json!({"amount_cents": 5000, "note": "csrf"}),
        ),
        (
            "create agent",
            "/api/v1/agents".to_owned(),
            json!({"name": "made-cross-site"}),
        ),
    ]
}

/// What the owner's PAT sees: (approval pending, binding requires approval,
/// balance, number of agents).
async fn state(s: &TestServer, scene: &Scene) -> (bool, bool, i64, usize) {
    let pending = s.get("/api/v1/approvals?status=pending", &s.pat).await;
    let pending = pending.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == scene.approval.as_str());
    let agent = s
        .get(&format!("/api/v1/agents/{}", scene.agent.id), &s.pat)
        .await;
    let gated = agent.body["services"][0]["require_approval"] == true;
    let agents = s.get("/api/v1/agents", &s.pat).await;
    let agents = agents.body["agents"].as_array().unwrap().len();
    (pending, gated, s.balance().await, agents)
}

fn assert_csrf_refused(r: &Reply, what: &str) {
    assert_eq!(r.status, 403, "{what}: {r:?}");
    assert_eq!(r.code(), "csrf_rejected", "{what}: {r:?}");
    assert!(
        r.body["error"]["message"].as_str().unwrap().len() > 20,
        "{what}: the message says why: {r:?}"
    );
}

/// (name, headers, body: `None` = the mutation's JSON as text, or as given).
type Attack = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Option<&'static str>,
);

#[tokio::test]
async fn cross_site_requests_with_the_cookie_change_nothing() {
    let s = TestServer::start().await;
    let scene = scene(&s).await;
    let before = state(&s, &scene).await;
    assert_eq!(before, (true, true, 100, 1));
    const OTHER_PORT: &str = "http://127.0.0.1:1";
    let attacks: Vec<Attack> = vec![
        (
            "empty urlencoded form, cross-site",
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", EVIL),
                ("sec-fetch-site", "cross-site"),
            ],
            Some(""),
        ),
        (
            "text/plain form carrying JSON, cross-site",
            vec![
                ("content-type", "text/plain"),
                ("origin", EVIL),
                ("sec-fetch-site", "cross-site"),
            ],
            None,
        ),
        (
            "text/plain form from an old browser (no Origin, no Sec-Fetch-Site)",
            vec![("content-type", "text/plain;charset=UTF-8")],
            None,
        ),
        (
            "text/plain form from another port of the same host",
            vec![
                ("content-type", "text/plain"),
                ("origin", OTHER_PORT),
                ("sec-fetch-site", "same-site"),
            ],
            None,
        ),
        (
            "JSON from a foreign origin",
            vec![("content-type", "application/json"), ("origin", EVIL)],
            None,
        ),
        (
            "JSON from a sibling subdomain",
            vec![
                ("content-type", "application/json"),
                ("sec-fetch-site", "same-site"),
            ],
            None,
        ),
        (
            "opaque origin (null)",
            vec![("content-type", "application/json"), ("origin", "null")],
            None,
        ),
        ("a body without a content type", vec![], None),
    ];
    for (what, path, body) in mutations(&scene) {
        for (attack, headers, raw) in &attacks {
            let body = raw.map(str::to_owned).unwrap_or_else(|| body.to_string());
            let r = with_cookie(&s, Method::POST, &path, &scene.cookie, headers, Some(body)).await;
            assert_csrf_refused(&r, &format!("{what} / {attack}"));
        }
    }
    assert_eq!(state(&s, &scene).await, before, "nothing changed");
}

#[tokio::test]
async fn same_origin_browser_json_with_the_cookie_works() {
    let s = TestServer::start().await;
    let scene = scene(&s).await;
    let headers = [
        ("content-type", "application/json"),
        ("origin", s.base.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    for (what, path, body) in mutations(&scene) {
        let r = with_cookie(
            &s,
            Method::POST,
            &path,
            &scene.cookie,
            &headers,
            json_body(body),
        )
        .await;
        assert_eq!(r.status, 200, "{what}: {r:?}");
    }
    // The approval ran (1 cent), the credit landed, the agent exists.
    assert_eq!(state(&s, &scene).await, (false, false, 5099, 2));
}

#[tokio::test]
async fn sdk_like_json_without_origin_works_with_the_cookie() {
    // The official SDK in workspace mode: the cookie as a default header,
    // `content-type: application/json`, no Origin, no Sec-Fetch-Site.
    let s = TestServer::start().await;
    let scene = scene(&s).await;
    let headers = [("content-type", "application/json")];
    for (what, path, body) in mutations(&scene) {
        let r = with_cookie(
            &s,
            Method::POST,
            &path,
            &scene.cookie,
            &headers,
            json_body(body),
        )
        .await;
        assert_eq!(r.status, 200, "{what}: {r:?}");
    }
    assert_eq!(state(&s, &scene).await, (false, false, 5099, 2));
    // A bodiless POST (the interop suite's logout) is not a form either.
    let out = with_cookie(
        &s,
        Method::POST,
        "/api/v1/auth/logout",
        &scene.cookie,
        &[],
        None,
    )
    .await;
    assert_eq!(out.status, 200, "{out:?}");
}

#[tokio::test]
async fn bearer_requests_ignore_origin_and_content_type() {
    let s = TestServer::start().await;
    let scene = scene(&s).await;
    for (what, path, body) in mutations(&scene) {
        let r = s
            .http
            .post(format!("{}{path}", s.base))
            .bearer_auth(&s.pat)
            .header("origin", EVIL)
            .header("sec-fetch-site", "cross-site")
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let r = reply(r).await;
        assert_eq!(r.status, 200, "{what}: {r:?}");
    }
    assert_eq!(state(&s, &scene).await, (false, false, 5099, 2));
}

#[tokio::test]
async fn the_sessions_csrf_token_admits_a_non_json_same_origin_request() {
    let s = TestServer::start().await;
    let login = super::login_as(&s, &s.http, super::OWNER, &s.password).await;
    let token = login.body["csrf_token"]
        .as_str()
        .expect("login hands out the token")
        .to_owned();
    let cookie = super::cookie_pair(&login);
    let fetched = with_cookie(&s, Method::GET, "/api/v1/auth/csrf", &cookie, &[], None).await;
    assert_eq!(fetched.status, 200, "{fetched:?}");
    assert_eq!(fetched.body["csrf_token"], token.as_str());
    // Another session has another token.
    let other = super::login_as(&s, &s.http, super::OWNER, &s.password).await;
    assert_ne!(other.body["csrf_token"], token.as_str());

    let credit = json!({"amount_cents": 7, "note": "token"}).to_string();
    let with = |headers: Vec<(&'static str, String)>| {
        let (s, cookie, credit) = (&s, cookie.clone(), credit.clone());
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            with_cookie(
                s,
                Method::POST,
                "/api/v1/balance/credits",
                &cookie,
                &h,
                Some(credit),
            )
            .await
        }
    };
    let ok = with(vec![
        ("content-type", "text/plain".into()),
        ("x-csrf-token", token.clone()),
    ])
    .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let wrong = with(vec![
        ("content-type", "application/json".into()),
        ("x-csrf-token", "0".repeat(64)),
    ])
    .await;
    assert_csrf_refused(&wrong, "a wrong token, even on JSON");
    let foreign = with(vec![
        ("content-type", "text/plain".into()),
        ("x-csrf-token", token.clone()),
        ("origin", EVIL.into()),
    ])
    .await;
    assert_csrf_refused(&foreign, "a right token from a foreign origin");
    assert_eq!(s.balance().await, 7);
    // The token is a cookie-session thing.
    let pat = s.get("/api/v1/auth/csrf", &s.pat).await;
    assert_eq!(pat.status, 400, "{pat:?}");
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_public_url_is_https() {
    let s = TestServer::start_with(|c| c.public_base_url = Some("https://upivia.example/".into()))
        .await;
    let login = super::login_as(&s, &s.http, super::OWNER, &s.password).await;
    let set = login.headers["set-cookie"].to_str().unwrap();
    assert!(set.contains("; Secure"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = super::cookie_pair(&login);
    let credit = || json_body(json!({"amount_cents": 3}));
    let json = ("content-type", "application/json");
    let same = with_cookie(
        &s,
        Method::POST,
        "/api/v1/balance/credits",
        &cookie,
        &[
            json,
            ("origin", "https://upivia.example"),
            ("sec-fetch-site", "same-origin"),
        ],
        credit(),
    )
    .await;
    assert_eq!(same.status, 200, "{same:?}");
    let downgraded = with_cookie(
        &s,
        Method::POST,
        "/api/v1/balance/credits",
        &cookie,
        &[json, ("origin", "http://upivia.example")],
        credit(),
    )
    .await;
    assert_csrf_refused(&downgraded, "the http:// origin of an https:// server");
    let out = with_cookie(
        &s,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        &[json],
        None,
    )
    .await;
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );

    let plain = TestServer::start().await;
    let login = super::login_as(&plain, &plain.http, super::OWNER, &plain.password).await;
    let set = login.headers["set-cookie"].to_str().unwrap();
    assert!(!set.contains("Secure"), "no Secure over http: {set}");
}

#[tokio::test]
async fn a_foreign_page_cannot_log_the_browser_in() {
    let s = TestServer::start().await;
    let body = json!({"email": super::OWNER, "password": s.password}).to_string();
    for headers in [
        vec![("content-type", "text/plain"), ("origin", EVIL)],
        vec![
            ("content-type", "application/json"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("content-type", "application/x-www-form-urlencoded")],
    ] {
        let mut req = s.http.post(format!("{}/api/v1/auth/login", s.base));
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let r = reply(req.body(body.clone()).send().await.unwrap()).await;
        assert_csrf_refused(&r, &format!("login with {headers:?}"));
        assert!(r.headers.get("set-cookie").is_none());
    }
    // Same-origin JSON logs in.
    let r = s
        .http
        .post(format!("{}/api/v1/auth/login", s.base))
        .header("origin", &s.base)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"email": super::OWNER, "password": s.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
