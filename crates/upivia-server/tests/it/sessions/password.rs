//! Changing a password: the old one stops working, other sessions end, the
//! change is audited, and the bootstrap file forgets the plaintext.

use reqwest::Method;
use serde_json::{Value, json};

use super::{OWNER, login_as, owner_session, owner_session_with, with_cookie};
use crate::support::{Reply, TestServer};

const NEW: &str = "a much better passphrase";

async fn change_with_cookie(s: &TestServer, cookie: &str, current: &str, new: &str) -> Reply {
    with_cookie(
        s,
        Method::POST,
        "/api/v1/auth/password",
        cookie,
        &[("content-type", "application/json")],
        Some(json!({"current_password": current, "new_password": new}).to_string()),
    )
    .await
}

async fn balance_with_cookie(s: &TestServer, cookie: &str) -> Reply {
    with_cookie(s, Method::GET, "/api/v1/balance", cookie, &[], None).await
}

fn credentials(s: &TestServer) -> Value {
    serde_json::from_slice(
        &std::fs::read(s.dir.path().join("data/initial-credentials.json")).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn changing_the_password_swaps_it_and_ends_the_other_sessions() {
    let s = TestServer::start().await;
    let mine = owner_session(&s).await;
    let other = owner_session(&s).await;
    let r = change_with_cookie(&s, &mine, &s.password, NEW).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["sessions_revoked"], 1, "{r:?}");

    assert_eq!(
        balance_with_cookie(&s, &mine).await.status,
        200,
        "this session stays"
    );
    assert_eq!(
        balance_with_cookie(&s, &other).await.status,
        401,
        "the other one ends"
    );
    assert_eq!(login_as(&s, &s.http, OWNER, &s.password).await.status, 401);
    owner_session_with(&s, NEW).await;
    // The PAT is a separate credential and keeps working.
    assert_eq!(s.get("/api/v1/balance", &s.pat).await.status, 200);

    let audit = s.get("/api/v1/audit-logs?limit=5", &s.pat).await;
    let event = audit.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["event_type"] == "user.password_changed")
        .unwrap_or_else(|| panic!("audited: {audit:?}"))
        .clone();
    assert!(!event.to_string().contains(NEW), "no password in the trail");
    let verify = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(verify.body["ok"], true, "{verify:?}");

    // The bootstrap file no longer holds a password (and still holds the
    // rest, still private).
    let creds = credentials(&s);
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["base_url", "email", "org_id", "pat"]);
    assert_eq!(creds["pat"], s.pat.as_str());
    let raw = std::fs::read_to_string(s.dir.path().join("data/initial-credentials.json")).unwrap();
    assert!(!raw.contains(&s.password) && !raw.contains(NEW));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.dir.path().join("data/initial-credentials.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn changing_the_password_with_a_pat_ends_every_session() {
    let s = TestServer::start().await;
    let session = owner_session(&s).await;
    let r = s
        .post(
            "/api/v1/auth/password",
            &s.pat,
            json!({"current_password": s.password, "new_password": NEW}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(balance_with_cookie(&s, &session).await.status, 401);
    owner_session_with(&s, NEW).await;
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_counted_by_the_throttle() {
    let s = TestServer::start().await;
    for attempt in 1..=5 {
        let r = s
            .post(
                "/api/v1/auth/password",
                &s.pat,
                json!({"current_password": "not it", "new_password": NEW}),
            )
            .await;
        assert_eq!(r.status, 403, "attempt {attempt}: {r:?}");
        assert_eq!(r.code(), "forbidden");
    }
    // The sixth try, even with the right password, waits out the lock.
    let r = s
        .post(
            "/api/v1/auth/password",
            &s.pat,
            json!({"current_password": s.password, "new_password": NEW}),
        )
        .await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.headers.contains_key("retry-after"));
    // Nothing changed: the old password still logs in (from an address
    // that is not locked).
    let elsewhere = super::client_from("127.0.0.2");
    let r = login_as(&s, &elsewhere, OWNER, &s.password).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(credentials(&s).get("password").is_some());
}

#[tokio::test]
async fn a_too_short_unchanged_or_missing_new_password_is_422() {
    let s = TestServer::start().await;
    let change = |new: Value| {
        let body = json!({"current_password": s.password, "new_password": new});
        s.post("/api/v1/auth/password", &s.pat, body)
    };
    let short = change(json!("fourteen chars")).await;
    assert_eq!(short.status, 422, "{short:?}");
    assert_eq!(short.code(), "invalid_payload");
    let message = short.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("new_password") && message.contains("15"),
        "{message}"
    );
    let same = change(json!(s.password)).await;
    assert_eq!(same.status, 422, "the same password again: {same:?}");
    let missing = change(Value::Null).await;
    assert_eq!(missing.status, 422, "{missing:?}");
    let huge = change(json!("x".repeat(300))).await;
    assert_eq!(huge.status, 422, "{huge:?}");
    // None of them counted as a failure or changed anything.
    owner_session(&s).await;
    assert!(credentials(&s).get("password").is_some());
    // Fifteen characters, spaces included, are enough.
    let ok = change(json!("fifteen  chars!")).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    owner_session_with(&s, "fifteen  chars!").await;
}
