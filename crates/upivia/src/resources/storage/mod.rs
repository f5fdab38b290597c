//! `storage.objects` (API.md §1.13, §1.14, §2.14).
//!
//! Uploads and downloads stream: [`UploadObject::from_path`] sends a file
//! from disk chunk by chunk, and [`ObjectDownload`] reads the signed URL's
//! body as a stream or into a file.

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::{self, Error, Result};
use crate::models::{DownloadInfo, JsonMap, Page, PageQuery, PresignObject, StoredObject};

use super::audit_logs::fetch_page;
use super::{ItemStream, handle};

mod download;
mod upload;

pub use download::{ByteRange, ObjectDownload};
pub use upload::UploadObject;

handle!(
    /// Storage; objects live under [`objects`](Storage::objects).
    Storage
);
handle!(
    /// Stored objects.
    StorageObjects
);

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

    /// The presigned flow in one call: presign (`POST
    /// /api/v1/storage/objects` as JSON), PUT the bytes to the signed
    /// `upload_url` (no credentials), then confirm with the SHA-256 computed
    /// while sending, so the server seals only what was sent. Returns the
    /// confirm reply, `{object}` with `status: "live"`.
    ///
    /// Use it for large files: the upload goes to a URL of its own, outside
    /// the API's request limits, and a failed PUT can be retried against the
    /// same object until its URL expires.
    pub async fn upload_presigned(self, file: UploadObject) -> Result<Value> {
        let presign = self
            .client
            .storage()
            .objects()
            .presign(file.presign_request()?);
        let presigned = upload::Presigned::from_reply(&presign.await?)?;
        if presigned.size_bytes != file.len()? {
            return Err(Error::InvalidArgument(format!(
                "{} changed size while it was being uploaded",
                file.filename()
            )));
        }
        let sha256 = upload::put_presigned(self.client, &presigned.upload_url, &file).await?;
        self.client
            .storage()
            .objects()
            .confirm(&presigned.object_id, Some(&sha256))
            .await
    }

    /// PUTs `file` to a presigned `upload_url` (from
    /// [`presign`](Self::presign)) without credentials, and returns the hex
    /// SHA-256 of what was sent, for [`confirm`](Self::confirm). One attempt;
    /// the URL accepts another PUT until the object is confirmed.
    pub async fn put_presigned(self, upload_url: &str, file: &UploadObject) -> Result<String> {
        upload::put_presigned(self.client, upload_url, file).await
    }

    /// Opens the object's bytes: asks for a signed URL, then GETs it
    /// without credentials. Read the body with
    /// [`ObjectDownload::into_stream`], [`ObjectDownload::write_to`] or
    /// [`ObjectDownload::save`].
    pub async fn open(self, object_id: &str, range: ByteRange) -> Result<ObjectDownload> {
        let info = self
            .client
            .storage()
            .objects()
            .download(object_id, None)
            .await?;
        download::open(self.client, info, range).await
    }

    /// Opens a signed download URL already in hand (from
    /// [`download`](Self::download)), e.g. one handed over by another
    /// process; no credentials are sent.
    pub async fn open_url(self, info: DownloadInfo, range: ByteRange) -> Result<ObjectDownload> {
        download::open(self.client, info, range).await
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
