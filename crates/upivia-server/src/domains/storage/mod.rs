//! Storage: files an organisation keeps (API.md §2.14, §1.13, §1.14).
//! `blobs` is where bytes live (filesystem or S3), `signing` the
//! credential-free URLs that upload and download them, `service` who may
//! do what and which audit event each change writes, `purge` the worker
//! that frees the bytes of expired deletions and abandoned uploads.

pub mod blobs;
pub mod purge;
pub mod service;
pub mod signing;

use time::Duration;

use self::blobs::Blobs;
use self::signing::UrlSigner;

/// The limits storage runs under.
#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// Bytes one organisation may hold.
    pub quota_bytes: i64,
    /// Largest direct (multipart) upload.
    pub upload_max_bytes: u64,
    /// Largest size a presigned upload may declare.
    pub presign_max_bytes: u64,
    /// How long a deleted object can be restored.
    pub restore_window: Duration,
    /// How long a presigned upload URL works.
    pub upload_url_ttl: Duration,
    /// How long a pending object outlives its upload URL before its bytes
    /// and reservation are freed.
    pub abandoned_after: Duration,
}

/// 100 MB, the direct-upload limit of API.md §1.14.
pub const UPLOAD_MAX_BYTES: u64 = 100 * 1000 * 1000;

impl Default for StorageSettings {
    fn default() -> StorageSettings {
        StorageSettings {
            quota_bytes: 10 * 1024 * 1024 * 1024,
            upload_max_bytes: UPLOAD_MAX_BYTES,
            presign_max_bytes: 5 * 1024 * 1024 * 1024,
            restore_window: Duration::days(7),
            upload_url_ttl: Duration::hours(1),
            abandoned_after: Duration::days(1),
        }
    }
}

/// Storage as the platform runs it.
#[derive(Clone, Debug)]
pub struct Storage {
    pub blobs: Blobs,
    pub signer: UrlSigner,
    pub settings: StorageSettings,
}
