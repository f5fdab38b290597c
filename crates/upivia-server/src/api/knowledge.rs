//! Knowledge (API.md §2.15): collections (create, list with a cursor,
//! get, soft delete) and documents (added from a stored object or a
//! multipart upload, 202 while ingestion runs; get reports its status;
//! delete drops its chunks). Agents query collections through the
//! governed `knowledge.search` operation, not a route.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};
use tower_http::limit::RequestBodyLimitLayer;

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth, parse_json};
use super::fields::string;
use super::storage::{is_content_type, receive_upload};
use crate::clock::rfc3339;
use crate::domains::knowledge::service;
use crate::domains::storage::service as storage;
use crate::store::{Collection, Document};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/knowledge/collections", get(list).post(create))
        .route(
            "/knowledge/collections/{collection_id}",
            get(fetch).delete(remove),
        )
        .route(
            "/knowledge/collections/{collection_id}/documents/{doc_id}",
            get(document).delete(remove_document),
        )
}

/// The documents route takes uploads (up to the direct-upload limit).
pub(super) fn streaming_router(upload_max: u64) -> Router<AppState> {
    Router::new().route(
        "/knowledge/collections/{collection_id}/documents",
        post(add_document).layer(RequestBodyLimitLayer::new(
            usize::try_from(upload_max + 64 * 1024).unwrap_or(usize::MAX),
        )),
    )
}

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

fn collection_json(c: &Collection) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "created_by": c.created_by,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    })
}

fn document_json(d: &Document) -> Value {
    json!({
        "id": d.id,
        "collection_id": d.collection_id,
        "stored_object_id": d.stored_object_id,
        "filename": d.filename,
        "content_type": d.content_type,
        "status": d.status.as_str(),
        "error": d.error,
        "chunk_count": d.chunk_count,
        "embedded": d.embedded,
        "attempts": d.attempts,
        "created_by": d.created_by,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
    })
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
    let found = service::collections(&state.platform, &user, cursor, limit + 1).await?;
    let more = found.len() > limit as usize;
    let page: Vec<&Collection> = found.iter().take(limit as usize).collect();
    Ok(AxumJson(json!({
        "collections": page.iter().map(|c| collection_json(c)).collect::<Vec<_>>(),
        "next_cursor": if more { page.last().map(|c| c.id.clone()) } else { None },
    })))
}

async fn create(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(unknown) = body
        .keys()
        .find(|k| !["name", "description"].contains(&k.as_str()))
    {
        return Err(ApiError::Unprocessable(format!(
            "invalid field {unknown}: a collection has a name and a description"
        )));
    }
    let name = string(&body, "name", 1000)?
        .ok_or_else(|| ApiError::Unprocessable("invalid field name: required".into()))?;
    let description = string(&body, "description", 10_000)?;
    let c = service::create_collection(&state.platform, &user, name, description).await?;
    Ok(AxumJson(json!({"collection": collection_json(&c)})))
}

async fn fetch(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let c =
        service::collection(&state.platform, &crate::ids::OrgId::from(&user.org_id), &id).await?;
    Ok(AxumJson(json!({"collection": collection_json(&c)})))
}

async fn remove(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    service::delete_collection(&state.platform, &user, &id).await?;
    Ok(AxumJson(json!({"deleted": true, "id": id})))
}

async fn add_document(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(collection_id): Path<String>,
    req: Request,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    // Before any bytes are taken: the collection must exist.
    service::collection(
        &state.platform,
        &crate::ids::OrgId::from(&user.org_id),
        &collection_id,
    )
    .await?;
    let object = if is_content_type(req.headers(), "multipart/form-data") {
        let multipart = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::InvalidRequest(format!("malformed multipart body: {e}")))?;
        receive_upload(&state, &user, multipart).await?
    } else if is_content_type(req.headers(), "application/json") {
        let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(16 * 1024))?;
        let body: Map<String, Value> = parse_json(&bytes)?;
        if let Some(unknown) = body.keys().find(|k| *k != "stored_object_id") {
            return Err(ApiError::Unprocessable(format!(
                "invalid field {unknown}: send {{stored_object_id}}, or upload the file as multipart"
            )));
        }
        let id = string(&body, "stored_object_id", 100)?.ok_or_else(|| {
            ApiError::Unprocessable("invalid field stored_object_id: required".into())
        })?;
        storage::get(&state.platform, &user, &id).await?
    } else {
        return Err(ApiError::BadRequest {
            code: "unsupported_content_type",
            message: "send application/json {stored_object_id}, or multipart/form-data with a \
                      file part"
                .into(),
        });
    };
    let d = service::add_document(&state.platform, &user, &collection_id, &object).await?;
    Ok((
        StatusCode::ACCEPTED,
        AxumJson(json!({"document": document_json(&d)})),
    ))
}

async fn document(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((collection_id, id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let d = service::document(&state.platform, &user, &collection_id, &id).await?;
    Ok(AxumJson(json!({"document": document_json(&d)})))
}

async fn remove_document(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path((collection_id, id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    service::delete_document(&state.platform, &user, &collection_id, &id).await?;
    Ok(AxumJson(json!({"deleted": true, "id": id})))
}
