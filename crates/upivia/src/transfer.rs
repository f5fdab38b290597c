//! Request bodies that stream from a file, with progress and a running
//! SHA-256, for storage uploads (API.md §1.14).
//!
//! A [`Payload`] is plain data (bytes, or a path) so every retry attempt
//! reopens it and resends identical bytes; nothing reads a whole file into
//! memory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Bytes read from a file per chunk: large enough that a 100 MB upload is
/// ~1600 writes, small enough to keep memory flat.
const CHUNK: usize = 64 * 1024;

/// A callback told the bytes transferred so far (cumulative; it starts
/// from 0 again when a request is retried).
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(u64) + Send + Sync>);

impl Progress {
    /// Wraps `report`, which must be cheap: it runs once per chunk.
    pub fn new(report: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Progress(Arc::new(report))
    }

    pub(crate) fn report(&self, bytes: u64) {
        (self.0)(bytes);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// What an upload sends.
#[derive(Clone)]
pub enum Payload {
    /// Bytes already in memory.
    Bytes(Bytes),
    /// A file, streamed from disk on every attempt.
    File(PathBuf),
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Bytes(b) => write!(f, "Payload::Bytes({} bytes)", b.len()),
            Payload::File(p) => write!(f, "Payload::File({})", p.display()),
        }
    }
}

impl Payload {
    /// The payload's length in bytes (a file's current size).
    pub fn len(&self) -> Result<u64> {
        match self {
            Payload::Bytes(b) => Ok(u64::try_from(b.len()).unwrap_or(u64::MAX)),
            Payload::File(path) => Ok(file_len(path)?),
        }
    }

    /// Whether the payload has no bytes.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The bytes as a chunk stream that `observer` watches, with the length
    /// measured when opened (a file may have changed since it was named).
    pub(crate) fn open(&self, observer: Observer) -> Result<(reqwest::Body, u64)> {
        match self {
            Payload::Bytes(bytes) => {
                let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                let chunks: Vec<Bytes> = (0..bytes.len())
                    .step_by(CHUNK)
                    .map(|start| bytes.slice(start..(start + CHUNK).min(bytes.len())))
                    .collect();
                let stream = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
                Ok((observer.wrap(stream), len))
            }
            Payload::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
                let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
                let file = tokio::fs::File::from_std(file);
                let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK);
                Ok((observer.wrap(stream), len))
            }
        }
    }
}

fn file_len(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    Ok(meta.len())
}

/// Watches bytes go by: progress, and optionally a SHA-256 of them.
#[derive(Clone, Default)]
pub(crate) struct Observer {
    pub(crate) progress: Option<Progress>,
    pub(crate) hasher: Option<Arc<Mutex<Sha256>>>,
}

impl Observer {
    fn wrap<S>(self, stream: S) -> reqwest::Body
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        let mut sent: u64 = 0;
        let observed = stream.map(move |chunk| {
            if let Ok(chunk) = &chunk {
                sent += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                if let Some(hasher) = &self.hasher {
                    hasher
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .update(chunk);
                }
                if let Some(progress) = &self.progress {
                    progress.report(sent);
                }
            }
            chunk
        });
        reqwest::Body::wrap_stream(observed)
    }
}

/// A running SHA-256 shared with an [`Observer`], read once the body has
/// been sent.
#[derive(Clone, Default)]
pub(crate) struct SharedHash(Arc<Mutex<Sha256>>);

impl SharedHash {
    pub(crate) fn handle(&self) -> Arc<Mutex<Sha256>> {
        self.0.clone()
    }

    pub(crate) fn hex(&self) -> String {
        hex::encode(self.lock().clone().finalize())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sha256> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
