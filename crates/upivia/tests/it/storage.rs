//! Multipart uploads (API.md §1.14) and the 302 download (§1.13).

use serde_json::json;
use upivia::ErrorKind;
use upivia::resources::{CreateDocument, UploadObject};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn body_text(request: &wiremock::Request) -> String {
    String::from_utf8_lossy(&request.body).into_owned()
}

/// The text fields of a multipart body, by name.
fn text_field(body: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"\r\n\r\n");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find("\r\n")?;
    Some(body[start..start + end].to_owned())
}

#[tokio::test]
async fn storage_upload_sends_a_file_part_and_content_type_field() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"object": {"id": "obj_2"}}))).await;
    let out = client(&server)
        .storage()
        .objects()
        .upload(UploadObject::new("hello.txt", &b"hello world"[..]).with_content_type("text/plain"))
        .await
        .unwrap();
    assert_eq!(out["object"]["id"], "obj_2");
    let sent = requests(&server).await;
    let ct = header(&sent[0], "content-type").unwrap();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    let body = body_text(&sent[0]);
    assert!(
        body.contains("name=\"file\"; filename=\"hello.txt\""),
        "{body}"
    );
    assert!(
        body.contains("Content-Type: text/plain\r\n\r\nhello world"),
        "{body}"
    );
    assert_eq!(
        text_field(&body, "contentType").as_deref(),
        Some("text/plain")
    );
    assert_eq!(text_field(&body, "filename"), None);
}

#[tokio::test]
async fn storage_upload_defaults_to_octet_stream_without_the_field() {
    let server = MockServer::start().await;
    reply_all(&server, json_reply(200, json!({"object": {"id": "o"}}))).await;
    client(&server)
        .storage()
        .objects()
        .upload(UploadObject::new("blob.bin", vec![0u8, 1, 2]))
        .await
        .unwrap();
    let body = body_text(&requests(&server).await[0]);
    assert!(
        body.contains("Content-Type: application/octet-stream"),
        "{body}"
    );
    assert_eq!(text_field(&body, "contentType"), None);
}

#[tokio::test]
async fn knowledge_upload_sends_filename_and_content_type_fields() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(202, json!({"document": {"id": "doc_1"}})),
    )
    .await;
    let file = UploadObject::new("notes.md", "# hi").with_content_type("text/markdown");
    let out = client(&server)
        .knowledge()
        .documents()
        .create("col_1", CreateDocument::Upload(file))
        .await
        .unwrap();
    assert_eq!(out["document"]["id"], "doc_1");
    let sent = requests(&server).await;
    assert_eq!(
        sent[0].url.path(),
        "/api/v1/knowledge/collections/col_1/documents"
    );
    let body = body_text(&sent[0]);
    assert_eq!(text_field(&body, "filename").as_deref(), Some("notes.md"));
    assert_eq!(
        text_field(&body, "contentType").as_deref(),
        Some("text/markdown")
    );
    assert!(
        body.contains("name=\"file\"; filename=\"notes.md\""),
        "{body}"
    );
}

#[tokio::test]
async fn download_prefers_the_json_url_and_does_not_follow_the_redirect() {
    let server = MockServer::start().await;
    let signed = format!("{}/signed/obj_1", server.uri());
    Mock::given(path("/api/v1/storage/objects/obj_1/download"))
        .respond_with(
            json_reply(302, json!({"url": "https://signed.example/obj", "expires_in_seconds": 600, "expires_at": "2026-01-01T00:00:00Z"}))
                .insert_header("location", signed.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/signed/obj_1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("file bytes"))
        .mount(&server)
        .await;
    let info = client(&server)
        .storage()
        .objects()
        .download("obj_1", Some(600))
        .await
        .unwrap();
    assert_eq!(info.url, "https://signed.example/obj");
    assert_eq!(info.expires_in_seconds, Some(600));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1, "the redirect was followed");
}

#[tokio::test]
async fn download_falls_back_to_the_location_header() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        ResponseTemplate::new(302).insert_header("location", "https://signed.example/loc"),
    )
    .await;
    let info = client(&server)
        .storage()
        .objects()
        .download("obj_1", None)
        .await
        .unwrap();
    assert_eq!(info.url, "https://signed.example/loc");
    assert!(requests(&server).await[0].url.query().is_none());
}

#[tokio::test]
async fn download_accepts_a_2xx_with_the_same_body() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            200,
            json!({"url": "https://signed.example/ok", "expires_in_seconds": 60}),
        ),
    )
    .await;
    let info = client(&server)
        .storage()
        .objects()
        .download("obj_1", None)
        .await
        .unwrap();
    assert_eq!(info.url, "https://signed.example/ok");
}

#[tokio::test]
async fn download_errors_are_mapped_and_an_empty_redirect_is_invalid() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            404,
            json!({"error": {"code": "not_found", "message": "nope"}}),
        ),
    )
    .await;
    let err = client(&server)
        .storage()
        .objects()
        .download("missing", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.code(), Some("not_found"));

    let server = MockServer::start().await;
    reply_all(
        &server,
        ResponseTemplate::new(403).set_body_string("denied"),
    )
    .await;
    let err = client(&server)
        .storage()
        .objects()
        .download("o", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Unauthorized,
        "decided by status alone"
    );

    let server = MockServer::start().await;
    reply_all(&server, ResponseTemplate::new(302)).await;
    let err = client(&server)
        .storage()
        .objects()
        .download("o", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.status(), Some(302));
}

/// A download route answering with a signed URL on the same mock server
/// that serves `body` with `etag` (and, if given, a lying `content-length`).
async fn signed_blob(server: &MockServer, body: &'static [u8], etag: &str) {
    let signed = format!("{}/blob/obj_9?sig=secret-signature", server.uri());
    Mock::given(path("/api/v1/storage/objects/obj_9/download"))
        .respond_with(
            json_reply(302, json!({"url": signed})).insert_header("location", signed.as_str()),
        )
        .mount(server)
        .await;
    Mock::given(path("/blob/obj_9"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(body)
                .insert_header("etag", etag),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_signed_download_is_fetched_without_credentials_and_checked_against_its_sha256() {
    use sha2::Digest;
    let server = MockServer::start().await;
    let sha = hex::encode(sha2::Sha256::digest(b"the real bytes"));
    signed_blob(&server, b"the real bytes", &format!("\"{sha}\"")).await;
    let mut out = Vec::new();
    let download = client(&server)
        .storage()
        .objects()
        .open("obj_9", upivia::resources::ByteRange::All)
        .await
        .unwrap();
    assert_eq!(download.sha256(), Some(sha.as_str()));
    assert_eq!(download.write_to(&mut out, None).await.unwrap(), 14);
    assert_eq!(out, b"the real bytes");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].url.path(), "/blob/obj_9");
    assert_eq!(
        header(&sent[1], "authorization"),
        None,
        "a credential leaked to the signed URL"
    );
}

#[tokio::test]
async fn bytes_that_do_not_match_the_announced_sha256_are_an_error_and_no_file() {
    let server = MockServer::start().await;
    signed_blob(
        &server,
        b"tampered bytes",
        &format!("\"{}\"", "a".repeat(64)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");
    let err = client(&server)
        .storage()
        .objects()
        .open("obj_9", upivia::resources::ByteRange::All)
        .await
        .unwrap()
        .save(&target, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err:?}");
    assert!(err.to_string().contains("sha256"), "{err}");
    // The signature stays out of the message.
    assert!(!err.to_string().contains("secret-signature"), "{err}");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a temp file was left"
    );
}

#[tokio::test]
async fn a_refused_signed_url_maps_to_the_servers_error() {
    let server = MockServer::start().await;
    let signed = format!("{}/blob/obj_9?sig=x", server.uri());
    Mock::given(path("/api/v1/storage/objects/obj_9/download"))
        .respond_with(json_reply(200, json!({"url": signed})))
        .mount(&server)
        .await;
    Mock::given(path("/blob/obj_9"))
        .respond_with(json_reply(
            410,
            json!({"error": {"code": "url_expired", "message": "the download URL has expired"}}),
        ))
        .mount(&server)
        .await;
    let err = client(&server)
        .storage()
        .objects()
        .open("obj_9", upivia::resources::ByteRange::All)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(410));
    assert_eq!(err.code(), Some("url_expired"));
}
