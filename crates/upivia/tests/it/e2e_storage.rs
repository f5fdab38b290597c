//! Streaming uploads and downloads against the real server, through the
//! SDK only: files from disk, progress, the presigned flow with its
//! SHA-256, ranges, and downloads that land whole or not at all.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use upivia::resources::{ByteRange, UploadObject};
use upivia::transfer::Progress;
use upivia::{ErrorKind, blocking};

use crate::e2e_support::Server;

/// A file of `len` bytes that no two offsets agree on by accident, and its
/// hex SHA-256.
fn sample_file(dir: &std::path::Path, name: &str, len: usize) -> (std::path::PathBuf, String) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    (path, hex::encode(Sha256::digest(&bytes)))
}

/// A progress callback and the largest value it was told.
fn progress() -> (Progress, Arc<AtomicU64>) {
    let seen = Arc::new(AtomicU64::new(0));
    let sink = seen.clone();
    let progress = Progress::new(move |n| {
        sink.fetch_max(n, Ordering::Relaxed);
    });
    (progress, seen)
}

#[tokio::test]
async fn a_file_uploads_from_disk_and_downloads_into_a_file_byte_for_byte() {
    let server = Server::start();
    let owner = server.owner();
    let dir = tempfile::tempdir().unwrap();
    let len = 3 * 1024 * 1024 + 17;
    let (path, sha) = sample_file(dir.path(), "report.bin", len);

    let (sent, sent_seen) = progress();
    let file = UploadObject::from_path(&path)
        .unwrap()
        .with_content_type("application/x-report")
        .with_progress(sent);
    let out = owner.storage().objects().upload(file).await.unwrap();
    let object = &out["object"];
    assert_eq!(object["status"], "live");
    assert_eq!(object["filename"], "report.bin");
    assert_eq!(object["content_type"], "application/x-report");
    assert_eq!(object["size_bytes"], len as u64);
    assert_eq!(object["sha256"], sha.as_str());
    assert_eq!(sent_seen.load(Ordering::Relaxed), len as u64);
    let id = object["id"].as_str().unwrap();

    let (got, got_seen) = progress();
    let download = owner
        .storage()
        .objects()
        .open(id, ByteRange::All)
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.sha256(), Some(sha.as_str()));
    assert_eq!(download.content_type(), Some("application/x-report"));
    let target = dir.path().join("copy.bin");
    let written = download.save(&target, Some(got)).await.unwrap();
    assert_eq!(written, len as u64);
    assert_eq!(got_seen.load(Ordering::Relaxed), len as u64);
    assert_eq!(
        std::fs::read(&target).unwrap(),
        std::fs::read(&path).unwrap()
    );
    // Nothing but the finished file is left beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[tokio::test]
async fn the_presigned_flow_seals_what_was_sent_and_ranges_read_parts_of_it() {
    let server = Server::start();
    let owner = server.owner();
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = sample_file(dir.path(), "big.dat", 1024 * 1024 + 3);

    let (sent, sent_seen) = progress();
    let file = UploadObject::from_path(&path).unwrap().with_progress(sent);
    let sealed = owner
        .storage()
        .objects()
        .upload_presigned(file)
        .await
        .unwrap();
    assert_eq!(sealed["object"]["status"], "live", "{sealed}");
    assert_eq!(sealed["object"]["sha256"], sha.as_str());
    assert_eq!(sent_seen.load(Ordering::Relaxed), 1024 * 1024 + 3);
    let id = sealed["object"]["id"].as_str().unwrap();

    let original = std::fs::read(&path).unwrap();
    let part = owner
        .storage()
        .objects()
        .open(id, ByteRange::Between(1000, 1999))
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    let mut chunks = Box::pin(part.into_stream());
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(body, original[1000..2000]);

    let tail = owner
        .storage()
        .objects()
        .open(id, ByteRange::From(original.len() as u64 - 10))
        .await
        .unwrap();
    let mut out = Vec::new();
    // A range is not the whole object: no SHA-256 check applies, only length.
    assert_eq!(tail.write_to(&mut out, None).await.unwrap(), 10);
    assert_eq!(out, original[original.len() - 10..]);
}

#[tokio::test]
async fn a_presigned_put_is_refused_once_the_object_is_sealed() {
    let server = Server::start();
    let owner = server.owner();
    let file = UploadObject::new("notes.txt", &b"first version"[..]);
    let presigned = owner
        .storage()
        .objects()
        .presign(upivia::models::PresignObject::new(
            "notes.txt",
            "text/plain",
            13,
        ))
        .await
        .unwrap();
    let id = presigned["object"]["id"].as_str().unwrap();
    let url = presigned["upload_url"].as_str().unwrap();
    let sha = owner
        .storage()
        .objects()
        .put_presigned(url, &file)
        .await
        .unwrap();
    assert_eq!(sha, hex::encode(Sha256::digest(b"first version")));
    // A wrong hash leaves it pending; the right one seals it.
    let wrong = owner
        .storage()
        .objects()
        .confirm(id, Some(&"0".repeat(64)))
        .await
        .unwrap_err();
    assert_eq!(wrong.status(), Some(409), "{wrong:?}");
    owner
        .storage()
        .objects()
        .confirm(id, Some(&sha))
        .await
        .unwrap();

    let again = owner
        .storage()
        .objects()
        .put_presigned(url, &UploadObject::new("notes.txt", &b"other version"[..]))
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(409), "{again:?}");
    // The error names the URL without its signature.
    assert!(!again.to_string().contains("sig"), "{again}");
    let mut out = Vec::new();
    owner
        .storage()
        .objects()
        .open(id, ByteRange::All)
        .await
        .unwrap()
        .write_to(&mut out, None)
        .await
        .unwrap();
    assert_eq!(out, b"first version");
}

#[tokio::test]
async fn a_missing_file_or_a_directory_is_an_io_error_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let missing = UploadObject::from_path(dir.path().join("nope.txt")).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Io, "{missing:?}");
    assert!(missing.to_string().contains("nope.txt"), "{missing}");
    let directory = UploadObject::from_path(dir.path()).unwrap_err();
    assert_eq!(directory.kind(), ErrorKind::Io, "{directory:?}");
}

#[tokio::test]
async fn a_deleted_object_does_not_open_for_download() {
    let server = Server::start();
    let owner = server.owner();
    let out = owner
        .storage()
        .objects()
        .upload(UploadObject::new("gone.txt", &b"bye"[..]))
        .await
        .unwrap();
    let id = out["object"]["id"].as_str().unwrap();
    owner.storage().objects().delete(id).await.unwrap();
    let err = owner
        .storage()
        .objects()
        .open(id, ByteRange::All)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err:?}");
    assert_eq!(err.code(), Some("object_not_live"));
}

#[test]
fn the_blocking_client_streams_a_file_up_and_saves_it_back() {
    let server = Server::start();
    let owner = blocking::Client::new(server.owner()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, sha) = sample_file(dir.path(), "data.csv", 200_000);
    let sealed = owner
        .storage()
        .objects()
        .upload_presigned(UploadObject::from_path(&path).unwrap())
        .unwrap();
    assert_eq!(sealed["object"]["sha256"], sha.as_str());
    let id = sealed["object"]["id"].as_str().unwrap();
    let target = dir.path().join("back.csv");
    assert_eq!(
        owner.storage().objects().save(id, &target).unwrap(),
        200_000
    );
    assert_eq!(std::fs::read(target).unwrap(), std::fs::read(path).unwrap());
}
