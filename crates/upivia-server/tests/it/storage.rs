//! Storage over HTTP: direct multipart upload, presign → PUT → confirm,
//! signed downloads (content type, disposition, ranges), signed-URL
//! tampering, expiry and replay, soft delete and restore with its window,
//! the purge worker, the quota's edges, roles and isolation.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::Duration;
use upivia_server::model::Role;

use crate::support::{Reply, TestServer, reply};

const PATH: &str = "/api/v1/storage/objects";

async fn upload(s: &TestServer, token: &str, name: &str, bytes: &[u8], ct: Option<&str>) -> Reply {
    let mut part = Part::bytes(bytes.to_vec()).file_name(name.to_owned());
    part = part
        .mime_str(ct.unwrap_or("application/octet-stream"))
        .unwrap();
    let mut form = Form::new();
    if let Some(ct) = ct {
        form = form.text("contentType", ct.to_owned());
    }
    let form = form.part("file", part);
    let req = s
        .http
        .post(format!("{}{PATH}", s.base))
        .bearer_auth(token)
        .multipart(form);
    reply(req.send().await.unwrap()).await
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A URL the server handed out, fetched without credentials.
async fn fetch(s: &TestServer, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut req = s.http.get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    req.send().await.unwrap()
}

async fn download_url(s: &TestServer, id: &str, extra: &str) -> Reply {
    // The client must see the 302 itself, as the official SDK does.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}{PATH}/{id}/download{extra}", s.base))
        .bearer_auth(&s.pat)
        .send()
        .await
        .unwrap();
    reply(r).await
}

async fn put(s: &TestServer, url: &str, body: Vec<u8>) -> Reply {
    reply(s.http.put(url).body(body).send().await.unwrap()).await
}

fn retamper(url: &str, from: &str, to: &str) -> String {
    assert!(url.contains(from), "{url} has no {from}");
    url.replacen(from, to, 1)
}

#[tokio::test]
async fn an_upload_streams_in_and_a_signed_url_serves_it_with_ranges() {
    let s = TestServer::start().await;
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let r = upload(
        &s,
        &s.pat,
        "../reports/Q3 report.csv",
        &bytes,
        Some("text/csv"),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let o = &r.body["object"];
    assert_eq!(o["status"], "live");
    assert_eq!(o["filename"], "Q3 report.csv", "path segments are dropped");
    assert_eq!(o["content_type"], "text/csv");
    assert_eq!(o["size_bytes"], 200_000);
    assert_eq!(o["sha256"], sha(&bytes).as_str());
    let id = o["id"].as_str().unwrap().to_owned();

    let got = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(
        got.body["object"]["sha256"],
        sha(&bytes).as_str(),
        "{got:?}"
    );
    let listed = s.get(PATH, &s.pat).await;
    assert_eq!(listed.body["objects"][0]["id"], id.as_str(), "{listed:?}");
    assert!(listed.body["next_cursor"].is_null());

    let d = download_url(&s, &id, "?expires_in=120").await;
    assert_eq!(d.status, 302, "{d:?}");
    let url = d.body["url"].as_str().unwrap().to_owned();
    assert_eq!(d.headers["location"].to_str().unwrap(), url);
    assert_eq!(d.body["expires_in_seconds"], 120);
    assert!(d.body["expires_at"].is_string());

    let full = fetch(&s, &url, None).await;
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-type"], "text/csv");
    let disp = full.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disp.starts_with("attachment; filename=\"Q3 report.csv\""),
        "{disp}"
    );
    assert!(disp.contains("filename*=UTF-8''Q3%20report.csv"), "{disp}");
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let part = fetch(&s, &url, Some("bytes=10-19")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 10-19/200000");
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[10..20]);
    let tail = fetch(&s, &url, Some("bytes=-5")).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &bytes[199_995..]);
    let past = fetch(&s, &url, Some("bytes=300000-")).await;
    assert_eq!(past.status(), 416);
    assert_eq!(past.headers()["content-range"], "bytes */200000");

    // The API's own routes still need credentials.
    let r = s
        .send(Method::GET, &format!("{PATH}/{id}"), None, None)
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let r = s
        .send(Method::GET, &format!("{PATH}/{id}/download"), None, None)
        .await;
    assert_eq!(r.status, 401, "{r:?}");
}

#[tokio::test]
async fn a_signed_download_url_is_refused_tampered_expired_or_once_deleted() {
    let s = TestServer::start().await;
    let r = upload(&s, &s.pat, "a.txt", b"hello", Some("text/plain")).await;
    let id = r.body["object"]["id"].as_str().unwrap().to_owned();
    let other = upload(&s, &s.pat, "b.txt", b"other", None).await;
    let other_id = other.body["object"]["id"].as_str().unwrap().to_owned();
    let d = download_url(&s, &id, "").await;
    assert_eq!(d.body["expires_in_seconds"], 600, "the default lifetime");
    let url = d.body["url"].as_str().unwrap().to_owned();

    // Replaying a download URL within its lifetime is what it is for.
    for _ in 0..2 {
        assert_eq!(fetch(&s, &url, None).await.status(), 200);
    }
    let sig_at = url.find("sig=").unwrap() + 4;
    let mut flipped = url.clone().into_bytes();
    flipped[sig_at] = if flipped[sig_at] == b'0' { b'1' } else { b'0' };
    let tampered = [
        String::from_utf8(flipped).unwrap(),
        retamper(&url, &id, &other_id),
        url[..url.len() - 4].to_owned(),
        url.split('?').next().unwrap().to_owned(),
    ];
    for bad in &tampered {
        let r = reply(fetch(&s, bad, None).await).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (401, "invalid_signature"),
            "{bad}: {r:?}"
        );
    }
    let expires: i64 = url.split("expires=").nth(1).unwrap()[..10].parse().unwrap();
    let later = retamper(
        &url,
        &format!("expires={expires}"),
        &format!("expires={}", expires + 3600),
    );
    assert_eq!(
        fetch(&s, &later, None).await.status(),
        401,
        "a longer life is not signed"
    );

    for bad in ["?expires_in=0", "?expires_in=604801", "?expires_in=soon"] {
        let r = download_url(&s, &id, bad).await;
        assert_eq!(r.status, 400, "{bad}: {r:?}");
    }

    s.clock.advance(Duration::seconds(601));
    let r = reply(fetch(&s, &url, None).await).await;
    assert_eq!((r.status.as_u16(), r.code()), (410, "url_expired"), "{r:?}");

    let fresh = download_url(&s, &id, "").await.body["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .send(Method::DELETE, &format!("{PATH}/{id}"), Some(&s.pat), None)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        fetch(&s, &fresh, None).await.status(),
        404,
        "a deleted object serves nothing"
    );
    let r = download_url(&s, &id, "").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "object_not_live"),
        "{r:?}"
    );
}

#[tokio::test]
async fn presign_put_and_confirm_seal_an_object_and_refuse_everything_else() {
    let s = TestServer::start().await;
    let bytes = b"presigned bytes, exactly thirty-six".to_vec();
    let size = bytes.len();
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"filename": "big.bin", "contentType": "application/zip", "sizeBytes": size}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"]["status"], "pending");
    assert!(r.body["expires_at"].is_string());
    let id = r.body["object"]["id"].as_str().unwrap().to_owned();
    let url = r.body["upload_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&s.base), "our own server's URL: {url}");
    let listed = s.get(PATH, &s.pat).await;
    assert!(
        listed.body["objects"].as_array().unwrap().is_empty(),
        "pending is not listed"
    );

    let r = s
        .post(&format!("{PATH}/{id}/confirm"), &s.pat, json!({}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "upload_missing"),
        "{r:?}"
    );

    let r = put(&s, &url, bytes[..10].to_vec()).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "size_mismatch"),
        "{r:?}"
    );
    let mut longer = bytes.clone();
    longer.push(b'!');
    let r = put(&s, &url, longer).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "size_mismatch"),
        "{r:?}"
    );
    let sig_at = url.find("sig=").unwrap() + 4;
    let mut flipped = url.clone().into_bytes();
    flipped[sig_at] = if flipped[sig_at] == b'a' { b'b' } else { b'a' };
    let r = put(&s, &String::from_utf8(flipped).unwrap(), bytes.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );

    // A first attempt with other bytes, then the real ones: the last wins.
    let mut wrong = bytes.clone();
    wrong[0] = b'P';
    assert_eq!(put(&s, &url, wrong.clone()).await.status, 200);
    let r = put(&s, &url, bytes.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["sha256"], sha(&bytes).as_str());

    let r = s
        .post(
            &format!("{PATH}/{id}/confirm"),
            &s.pat,
            json!({"sha256": sha(&wrong)}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "sha256_mismatch"),
        "{r:?}"
    );
    let got = s.get(&format!("{PATH}/{id}"), &s.pat).await;
    assert_eq!(
        got.body["object"]["status"], "pending",
        "a mismatch leaves it pending"
    );
    let r = s
        .post(
            &format!("{PATH}/{id}/confirm"),
            &s.pat,
            json!({"sha256": "xyz"}),
        )
        .await;
    assert_eq!(r.status, 422, "{r:?}");

    let r = s
        .post(
            &format!("{PATH}/{id}/confirm"),
            &s.pat,
            json!({"sha256": sha(&bytes)}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"]["status"], "live");
    assert_eq!(r.body["object"]["sha256"], sha(&bytes).as_str());
    let again = s
        .post(&format!("{PATH}/{id}/confirm"), &s.pat, json!({}))
        .await;
    assert_eq!(
        again.status, 200,
        "confirming again answers the same: {again:?}"
    );

    // Replayed after the seal: refused, and the sealed bytes stay.
    let r = put(&s, &url, wrong).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "object_not_pending"),
        "{r:?}"
    );
    let d = download_url(&s, &id, "").await;
    let served = fetch(&s, d.body["url"].as_str().unwrap(), None).await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Past its expiry an upload URL takes nothing.
    let r = s
        .post(
            PATH,
            &s.pat,
            json!({"filename": "late.bin", "sizeBytes": 3}),
        )
        .await;
    let late = r.body["upload_url"].as_str().unwrap().to_owned();
    s.clock.advance(Duration::hours(2));
    let r = put(&s, &late, b"abc".to_vec()).await;
    assert_eq!((r.status.as_u16(), r.code()), (410, "url_expired"), "{r:?}");
}

#[tokio::test]
async fn bad_input_gets_a_precise_error() {
    let s = TestServer::start().await;
    let cases = [
        (json!({"contentType": "text/plain", "sizeBytes": 3}), 422),
        (json!({"filename": "a", "sizeBytes": -1}), 422),
        (json!({"filename": "a", "sizeBytes": "3"}), 422),
        (json!({"filename": "a"}), 422),
        (json!({"filename": "a", "sizeBytes": 3, "extra": 1}), 422),
        (
            json!({"filename": "a", "contentType": "not a type", "sizeBytes": 3}),
            422,
        ),
        (json!({"filename": "/", "sizeBytes": 3}), 422),
        (json!({"filename": "a", "sizeBytes": 6_000_000_000u64}), 413),
    ];
    for (body, status) in cases {
        let r = s.post(PATH, &s.pat, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {r:?}");
        assert!(r.body["error"]["message"].is_string(), "{r:?}");
    }
    let r = s
        .http
        .post(format!("{}{PATH}", s.base))
        .bearer_auth(&s.pat)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    let r = reply(r).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "unsupported_content_type"),
        "{r:?}"
    );
    let r = s
        .http
        .post(format!("{}{PATH}", s.base))
        .bearer_auth(&s.pat)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply(r).await.status, 400);
    // A form without a file part.
    let form = Form::new().text("contentType", "text/plain");
    let r = s
        .http
        .post(format!("{}{PATH}", s.base))
        .bearer_auth(&s.pat)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply(r).await.status, 422);
    let r = s.get(&format!("{PATH}/obj_nosuch"), &s.pat).await;
    assert_eq!(r.status, 404);
    let r = s.get(&format!("{PATH}?limit=x"), &s.pat).await;
    assert_eq!(r.status, 400);
    let r = reply(
        s.http
            .put(format!("{}/api/v1/storage/uploads/obj_x", s.base))
            .body("abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_signature"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_delete_is_restorable_for_seven_days_then_the_bytes_are_purged() {
    let s = TestServer::start().await;
    let r = upload(&s, &s.pat, "keep.txt", b"keep me", None).await;
    let id = r.body["object"]["id"].as_str().unwrap().to_owned();
    let path = format!("{PATH}/{id}");
    let r = s.post(&format!("{path}/restore"), &s.pat, json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "not_deleted"), "{r:?}");

    let r = s.send(Method::DELETE, &path, Some(&s.pat), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"]["status"], "deleted");
    assert!(r.body["object"]["restorable_until"].is_string(), "{r:?}");
    assert!(
        s.get(PATH, &s.pat).await.body["objects"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.clock.advance(Duration::days(6));
    s.tick_workers().await;
    let r = s.post(&format!("{path}/restore"), &s.pat, json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"]["status"], "live");
    assert_eq!(
        s.get(PATH, &s.pat).await.body["objects"][0]["id"],
        id.as_str()
    );

    s.send(Method::DELETE, &path, Some(&s.pat), None).await;
    s.clock.advance(Duration::days(7) + Duration::seconds(1));
    let r = s.post(&format!("{path}/restore"), &s.pat, json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (410, "restore_window_closed"),
        "{r:?}"
    );
    assert_eq!(s.blob_count().await, 1);
    s.tick_workers().await;
    assert_eq!(
        s.blob_count().await,
        0,
        "the purge worker deleted the bytes"
    );
    let r = s.get(&path, &s.pat).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = s.post(&format!("{path}/restore"), &s.pat, json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (410, "restore_window_closed"),
        "{r:?}"
    );
    let purged = crate::teams::audit_events(&s, "storage.object_purged").await;
    assert_eq!(purged.len(), 1);
}

#[tokio::test]
async fn the_quota_counts_every_byte_held_until_it_is_purged() {
    let s = TestServer::start_with(|c| c.storage_quota_bytes = 100).await;
    let r = upload(&s, &s.pat, "a", &[1; 60], None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let first = r.body["object"]["id"].as_str().unwrap().to_owned();
    let r = upload(&s, &s.pat, "b", &[2; 41], None).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (413, "storage_quota_exceeded"),
        "{r:?}"
    );
    let r = s
        .post(PATH, &s.pat, json!({"filename": "c", "sizeBytes": 41}))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (413, "storage_quota_exceeded"),
        "{r:?}"
    );
    // Exactly up to the quota is within it.
    let r = s
        .post(PATH, &s.pat, json!({"filename": "c", "sizeBytes": 40}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = upload(&s, &s.pat, "d", &[], None).await;
    assert_eq!(r.status, 200, "an empty file fits a full quota: {r:?}");
    let r = upload(&s, &s.pat, "e", &[3], None).await;
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(
        s.get(PATH, &s.pat).await.body["objects"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.blob_count().await, 2, "refused uploads leave no bytes");

    // Deleted still counts; purged frees it.
    s.send(
        Method::DELETE,
        &format!("{PATH}/{first}"),
        Some(&s.pat),
        None,
    )
    .await;
    assert_eq!(upload(&s, &s.pat, "f", &[4; 10], None).await.status, 413);
    s.clock.advance(Duration::days(8));
    s.tick_workers().await;
    assert_eq!(upload(&s, &s.pat, "f", &[4; 10], None).await.status, 200);
}

#[tokio::test]
async fn members_share_objects_but_only_admins_or_uploaders_delete_and_orgs_never_meet() {
    let s = TestServer::start().await;
    let member = s.user_pat(Role::Member).await;
    let mine = upload(&s, &s.pat, "owner.txt", b"owner", None).await;
    let mine = mine.body["object"]["id"].as_str().unwrap().to_owned();
    let theirs = upload(&s, &member, "member.txt", b"member", None).await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    let theirs = theirs.body["object"]["id"].as_str().unwrap().to_owned();

    let r = s.get(&format!("{PATH}/{mine}"), &member).await;
    assert_eq!(r.status, 200, "members read the organisation's objects");
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{mine}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{theirs}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "their own: {r:?}");
    let r = s
        .post(&format!("{PATH}/{theirs}/restore"), &s.pat, json!({}))
        .await;
    assert_eq!(r.status, 200, "an admin restores anyone's: {r:?}");

    let other = s.other_org("Other").await;
    for path in [format!("{PATH}/{mine}"), format!("{PATH}/{mine}/download")] {
        let r = s.get(&path, &other.pat).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let r = s
        .send(
            Method::DELETE,
            &format!("{PATH}/{mine}"),
            Some(&other.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = s
        .post(&format!("{PATH}/{mine}/confirm"), &other.pat, json!({}))
        .await;
    assert_eq!(r.status, 404);
    let listed = s.get(PATH, &other.pat).await;
    assert!(listed.body["objects"].as_array().unwrap().is_empty());
    let agent = s.agent(json!({})).await;
    let r = s.get(PATH, &agent.key).await;
    assert_eq!(r.status, 403, "storage is for people: {r:?}");
}

#[tokio::test]
async fn listing_pages_with_a_cursor() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = upload(&s, &s.pat, &format!("f{i}"), b"x", None).await;
        ids.push(r.body["object"]["id"].as_str().unwrap().to_owned());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{PATH}?limit=2&cursor={c}"),
            None => format!("{PATH}?limit=2"),
        };
        let r = s.get(&q, &s.pat).await;
        let page: Vec<Value> = r.body["objects"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
}
