//! `storage.objects` (API.md §1.13, §1.14, §2.14).

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::{MultipartBody, RequestSpec};
use crate::endpoints as ep;
use crate::error::{self, Error, Result};
use crate::models::{DownloadInfo, JsonMap, Page, PageQuery, PresignObject, StoredObject};

use super::audit_logs::fetch_page;
use super::{ItemStream, handle};

handle!(
    /// Storage; objects live under [`objects`](Storage::objects).
    Storage
);
handle!(
    /// Stored objects.
    StorageObjects
);

/// A file for a direct multipart upload.
#[derive(Clone, Debug)]
pub struct UploadObject {
    filename: String,
    content: Bytes,
    content_type: Option<String>,
}

impl UploadObject {
    /// `content` under `filename`.
    pub fn new(filename: impl Into<String>, content: impl Into<Bytes>) -> Self {
        UploadObject {
            filename: filename.into(),
            content: content.into(),
            content_type: None,
        }
    }

    /// Sets the content type; also sent as the `contentType` text field.
    /// Without it the file part is `application/octet-stream`.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
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
        }
    }

    pub(crate) fn filename(&self) -> &str {
        &self.filename
    }
}

impl<'a> Storage<'a> {
    /// `storage.objects`.
    pub fn objects(&self) -> StorageObjects<'a> {
        StorageObjects::new(self.client)
    }
}

impl StorageObjects<'_> {
    /// `GET /api/v1/storage/objects` (auth `workspace`): one page of live
    /// `objects`.
    pub async fn list(self, query: PageQuery) -> Result<Page<StoredObject>> {
        let spec = RequestSpec::endpoint(&ep::STORAGE_OBJECTS_LIST, &[]).query(&query)?;
        fetch_page(self.client, spec, "objects", "next_cursor").await
    }

    /// Every live object, across pages (`GET /api/v1/storage/objects`
    /// repeatedly, auth `workspace`). `query.cursor` is ignored.
    pub fn list_all(&self, query: PageQuery) -> ItemStream<StoredObject> {
        let client = self.client.clone();
        Box::pin(crate::pagination::paginate(move |cursor| {
            let client = client.clone();
            let query = PageQuery {
                cursor,
                limit: query.limit,
            };
            async move { client.storage().objects().list(query).await }
        }))
    }

    /// `GET /api/v1/storage/objects/{object_id}` (auth `workspace`).
    pub async fn get(self, object_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::STORAGE_OBJECTS_GET,
                &[object_id],
            ))
            .await
    }

    /// `DELETE /api/v1/storage/objects/{object_id}` (auth `workspace`): soft
    /// delete, restorable for 7 days.
    pub async fn delete(self, object_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::STORAGE_OBJECTS_DELETE,
                &[object_id],
            ))
            .await
    }

    /// `POST /api/v1/storage/objects/{object_id}/restore` (auth
    /// `workspace`): undoes a soft delete.
    pub async fn restore(self, object_id: &str) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::STORAGE_OBJECTS_RESTORE, &[object_id]).json(&json!({}))?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/storage/objects` as `multipart/form-data` (auth
    /// `workspace`): a direct upload (up to 100 MB), part `file` plus the
    /// `contentType` field when given. Returns `{object}`.
    pub async fn upload(self, file: UploadObject) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::STORAGE_OBJECTS_UPLOAD, &[])
            .multipart(file.into_multipart(Vec::new()));
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/storage/objects` as JSON `{filename, contentType,
    /// sizeBytes}` (auth `workspace`): reserves an object and returns a
    /// presigned `upload_url`; PUT the bytes there, then
    /// [`confirm`](Self::confirm).
    pub async fn presign(self, request: PresignObject) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::STORAGE_OBJECTS_PRESIGN, &[]).json(&request)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/storage/objects/{object_id}/confirm` (auth
    /// `workspace`): seals a presigned upload; `sha256` is left out of the
    /// body when `None`.
    pub async fn confirm(self, object_id: &str, sha256: Option<&str>) -> Result<Value> {
        let mut body = JsonMap::new();
        if let Some(sha256) = sha256 {
            body.insert("sha256".to_owned(), Value::String(sha256.to_owned()));
        }
        let spec = RequestSpec::endpoint(&ep::STORAGE_OBJECTS_CONFIRM, &[object_id]).json(&body)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/storage/objects/{object_id}/download` (auth
    /// `workspace`): the signed URL, without following the 302.
    ///
    /// Returns the JSON body when it has a string `url`, else the
    /// `Location` header as `url`, else an `InvalidResponse` error.
    pub async fn download(self, object_id: &str, expires_in: Option<u64>) -> Result<DownloadInfo> {
        let mut spec = RequestSpec::endpoint(&ep::STORAGE_OBJECTS_DOWNLOAD, &[object_id])
            .redirect_is_success();
        if let Some(expires_in) = expires_in {
            spec = spec.query_pair("expires_in", expires_in.to_string());
        }
        let path = spec.path.clone();
        let reply = self.client.send(spec).await?;
        if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&reply.body)
            && let Some(url) = body.get("url").and_then(Value::as_str)
        {
            let url = url.to_owned();
            return Ok(
                serde_json::from_value(Value::Object(body.clone())).unwrap_or(DownloadInfo {
                    url,
                    expires_in_seconds: None,
                    expires_at: None,
                    extra: body,
                }),
            );
        }
        let location = reply
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        if let Some(location) = location {
            return Ok(DownloadInfo {
                url: location.to_owned(),
                expires_in_seconds: None,
                expires_at: None,
                extra: JsonMap::new(),
            });
        }
        Err(Error::InvalidResponse {
            request: format!("GET {path}"),
            reason: format!(
                "download returned neither a JSON url nor a Location header (status {})",
                reply.status.as_u16()
            ),
            status: Some(reply.status.as_u16()),
            body: None,
            request_id: error::request_id(&reply.headers),
        })
    }
}
