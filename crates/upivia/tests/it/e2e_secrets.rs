//! Organisation secrets through the SDK: set in versions, listed without
//! values, deleted; a member is refused.

use upivia::ErrorKind;

use crate::e2e_support::Server;

#[tokio::test]
async fn secrets_are_set_listed_and_deleted_and_never_shown() {
    let server = Server::start();
    let owner = server.owner();
    let first = owner
        .secrets()
        .set("CRM_TOKEN", "tok-123-secret")
        .await
        .unwrap();
    assert_eq!(first["secret"]["version"], 1);
    let second = owner
        .secrets()
        .set("CRM_TOKEN", "tok-456-secret")
        .await
        .unwrap();
    assert_eq!(second["secret"]["version"], 2);
    let listed = owner.secrets().list().await.unwrap();
    assert_eq!(listed["secrets"][0]["name"], "CRM_TOKEN");
    for answer in [&first, &second, &listed] {
        assert!(!answer.to_string().contains("-secret"), "{answer}");
    }
    let bad = owner.secrets().set("no spaces", "v").await.unwrap_err();
    assert_eq!(bad.code(), Some("invalid_payload"));
    owner.secrets().delete("CRM_TOKEN").await.unwrap();
    let gone = owner.secrets().delete("CRM_TOKEN").await.unwrap_err();
    assert_eq!(gone.status(), Some(404));
    let anonymous = server.anonymous().secrets().list().await.unwrap_err();
    assert_eq!(anonymous.kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn the_webhook_signing_secret_is_shown_only_when_rotated() {
    let server = Server::start();
    let owner = server.owner();
    let before = owner.secrets().webhook_signing_secret().await.unwrap();
    assert_eq!(before["configured"], false);
    let rotated = owner
        .secrets()
        .rotate_webhook_signing_secret()
        .await
        .unwrap();
    let secret = rotated["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{rotated}");
    let after = owner.secrets().webhook_signing_secret().await.unwrap();
    assert_eq!(after["version"], 1);
    assert!(!after.to_string().contains(&secret[6..]));
    let anonymous = server
        .anonymous()
        .secrets()
        .rotate_webhook_signing_secret()
        .await
        .unwrap_err();
    assert_eq!(anonymous.kind(), ErrorKind::Unauthorized);
}
