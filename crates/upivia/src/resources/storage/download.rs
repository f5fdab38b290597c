//! Reading an object's bytes through its signed URL (API.md §1.13), as a
//! stream: nothing holds the whole object in memory.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::Client;
use crate::error::{self, Error, Result};
use crate::models::DownloadInfo;
use crate::transfer::Progress;

use super::upload::{absolute, redact_query};

/// Which bytes to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ByteRange {
    /// The whole object.
    #[default]
    All,
    /// From this offset to the end.
    From(u64),
    /// These offsets, both included.
    Between(u64, u64),
}

impl ByteRange {
    fn header(self) -> Option<String> {
        match self {
            ByteRange::All => None,
            ByteRange::From(start) => Some(format!("bytes={start}-")),
            ByteRange::Between(start, end) => Some(format!("bytes={start}-{end}")),
        }
    }
}

/// An open download: the signed URL answered, its body not yet read.
#[derive(Debug)]
pub struct ObjectDownload {
    response: reqwest::Response,
    info: DownloadInfo,
    idle_timeout: Duration,
    whole: bool,
}

impl ObjectDownload {
    /// The signed URL it came from, and that URL's lifetime.
    pub fn info(&self) -> &DownloadInfo {
        &self.info
    }

    /// 200 for the whole object, 206 for a range.
    pub fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    /// Bytes this response carries, when the server said.
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The object's content type.
    pub fn content_type(&self) -> Option<&str> {
        self.header(header::CONTENT_TYPE)
    }

    /// The object's hex SHA-256, from its `ETag`.
    pub fn sha256(&self) -> Option<&str> {
        self.header(header::ETAG)
            .map(|etag| etag.trim_start_matches("W/").trim_matches('"'))
            .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
    }

    /// The body as chunks. A chunk that takes longer than the client's
    /// timeout to arrive ends the stream with a `Network`-kind error.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let path = redact_query(&self.info.url);
        let idle = self.idle_timeout;
        let body = self.response.bytes_stream();
        futures::stream::unfold(
            (Box::pin(body), path, false),
            move |(mut body, path, done)| async move {
                if done {
                    return None;
                }
                match tokio::time::timeout(idle, body.next()).await {
                    Ok(None) => None,
                    Ok(Some(Ok(chunk))) => Some((Ok(chunk), (body, path, false))),
                    Ok(Some(Err(source))) => {
                        let err = Error::Network {
                            method: "GET".to_owned(),
                            path: path.clone(),
                            source,
                        };
                        Some((Err(err), (body, path, true)))
                    }
                    Err(_) => {
                        let err = Error::io(
                            &path,
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                format!("no data for {idle:?}"),
                            ),
                        );
                        Some((Err(err), (body, path, true)))
                    }
                }
            },
        )
    }

    /// Writes the body to `writer` and returns the bytes written. For a
    /// whole object it checks the length and the SHA-256 the server
    /// announced, so a truncated or corrupted transfer is an error, not a
    /// short file.
    pub async fn write_to<W>(self, writer: &mut W, progress: Option<Progress>) -> Result<u64>
    where
        W: AsyncWrite + Unpin,
    {
        let expected_len = self.content_length();
        let expected_sha = self
            .whole
            .then(|| self.sha256().map(str::to_owned))
            .flatten();
        let url = redact_query(&self.info.url);
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        let mut stream = Box::pin(self.into_stream());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::io("download destination", e))?;
            hasher.update(&chunk);
            written += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            if let Some(progress) = &progress {
                progress.report(written);
            }
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::io("download destination", e))?;
        let mismatch = |reason: String| Error::InvalidResponse {
            request: format!("GET {url}"),
            reason,
            status: None,
            body: None,
            request_id: None,
        };
        if let Some(expected) = expected_len
            && expected != written
        {
            return Err(mismatch(format!(
                "the body ended after {written} of {expected} bytes"
            )));
        }
        if let Some(expected) = expected_sha {
            let got = hex::encode(hasher.finalize());
            if !got.eq_ignore_ascii_case(&expected) {
                return Err(mismatch(format!(
                    "the bytes hash to {got}, not the object's sha256 {expected}"
                )));
            }
        }
        Ok(written)
    }

    /// Writes the body to `path` through a temporary file beside it, moved
    /// into place only once the whole body arrived and checked out: an
    /// interrupted download never leaves a partial file under that name.
    pub async fn save(self, path: &Path, progress: Option<Progress>) -> Result<u64> {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".upivia-download-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        let (std_file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        let written = self.write_to(&mut file, progress).await?;
        file.sync_all().await.map_err(|e| Error::io(path, e))?;
        drop(file);
        temp_path
            .persist(path)
            .map_err(|e| Error::io(path, e.error))?;
        Ok(written)
    }
}

/// Asks for the signed URL, then opens it without credentials.
pub(crate) async fn open(
    client: &Client,
    info: DownloadInfo,
    range: ByteRange,
) -> Result<ObjectDownload> {
    let url = absolute(client, &info.url);
    let mut request = client
        .inner
        .http
        .get(&url)
        .header(header::USER_AGENT, crate::USER_AGENT);
    if let Some(range) = range.header() {
        request = request.header(header::RANGE, range);
    }
    // Not reqwest's per-request timeout: that one also bounds reading the
    // body, which for a large object may rightly take longer. The client's
    // timeout bounds waiting for the headers here, and then each chunk's
    // arrival in `into_stream`.
    let response = match tokio::time::timeout(client.inner.timeout, request.send()).await {
        Ok(sent) => sent.map_err(|source| Error::Network {
            method: "GET".to_owned(),
            path: redact_query(&url),
            source,
        })?,
        Err(_) => {
            return Err(Error::io(
                redact_query(&url),
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no response within {:?}", client.inner.timeout),
                ),
            ));
        }
    };
    let status = response.status();
    if !status.is_success() {
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        return Err(error::from_reply(
            "GET",
            &redact_query(&url),
            status,
            &headers,
            &body,
            error::NonJsonErrors::ByStatus,
        ));
    }
    Ok(ObjectDownload {
        response,
        info: DownloadInfo { url, ..info },
        idle_timeout: client.inner.timeout,
        whole: status == reqwest::StatusCode::OK,
    })
}
