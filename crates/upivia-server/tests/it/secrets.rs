//! Organisation secrets over HTTP: written in versions by admins, listed
//! without values, deleted; never in an answer, the audit trail or the
//! database in plaintext; a sealed value opens only for the name and
//! version it was written as; another organisation sees none of them.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::governance::secrets::reveal;
use upivia_server::ids::OrgId;
use upivia_server::model::Role;
use upivia_server::store::PutSecret;

use crate::support::{Reply, TestServer};
use crate::teams::audit_events;

const VALUE: &str = "sk_live_ThisIsTheSecretValue_42";

async fn put(s: &TestServer, token: &str, name: &str, body: Value) -> Reply {
    s.send(
        Method::PUT,
        &format!("/api/v1/secrets/{name}"),
        Some(token),
        Some(body),
    )
    .await
}

async fn delete(s: &TestServer, token: &str, name: &str) -> Reply {
    s.send(
        Method::DELETE,
        &format!("/api/v1/secrets/{name}"),
        Some(token),
        None,
    )
    .await
}

async fn org(s: &TestServer) -> OrgId {
    let org = s
        .platform
        .stores
        .identity
        .primary_org()
        .await
        .unwrap()
        .unwrap();
    OrgId::from(&org.id)
}

#[tokio::test]
async fn secrets_are_written_in_versions_listed_without_values_and_deleted() {
    let s = TestServer::start().await;
    let r = put(&s, &s.pat, "STRIPE_KEY", json!({"value": VALUE})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["secret"]["name"], "STRIPE_KEY");
    assert_eq!(r.body["secret"]["version"], 1);
    let again = put(&s, &s.pat, "STRIPE_KEY", json!({"value": "rotated"})).await;
    assert_eq!(again.body["secret"]["version"], 2, "{again:?}");
    let admin = s.user_pat(Role::Admin).await;
    assert_eq!(
        put(&s, &admin, "OTHER", json!({"value": "x"})).await.status,
        200
    );

    let listed = s.get("/api/v1/secrets", &s.pat).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let names: Vec<&str> = listed.body["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["OTHER", "STRIPE_KEY"]);
    for answer in [&r, &again, &listed] {
        let text = answer.body.to_string();
        assert!(!text.contains(VALUE) && !text.contains("rotated"), "{text}");
    }
    // The platform opens the latest version for its own use.
    let opened = reveal(&s.platform, &org(&s).await, "STRIPE_KEY")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&opened.1), "rotated");

    let set = audit_events(&s, "secret.set").await;
    assert_eq!(set.len(), 3, "{set:?}");
    let trail = s.get("/api/v1/audit-logs?limit=500", &s.pat).await.body;
    assert!(
        !trail.to_string().contains(VALUE),
        "the audit trail holds no value"
    );

    let gone = delete(&s, &s.pat, "STRIPE_KEY").await;
    assert_eq!(gone.status, 200, "{gone:?}");
    assert_eq!(delete(&s, &s.pat, "STRIPE_KEY").await.status, 404);
    assert!(
        reveal(&s.platform, &org(&s).await, "STRIPE_KEY")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(audit_events(&s, "secret.deleted").await.len(), 1);
}

#[tokio::test]
async fn members_and_agents_cannot_touch_secrets_and_other_organisations_see_none() {
    let s = TestServer::start().await;
    put(&s, &s.pat, "SHARED", json!({"value": VALUE})).await;
    let member = s.user_pat(Role::Member).await;
    assert_eq!(
        put(&s, &member, "X", json!({"value": "v"})).await.status,
        403
    );
    assert_eq!(s.get("/api/v1/secrets", &member).await.status, 403);
    assert_eq!(delete(&s, &member, "SHARED").await.status, 403);
    let agent = s.agent(json!({})).await;
    assert_eq!(s.get("/api/v1/secrets", &agent.key).await.status, 403);

    let other = s.other_org("Elsewhere").await;
    let theirs = s.get("/api/v1/secrets", &other.pat).await;
    assert_eq!(theirs.body["secrets"], json!([]), "{theirs:?}");
    assert_eq!(delete(&s, &other.pat, "SHARED").await.status, 404);
    // Their own secret of the same name is theirs alone.
    assert_eq!(
        put(&s, &other.pat, "SHARED", json!({"value": "theirs"}))
            .await
            .status,
        200
    );
    let mine = reveal(&s.platform, &org(&s).await, "SHARED")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&mine.1), VALUE);
}

#[tokio::test]
async fn bad_names_and_values_get_the_envelope() {
    let s = TestServer::start().await;
    for name in ["9lives", "a%20b", "-x", &"A".repeat(129)] {
        let r = put(&s, &s.pat, name, json!({"value": "v"})).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{name}: {r:?}"
        );
    }
    for body in [
        json!({}),
        json!({"value": ""}),
        json!({"value": 5}),
        json!({"value": null}),
        json!({"value": "x".repeat(16 * 1024 + 1)}),
    ] {
        let r = put(&s, &s.pat, "GOOD", body.clone()).await;
        assert_eq!(r.status, 422, "{r:?}");
    }
    assert_eq!(
        s.get("/api/v1/secrets", &s.pat).await.body["secrets"],
        json!([])
    );
}

#[tokio::test]
async fn no_value_is_stored_in_plaintext_and_a_moved_ciphertext_does_not_open() {
    let s = TestServer::start().await;
    put(&s, &s.pat, "DB_PASSWORD", json!({"value": VALUE})).await;
    put(&s, &s.pat, "DB_PASSWORD", json!({"value": VALUE})).await;
    let org = org(&s).await;
    let stored = s
        .column("SELECT sealed FROM org_secrets UNION ALL SELECT wrapped FROM org_data_keys")
        .await;
    assert_eq!(stored.len(), 2);
    for text in &stored {
        assert!(!text.contains(VALUE), "{text}");
    }
    if !crate::support::on_postgres() {
        for file in ["upivia.db", "upivia.db-wal"] {
            let path = s.dir.path().join("data").join(file);
            if let Ok(bytes) = std::fs::read(&path) {
                assert!(
                    !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
                    "{file} holds the value"
                );
            }
        }
    }
    // The master key stays out of the database and is owner-only.
    let key = std::fs::read_to_string(s.dir.path().join("data/master.key")).unwrap();
    for text in &stored {
        assert!(!text.contains(key.trim()));
    }

    // A ciphertext copied under another name does not open there.
    let store = &s.platform.stores.secrets;
    let sealed = store.secret(&org, "DB_PASSWORD").await.unwrap().unwrap();
    store
        .put_secret(PutSecret {
            org_id: org.clone(),
            name: "COPIED".into(),
            version: sealed.meta.version,
            previous: None,
            sealed: sealed.sealed.clone(),
            now: s.platform.clock.now(),
            audit: upivia_server::model::AuditEvent::new(org.as_str(), "secret.set", "test"),
        })
        .await
        .unwrap();
    assert!(reveal(&s.platform, &org, "COPIED").await.is_err());
    assert!(
        reveal(&s.platform, &org, "DB_PASSWORD")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn concurrent_writes_of_one_secret_take_distinct_versions() {
    let s = TestServer::start().await;
    let calls = (0..8).map(|i| {
        let s = &s;
        async move { put(s, &s.pat, "RACED", json!({"value": format!("v{i}")})).await }
    });
    let replies = futures::future::join_all(calls).await;
    let mut versions: Vec<i64> = replies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.body["secret"]["version"].as_i64().unwrap())
        .collect();
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 409),
        "{replies:?}"
    );
    versions.sort_unstable();
    let n = versions.len() as i64;
    assert!(n >= 1);
    assert_eq!(versions, (1..=n).collect::<Vec<_>>(), "{replies:?}");
    let listed = s.get("/api/v1/secrets", &s.pat).await;
    assert_eq!(listed.body["secrets"][0]["version"], n);
    assert!(
        reveal(&s.platform, &org(&s).await, "RACED")
            .await
            .unwrap()
            .is_some()
    );
}
