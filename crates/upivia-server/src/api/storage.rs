//! Storage (API.md §2.14, §1.13, §1.14): direct multipart upload and
//! presign on one route (the content type decides), the credential-free
//! signed PUT and GET, confirm, download (302 with a JSON body), list,
//! get, soft delete and restore. The routes that stream bodies are served
//! apart (`streaming_router`), with limits of their own instead of the
//! API's 1 MiB body limit and request timeout.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use futures::StreamExt;
use serde_json::{Map, Value, json};

use tower_http::limit::RequestBodyLimitLayer;

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth, parse_json};
use super::fields::{field, string};
use crate::clock::rfc3339;
use crate::domains::storage::blobs::BlobError;
use crate::domains::storage::service::{self, DOWNLOAD_TTL_DEFAULT, DOWNLOAD_TTL_MAX};
use crate::store::StoredObject;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/storage/objects", get(list))
        .route("/storage/objects/{object_id}", get(fetch).delete(remove))
        .route("/storage/objects/{object_id}/restore", post(restore))
        .route("/storage/objects/{object_id}/confirm", post(confirm))
        .route("/storage/objects/{object_id}/download", get(download))
}

/// Routes whose bodies stream: upload (and presign), the signed PUT and
/// the signed GET. A body is cut off past its route's limit as it streams:
/// a direct upload and its form fields, or the largest presigned size.
pub(super) fn streaming_router(upload_max: u64, presign_max: u64) -> Router<AppState> {
    let limit = |n: u64| RequestBodyLimitLayer::new(usize::try_from(n).unwrap_or(usize::MAX));
    Router::new()
        .route(
            "/storage/objects",
            post(upload_or_presign).layer(limit(upload_max + FORM_OVERHEAD)),
        )
        .route(
            "/storage/uploads/{object_id}",
            put(signed_put).layer(limit(presign_max)),
        )
        .route("/storage/blobs/{object_id}", get(signed_get))
}

/// Room for a form's boundaries, headers and small text fields.
const FORM_OVERHEAD: u64 = 64 * 1024;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;
/// A presign body is a few fields; the route itself has no body limit.
const PRESIGN_BODY_MAX: usize = 16 * 1024;

pub(crate) fn object_json(o: &StoredObject) -> Value {
    json!({
        "id": o.id,
        "filename": o.filename,
        "content_type": o.content_type,
        "size_bytes": o.size_bytes,
        "status": o.status.as_str(),
        "sha256": o.sha256,
        "created_by": o.created_by,
        "created_at": rfc3339(o.created_at),
        "updated_at": rfc3339(o.updated_at),
        "deleted_at": o.deleted_at.map(rfc3339),
    })
}

fn with_restore_window(state: &AppState, o: &StoredObject) -> Value {
    let mut v = object_json(o);
    v["restorable_until"] = json!(service::restorable_until(&state.platform, o).map(rfc3339));
    v
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(page): Query<Page>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let cursor = page.cursor.filter(|c| !c.is_empty());
    if cursor.as_ref().is_some_and(|c| c.len() > 100) {
        return Err(ApiError::InvalidRequest("invalid cursor".into()));
    }
    let objects = service::list(&state.platform, &user, cursor, limit + 1).await?;
    let more = objects.len() > limit as usize;
    let page: Vec<&StoredObject> = objects.iter().take(limit as usize).collect();
    let next = if more {
        page.last().map(|o| o.id.clone())
    } else {
        None
    };
    Ok(AxumJson(json!({
        "objects": page.iter().map(|o| object_json(o)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn fetch(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let o = service::get(&state.platform, &user, &id).await?;
    Ok(AxumJson(json!({"object": with_restore_window(&state, &o)})))
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let o = service::delete(&state.platform, &user, &id).await?;
    Ok(AxumJson(json!({
        "deleted": true,
        "object": with_restore_window(&state, &o),
    })))
}

async fn restore(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(_body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let o = service::restore(&state.platform, &user, &id).await?;
    Ok(AxumJson(json!({"object": object_json(&o)})))
}

async fn confirm(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(unknown) = body.keys().find(|k| *k != "sha256") {
        return Err(ApiError::Unprocessable(format!(
            "invalid field {unknown}: confirm takes only sha256"
        )));
    }
    let sha = string(&body, "sha256", 64)?;
    let o = service::confirm(&state.platform, &user, &id, sha).await?;
    Ok(AxumJson(json!({"object": object_json(&o)})))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadQuery {
    expires_in: Option<i64>,
}

async fn download(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let ttl = q.expires_in.unwrap_or(DOWNLOAD_TTL_DEFAULT);
    if !(1..=DOWNLOAD_TTL_MAX).contains(&ttl) {
        return Err(ApiError::InvalidRequest(format!(
            "expires_in must be from 1 to {DOWNLOAD_TTL_MAX} seconds"
        )));
    }
    let (o, query, expires_at) = service::download(&state.platform, &user, &id, ttl).await?;
    let url = format!("{}/api/v1/storage/blobs/{}?{query}", state.base_url, o.id);
    let location = HeaderValue::from_str(&url).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let body = json!({
        "url": url,
        "expires_in_seconds": ttl,
        "expires_at": rfc3339(expires_at),
    });
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location)],
        AxumJson(body),
    )
        .into_response())
}

pub(super) fn is_content_type(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

async fn upload_or_presign(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    req: Request,
) -> Result<AxumJson<Value>, ApiError> {
    if is_content_type(req.headers(), "multipart/form-data") {
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("malformed multipart body: {e}")))?;
        let o = receive_upload(&state, &user, multipart).await?;
        return Ok(AxumJson(json!({"object": object_json(&o)})));
    }
    if !is_content_type(req.headers(), "application/json") {
        return Err(ApiError::BadRequest {
            code: "unsupported_content_type",
            message: "send multipart/form-data (a file part) to upload, or application/json \
                      {filename, contentType, sizeBytes} to presign"
                .into(),
        });
    }
    let bytes = axum::body::to_bytes(req.into_body(), PRESIGN_BODY_MAX)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(PRESIGN_BODY_MAX))?;
    let body: Map<String, Value> = parse_json(&bytes)?;
    presign(&state, &user, body).await
}

async fn presign(
    state: &AppState,
    user: &crate::model::UserPrincipal,
    body: Map<String, Value>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(unknown) = body
        .keys()
        .find(|k| !["filename", "contentType", "sizeBytes"].contains(&k.as_str()))
    {
        return Err(ApiError::Unprocessable(format!(
            "invalid field {unknown}: presign takes filename, contentType and sizeBytes"
        )));
    }
    let filename = string(&body, "filename", 1024)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field filename: required".into()))?;
    let size = field(&body, "sizeBytes")
        .and_then(Value::as_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            ApiError::Unprocessable(
                "invalid field sizeBytes: required, a whole number of bytes".into(),
            )
        })?;
    let filename = service::filename(&filename)?;
    let content_type = service::content_type(string(&body, "contentType", 512)?.as_deref())?;
    let p = service::presign(&state.platform, user, filename, content_type, size).await?;
    Ok(AxumJson(json!({
        "object": object_json(&p.object),
        "upload_url": format!(
            "{}/api/v1/storage/uploads/{}?{}", state.base_url, p.object.id, p.query
        ),
        "upload_method": "PUT",
        "expires_at": rfc3339(p.expires_at),
    })))
}

/// Streams a form's `file` part into storage as a live object (the
/// knowledge documents route takes uploads this way too).
pub(super) async fn receive_upload(
    state: &AppState,
    user: &crate::model::UserPrincipal,
    mut multipart: Multipart,
) -> Result<StoredObject, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::InvalidRequest(format!("malformed multipart body: {e}"))
    };
    let mut content_type_field: Option<String> = None;
    let mut received: Option<(service::Upload, Option<String>, Option<String>)> = None;
    while let Some(mut part) = multipart.next_field().await.map_err(bad)? {
        match part.name().unwrap_or("") {
            "contentType" => {
                let mut text = Vec::new();
                while let Some(chunk) = part.chunk().await.map_err(bad)? {
                    text.extend_from_slice(&chunk);
                    if text.len() > 512 {
                        return Err(ApiError::Unprocessable(
                            "invalid field contentType: at most 512 bytes".into(),
                        ));
                    }
                }
                content_type_field = Some(String::from_utf8(text).map_err(|_| {
                    ApiError::Unprocessable("invalid field contentType: not UTF-8".into())
                })?);
            }
            "file" if received.is_none() => {
                let name = part.file_name().map(str::to_owned);
                let part_type = part.content_type().map(str::to_owned);
                let mut up = service::begin_upload(&state.platform, user).await?;
                loop {
                    let chunk = match part.chunk().await {
                        Ok(Some(chunk)) => chunk,
                        Ok(None) => break,
                        Err(e) => {
                            up.writer.abort().await;
                            return Err(bad(e));
                        }
                    };
                    if let Err(e) = up.writer.write(&chunk).await {
                        let stopped = up.stopped();
                        drop(up);
                        return Err(service::upload_refused(&state.platform, user, stopped, e)
                            .await
                            .into());
                    }
                }
                received = Some((up, name, part_type));
            }
            "file" => {
                return Err(ApiError::InvalidRequest("one file part per upload".into()));
            }
            // The SDK's knowledge route sends `filename`; elsewhere extra
            // text fields are ignored as multipart forms usually are.
            _ => while part.chunk().await.map_err(bad)?.is_some() {},
        }
    }
    let Some((up, name, part_type)) = received else {
        return Err(ApiError::Unprocessable(
            "invalid field file: required, the file part of the form".into(),
        ));
    };
    let filename = service::filename(name.as_deref().unwrap_or("upload"))?;
    // The form's contentType wins over the part's own (the SDK sends both
    // when the caller named one).
    let content_type =
        service::content_type(content_type_field.as_deref().or(part_type.as_deref()))?;
    Ok(service::finish_upload(&state.platform, user, up, filename, content_type).await?)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    expires: i64,
    sig: String,
}

/// A signed URL's refusals: a signature that does not hold is 401
/// `invalid_signature`, as on trigger fires.
fn url_error(e: crate::domains::DomainError) -> ApiError {
    match e {
        crate::domains::DomainError::Unauthenticated(m) => ApiError::BadSignature(m.into()),
        other => other.into(),
    }
}

fn signed(query: Option<&str>) -> Result<Signed, ApiError> {
    serde_urlencoded::from_str(query.unwrap_or("")).map_err(|_| {
        ApiError::BadSignature("the URL must carry its expires and sig parameters".into())
    })
}

async fn signed_put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<AxumJson<Value>, ApiError> {
    let s = signed(req.uri().query())?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut put = service::begin_put(&state.platform, &id, s.expires, &s.sig)
        .await
        .map_err(url_error)?;
    let size = put.object.size_bytes as u64;
    if declared.is_some_and(|n| n != size) {
        put.writer.abort().await;
        return Err(ApiError::BadRequest {
            code: "size_mismatch",
            message: format!("this URL takes exactly {size} bytes"),
        });
    }
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                put.writer.abort().await;
                return Err(ApiError::InvalidRequest(format!(
                    "the upload broke off: {e}"
                )));
            }
        };
        if let Err(e) = put.writer.write(&chunk).await {
            return Err(match e {
                BlobError::TooLarge(_) => ApiError::BadRequest {
                    code: "size_mismatch",
                    message: format!("this URL takes exactly {size} bytes"),
                },
                other => ApiError::Internal(Box::new(other)),
            });
        }
    }
    let id = put.object.id.clone();
    let written = service::finish_put(&state.platform, put)
        .await
        .map_err(|e| match e {
            crate::domains::DomainError::Invalid(message) => ApiError::BadRequest {
                code: "size_mismatch",
                message,
            },
            other => other.into(),
        })?;
    Ok(AxumJson(json!({
        "object_id": id,
        "size_bytes": written.size,
        "sha256": written.sha256,
        "status": "pending",
    })))
}

fn disposition(filename: &str) -> String {
    // An ASCII fallback for old clients, and the exact name in RFC 5987
    // form; quotes and backslashes cannot close the quoted string.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn signed_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let s = signed(req.uri().query())?;
    let o = service::open_download(&state.platform, &id, s.expires, &s.sig)
        .await
        .map_err(url_error)?;
    let size = o.size_bytes as u64;
    let range = match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => None,
        Some(raw) => match http_range_header::parse_range_header(raw)
            .ok()
            .map(|r| r.validate(size))
        {
            // A syntax the server does not take is ignored (RFC 9110).
            None => None,
            Some(Ok(ranges)) if ranges.len() == 1 => Some(ranges[0].clone()),
            // Several ranges: the whole body instead of multipart/byteranges.
            Some(Ok(_)) => None,
            Some(Err(_)) => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    AxumJson(json!({"error": {
                        "code": "range_not_satisfiable",
                        "message": format!("the object is {size} bytes"),
                    }})),
                )
                    .into_response());
            }
        },
    };
    let key = o.blob_key.clone().unwrap_or_default();
    let stream = state
        .platform
        .storage
        .blobs
        .read(&key, range.clone().map(|r| *r.start()..*r.end() + 1))
        .await
        .map_err(|e| match e {
            BlobError::Missing => ApiError::NotFound("object"),
            other => ApiError::Internal(Box::new(other)),
        })?;
    let stream = stream.map(|chunk| chunk.map_err(std::io::Error::other));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    let put = |h: &mut HeaderMap, name, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put(headers, header::CONTENT_TYPE, o.content_type.clone());
    put(
        headers,
        header::CONTENT_DISPOSITION,
        disposition(&o.filename),
    );
    put(headers, header::ACCEPT_RANGES, "bytes".into());
    if let Some(sha) = &o.sha256 {
        put(headers, header::ETAG, format!("\"{sha}\""));
    }
    // Bytes users uploaded are never run as a page of this origin.
    put(headers, header::CONTENT_SECURITY_POLICY, "sandbox".into());
    put(headers, header::CACHE_CONTROL, "private, no-store".into());
    match range {
        Some(r) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            put(
                headers,
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start(), r.end()),
            );
            put(
                headers,
                header::CONTENT_LENGTH,
                (r.end() - r.start() + 1).to_string(),
            );
        }
        None => put(
            response.headers_mut(),
            header::CONTENT_LENGTH,
            size.to_string(),
        ),
    }
    Ok(response)
}
