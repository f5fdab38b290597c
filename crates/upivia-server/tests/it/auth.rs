//! Credentials: agent keys, PATs, cookie sessions; isolation between agents.

use serde_json::json;

use crate::support::{TestServer, email};

#[tokio::test]
async fn missing_or_bad_credentials_are_401_with_the_envelope() {
    let s = TestServer::start().await;
    let none = s
        .send(reqwest::Method::GET, "/api/v1/balance", None, None)
        .await;
    assert_eq!(none.status, 401);
    assert_eq!(none.code(), "unauthorized");
    for token in ["agent_key_live_nope", "upivia_pat_live_nope", "garbage"] {
        let r = s.get("/api/v1/balance", token).await;
        assert_eq!(r.status, 401, "{token}");
    }
    let r = s
        .request(
            &crate::support::TestAgent {
                id: "x".into(),
                key: "agent_key_live_bogus".into(),
            },
            "email",
            "send",
            email(),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_wrong_kind_of_credential_is_403() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let r = s.get("/api/v1/balance", &agent.key).await;
    assert_eq!(r.status, 403);
    let r = s
        .post(
            "/api/v1/service-requests",
            &s.pat,
            json!({"service": "email", "operation": "send", "payload": email()}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code(), "forbidden");
}

#[tokio::test]
async fn an_agent_never_sees_another_agents_request() {
    let s = TestServer::start().await;
    let a = s.funded_agent("email", 100).await;
    let b = s.agent(json!({})).await;
    let r = s.request(&a, "email", "send", email()).await;
    let id = r.body["request_id"].as_str().unwrap();
    let other = s
        .get(&format!("/api/v1/service-requests/{id}"), &b.key)
        .await;
    assert_eq!(other.status, 404);
    assert!(other.body.get("result").is_none());
    assert_eq!(other.code(), "not_found");
    let listed = s.get("/api/v1/agents", &b.key).await;
    let ids: Vec<&str> = listed.body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.id.as_str()]);
}

#[tokio::test]
async fn rotating_a_key_kills_the_old_one_at_once() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let path = format!("/api/v1/agents/{}/key", agent.id);
    assert_eq!(
        s.patch(&path, &s.pat, json!({})).await.status,
        400,
        "confirmation required"
    );
    let r = s.patch(&path, &s.pat, json!({"confirm": true})).await;
    assert_eq!(r.status, 200);
    let new_key = r.body["api_key"].as_str().unwrap().to_owned();
    assert!(new_key.starts_with("agent_key_live_"));
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.status,
        401
    );
    let fresh = crate::support::TestAgent {
        id: agent.id.clone(),
        key: new_key,
    };
    assert_eq!(
        s.request(&fresh, "email", "send", email()).await.body["status"],
        "executed"
    );
    let audit = s.get("/api/v1/audit-logs?limit=3", &s.pat).await;
    let types: Vec<&str> = audit.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"agent.key_rotated"), "{types:?}");
}

#[tokio::test]
async fn login_sets_an_http_only_cookie_that_works_until_logout() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let wrong = http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": "owner@upivia.local", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let r = http
        .post(format!("{}/api/v1/auth/login", s.base))
        .json(&json!({"email": "owner@upivia.local", "password": s.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let balance = http
        .get(format!("{}/api/v1/balance", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(balance.status(), 200);
    let who = http
        .get(format!("{}/api/v1/whoami", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(
        who.json::<serde_json::Value>().await.unwrap()["email"],
        "owner@upivia.local"
    );
    let out = http
        .post(format!("{}/api/v1/auth/logout", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let after = http
        .get(format!("{}/api/v1/balance", s.base))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn keys_and_tokens_are_stored_only_as_hashes() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let hashes = s.column("SELECT key_hash FROM agents").await;
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes[0].len(), 64);
    assert!(!hashes[0].contains(&agent.key));
    let dump = s.column("SELECT token_hash FROM pats").await.join(",");
    assert!(!dump.contains(&s.pat));
    let pw = s.column("SELECT password_hash FROM users").await;
    assert!(pw[0].starts_with("$argon2id$"));
}

#[tokio::test]
async fn the_credentials_file_is_private_and_written_once() {
    let mut s = TestServer::start().await;
    let path = s.dir.path().join("data/initial-credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = std::fs::read(&path).unwrap();
    let creds: serde_json::Value = serde_json::from_slice(&before).unwrap();
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["base_url", "email", "org_id", "password", "pat"]);
    let data_dir = s.dir.path().join("data");
    let database_url = s.database.as_ref().map(|d| d.url().to_owned());
    let config = || {
        let mut config =
            upivia_server::config::Config::new("127.0.0.1:0".parse().unwrap(), data_dir.clone());
        // On PostgreSQL: a second node of the same database.
        config.database_url = database_url.clone().map(Into::into);
        config
    };
    if database_url.is_none() {
        // A second server beside the running one is refused before it opens
        // the database (its writer would not see the first one's caches).
        let beside = upivia_server::prepare(config(), "127.0.0.1:1".parse().unwrap())
            .await
            .err()
            .expect("a second server on a data dir in use is refused");
        let message = beside.to_string();
        assert!(
            message.starts_with(&format!("a server is running on {}", data_dir.display())),
            "{message}"
        );
        s.stop().await;
    }
    // A new start (after a stop, or another node) creates no second owner.
    let again = upivia_server::prepare(config(), "127.0.0.1:1".parse().unwrap())
        .await
        .expect("a second start prepares");
    assert!(again.bootstrap.is_none());
    let owners = s
        .column("SELECT CAST(COUNT(*) AS TEXT) FROM memberships WHERE role = 'owner'")
        .await;
    assert_eq!(owners, ["1"]);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
