//! What an upload sends, and the presigned flow: presign → PUT the bytes to
//! the signed URL → confirm with the SHA-256 computed while sending.

use std::path::Path;

use bytes::Bytes;
use serde_json::Value;

use crate::client::{Client, MultipartBody};
use crate::error::{self, Error, Result};
use crate::models::PresignObject;
use crate::transfer::{Observer, Payload, Progress, SharedHash};

/// A file to upload: bytes in memory or a file streamed from disk.
#[derive(Clone, Debug)]
pub struct UploadObject {
    filename: String,
    content: Payload,
    content_type: Option<String>,
    progress: Option<Progress>,
}

impl UploadObject {
    /// `content` under `filename`.
    pub fn new(filename: impl Into<String>, content: impl Into<Bytes>) -> Self {
        UploadObject {
            filename: filename.into(),
            content: Payload::Bytes(content.into()),
            content_type: None,
            progress: None,
        }
    }

    /// The file at `path`, streamed from disk when sent (never read whole),
    /// named after its last path component.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{} does not name a file", path.display()))
            })?;
        let content = Payload::File(path.to_owned());
        // Fail here, not halfway through a request, on a missing file or a
        // directory.
        content.len()?;
        Ok(UploadObject {
            filename,
            content,
            content_type: None,
            progress: None,
        })
    }

    /// Sends it under another name.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = filename.into();
        self
    }

    /// Sets the content type; also sent as the `contentType` text field.
    /// Without it the file part is `application/octet-stream`.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Reports the bytes sent so far while the upload runs.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Its size in bytes now (a file's current size).
    pub fn len(&self) -> Result<u64> {
        self.content.len()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> Result<bool> {
        self.content.is_empty()
    }

    /// The multipart body with these text `fields` before the `file` part.
    pub(crate) fn into_multipart(self, mut fields: Vec<(String, String)>) -> MultipartBody {
        if let Some(ct) = &self.content_type {
            fields.push(("contentType".to_owned(), ct.clone()));
        }
        MultipartBody {
            fields,
            filename: self.filename,
            content_type: self
                .content_type
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            content: self.content,
            progress: self.progress,
        }
    }

    pub(crate) fn filename(&self) -> &str {
        &self.filename
    }

    pub(crate) fn presign_request(&self) -> Result<PresignObject> {
        Ok(PresignObject::new(
            self.filename.clone(),
            self.content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            self.len()?,
        ))
    }
}

/// The body of a presign reply that the PUT needs.
pub(crate) struct Presigned {
    pub(crate) object_id: String,
    pub(crate) upload_url: String,
    pub(crate) size_bytes: u64,
}

impl Presigned {
    pub(crate) fn from_reply(reply: &Value) -> Result<Presigned> {
        let invalid = |reason: &str| Error::InvalidResponse {
            request: "POST /api/v1/storage/objects".to_owned(),
            reason: reason.to_owned(),
            status: None,
            body: Some(reply.clone()),
            request_id: None,
        };
        let object_id = reply
            .pointer("/object/id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("presign reply has no object.id"))?;
        let upload_url = reply
            .get("upload_url")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("presign reply has no upload_url"))?;
        let size_bytes = reply
            .pointer("/object/size_bytes")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Ok(Presigned {
            object_id: object_id.to_owned(),
            upload_url: upload_url.to_owned(),
            size_bytes,
        })
    }
}

/// PUTs `file` to a presigned `upload_url`, without credentials (the URL
/// carries its own signature), and returns the hex SHA-256 of the bytes
/// sent. One attempt: a failed PUT leaves the object pending, and the
/// caller may PUT again until the URL expires.
pub(crate) async fn put_presigned(
    client: &Client,
    upload_url: &str,
    file: &UploadObject,
) -> Result<String> {
    let url = absolute(client, upload_url);
    let hash = SharedHash::default();
    let observer = Observer {
        progress: file.progress.clone(),
        hasher: Some(hash.handle()),
    };
    let (body, length) = file.content.open(observer)?;
    let content_type = file
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let response = client
        .inner
        .http
        .put(&url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONTENT_LENGTH, length)
        .header(reqwest::header::USER_AGENT, crate::USER_AGENT)
        .body(body)
        .send()
        .await
        .map_err(|source| Error::Network {
            method: "PUT".to_owned(),
            path: redact_query(&url),
            source,
        })?;
    let status = response.status();
    let headers = response.headers().clone();
    let reply = response.bytes().await.map_err(|source| Error::Network {
        method: "PUT".to_owned(),
        path: redact_query(&url),
        source,
    })?;
    if !status.is_success() {
        return Err(error::from_reply(
            "PUT",
            &redact_query(&url),
            status,
            &headers,
            &reply,
            error::NonJsonErrors::ByStatus,
        ));
    }
    Ok(hash.hex())
}

/// A URL the server gave, made absolute against the client's base URL
/// when it is a path.
pub(crate) fn absolute(client: &Client, url: &str) -> String {
    if url.starts_with('/') {
        format!("{}{url}", client.base_url())
    } else {
        url.to_owned()
    }
}

/// The URL without its query: the signature stays out of error messages
/// and logs.
pub(crate) fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}
