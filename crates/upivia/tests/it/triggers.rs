//! Trigger fire: compact body, HMAC signature, no Authorization (API.md §1.12).

use serde_json::json;
use upivia::models::CreatedTrigger;
use upivia::resources::sign_fire_body;
use wiremock::MockServer;

use crate::support::*;

/// `hmac.new(b"whsec_test_secret", b'{"a":1,"b":"x"}', hashlib.sha256).hexdigest()`,
/// computed with Python's standard library.
const KNOWN_HEX: &str = "69206e1c04c8902b6d72cfd32dab1399c6068fa46d0f5d0063307df9f68a8f5d";
/// The same for the body `{}`.
const EMPTY_HEX: &str = "6d3bb6a35ccd41cb545a9c319806864a955b3f8bee2aae65fa38c28d743ca554";

#[test]
fn signature_matches_a_known_vector() {
    assert_eq!(
        sign_fire_body("whsec_test_secret", br#"{"a":1,"b":"x"}"#),
        format!("sha256={KNOWN_HEX}")
    );
}

#[test]
fn signature_matches_an_independent_hmac() {
    use hmac::{Hmac, Mac};
    let body = br#"{"k":"\u00e9t\u00e9","n":[1,2]}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"another secret").unwrap();
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(
        sign_fire_body("another secret", body),
        format!("sha256={expected}")
    );
}

#[tokio::test]
async fn fire_signs_the_exact_compact_bytes_it_sends() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            202,
            json!({"accepted": true, "dispatch_status": "blocked", "reason_code": "policy_block"}),
        ),
    )
    .await;
    let result = client(&server)
        .triggers()
        .fire(
            "trg_1",
            Some(&json!({"a": 1, "b": "x"})),
            "whsec_test_secret",
        )
        .await
        .unwrap();
    assert!(result.accepted);
    assert_eq!(result.dispatch_status.as_deref(), Some("blocked"));
    assert_eq!(result.reason_code.as_deref(), Some("policy_block"));
    let sent = requests(&server).await;
    assert_eq!(sent[0].body, br#"{"a":1,"b":"x"}"#);
    assert_eq!(
        header(&sent[0], "x-agentwallet-signature"),
        Some(format!("sha256={KNOWN_HEX}").as_str())
    );
    assert_eq!(header(&sent[0], "authorization"), None);
    assert_eq!(header(&sent[0], "content-type"), Some("application/json"));
}

#[tokio::test]
async fn fire_without_payload_sends_an_empty_object() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(202, json!({"accepted": true}))).await;
    client(&server)
        .triggers()
        .fire("trg_1", None, "whsec_test_secret")
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent[0].body, b"{}");
    assert_eq!(
        header(&sent[0], "x-agentwallet-signature"),
        Some(format!("sha256={EMPTY_HEX}").as_str())
    );
}

#[tokio::test]
async fn fire_is_not_retried() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            503,
            json!({"error": {"code": "unavailable", "message": "m"}}),
        ),
    )
    .await;
    client(&server)
        .triggers()
        .fire("trg_1", None, "s")
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn create_exposes_the_one_time_secret() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(200, json!({"trigger": {"id": "trg_1", "kind": "webhook", "disabled": false, "later": 1}, "secret": "whsec_x", "fire_url": "http://h/f"})),
    )
    .await;
    let created: CreatedTrigger = client(&server)
        .triggers()
        .create(&json!({"kind": "webhook"}))
        .await
        .unwrap();
    assert_eq!(created.trigger.id, "trg_1");
    assert_eq!(created.secret, "whsec_x");
    assert_eq!(created.trigger.extra.get("later"), Some(&json!(1)));
}
