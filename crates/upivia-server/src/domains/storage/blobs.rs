//! Where stored objects' bytes live: the local filesystem under the data
//! directory (one node), or any S3-compatible store (several nodes share
//! it), both through `object_store`. Bytes stream in and out in chunks; a
//! write hashes (SHA-256) and counts as it goes, and stops at its limit,
//! so neither an upload nor a download is ever held in memory whole.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};

/// Parts S3 takes are at least 5 MiB (but the last); the filesystem
/// backend writes each as it comes.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once: what a write holds in memory is about this
/// many parts.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the upload is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the stored bytes are missing")]
    Missing,
    #[error("the blob store failed: {0}")]
    Backend(#[from] object_store::Error),
    #[error("reading the upload failed: {0}")]
    Body(String),
}

/// The configured backend.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
    description: String,
    shared: bool,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl Blobs {
    /// `url` `None`: `<data_dir>/objects`; else `file:///abs/dir` or
    /// `s3://bucket[/prefix]?endpoint=…&region=…&allow_http=true`.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Blobs, String> {
        let Some(raw) = url else {
            return Blobs::local(&data_dir.join("objects"));
        };
        let url = url::Url::parse(raw).map_err(|e| format!("UPIVIA_STORAGE_URL: {e}"))?;
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| "UPIVIA_STORAGE_URL: a file URL needs an absolute path")?;
                Blobs::local(&path)
            }
            "s3" => Blobs::s3(&url),
            other => Err(format!(
                "UPIVIA_STORAGE_URL: unsupported scheme {other:?} (file or s3)"
            )),
        }
    }

    fn local(dir: &Path) -> Result<Blobs, String> {
        crate::keyfile::private_dir(dir, "storage directory")
            .map_err(|e| format!("cannot create the storage directory {}: {e}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("storage directory {}: {e}", dir.display()))?;
        Ok(Blobs {
            store: Arc::new(store),
            prefix: None,
            description: format!("local directory {}", dir.display()),
            shared: false,
        })
    }

    fn s3(url: &url::Url) -> Result<Blobs, String> {
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or("UPIVIA_STORAGE_URL: s3://bucket is missing the bucket")?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in url.query_pairs() {
            let key: AmazonS3ConfigKey = key
                .parse()
                .map_err(|_| format!("UPIVIA_STORAGE_URL: unknown S3 option {key:?}"))?;
            if matches!(
                key,
                AmazonS3ConfigKey::AccessKeyId
                    | AmazonS3ConfigKey::SecretAccessKey
                    | AmazonS3ConfigKey::Token
            ) {
                return Err(
                    "UPIVIA_STORAGE_URL: credentials do not belong in the URL; set \
                     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                        .into(),
                );
            }
            builder = builder.with_config(key, value.into_owned());
        }
        let store = builder
            .build()
            .map_err(|e| format!("UPIVIA_STORAGE_URL: {e}"))?;
        let prefix = url.path().trim_matches('/');
        Ok(Blobs {
            store: Arc::new(store),
            prefix: (!prefix.is_empty()).then(|| ObjectPath::from(prefix)),
            description: format!(
                "S3 bucket {bucket}{}",
                if prefix.is_empty() {
                    String::new()
                } else {
                    format!(" under {prefix}/")
                }
            ),
            shared: true,
        })
    }

    /// For the startup log: where the bytes go.
    pub fn describe(&self) -> &str {
        &self.description
    }

    /// Whether other nodes see the same bytes.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    fn path(&self, key: &str) -> ObjectPath {
        // `Path::child` would take `key` as one segment and escape its
        // slashes; keys are `org/object/upload`, nested under the prefix.
        match &self.prefix {
            Some(prefix) => ObjectPath::from(format!("{prefix}/{key}")),
            None => ObjectPath::from(key),
        }
    }

    /// Starts writing `key`; at most `limit` bytes will be taken.
    pub async fn writer(&self, key: &str, limit: u64) -> Result<BlobWriter, BlobError> {
        let upload = self.store.put_multipart(&self.path(key)).await?;
        Ok(BlobWriter {
            upload: Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)),
            hasher: Sha256::new(),
            written: 0,
            limit,
        })
    }

    /// The bytes of `key` in `range` (all of them when `None`), streamed.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&self.path(key), options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(BlobError::Missing),
            Err(e) => return Err(e.into()),
        };
        Ok(result.into_stream().map_err(BlobError::from).boxed())
    }

    /// All the bytes of `key`, refused past `max` (for ingestion, which
    /// needs the whole text).
    pub async fn read_all(&self, key: &str, max: u64) -> Result<Vec<u8>, BlobError> {
        let mut stream = self.read(key, None).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if out.len() as u64 + chunk.len() as u64 > max {
                return Err(BlobError::TooLarge(max));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// How many blobs the store holds (under the prefix): what a purge or
    /// a refused upload must leave behind, whichever backend holds them.
    pub async fn count(&self) -> Result<usize, BlobError> {
        let mut listing = self.store.list(self.prefix.as_ref());
        let mut n = 0;
        while let Some(meta) = listing.next().await {
            meta?;
            n += 1;
        }
        Ok(n)
    }

    /// Deletes `key`; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An upload in progress. Dropped without [`BlobWriter::finish`], the
/// parts already sent are aborted.
pub struct BlobWriter {
    upload: Option<WriteMultipart>,
    hasher: Sha256,
    written: u64,
    limit: u64,
}

/// What a finished write stored.
#[derive(Clone, Debug)]
pub struct Written {
    pub size: u64,
    pub sha256: String,
}

impl BlobWriter {
    /// Takes the next chunk, waiting while too many parts are in flight.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            self.abort().await;
            return Err(BlobError::TooLarge(self.limit));
        }
        self.hasher.update(chunk);
        let upload = self
            .upload
            .as_mut()
            .ok_or_else(|| BlobError::Body("the upload was already aborted".into()))?;
        upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        upload.write(chunk);
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn finish(mut self) -> Result<Written, BlobError> {
        let upload = self
            .upload
            .take()
            .ok_or_else(|| BlobError::Body("the upload was already aborted".into()))?;
        upload.finish().await?;
        Ok(Written {
            size: self.written,
            sha256: hex::encode(self.hasher.clone().finalize()),
        })
    }

    pub async fn abort(&mut self) {
        if let Some(upload) = self.upload.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(error = %e, "could not abort a partial upload");
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            // A client that went away mid-upload: let the backend drop
            // what it received, off this (sync) path.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = upload.abort().await;
                });
            }
        }
    }
}
