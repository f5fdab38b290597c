//! The rules of storage. Every member of an organisation uploads, lists,
//! reads and downloads its objects; deleting and restoring one is for an
//! admin or whoever created it. Each change writes its audit event in the
//! transaction that makes it. An upload's bytes go to a fresh blob key,
//! and the row is pointed at them only afterwards, so sealed bytes are
//! never overwritten (a PUT racing a confirm loses, and its bytes are
//! deleted).

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::super::DomainError;
use super::blobs::{BlobError, BlobWriter, Written};
use super::signing::{Grant, UrlError};
use crate::governance::trail;
use crate::ids::{self, OrgId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    Admitted, ChangeObject, NewObject, ObjectStatus, RecordUpload, Recorded, StoredObject,
};

pub const OBJECT_PREFIX: &str = "obj";
const MAX_FILENAME: usize = 255;
const MAX_CONTENT_TYPE: usize = 200;
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// Download URL lifetimes: the default, and the longest one asked for.
pub const DOWNLOAD_TTL_DEFAULT: i64 = 600;
pub const DOWNLOAD_TTL_MAX: i64 = 7 * 24 * 3600;

fn event(user: &UserPrincipal, kind: &str, o: &StoredObject) -> AuditEvent {
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id)).with_details(json!({
        "object_id": o.id,
        "filename": o.filename,
        "size_bytes": o.size_bytes,
        "sha256": o.sha256,
    }))
}

/// A file name as stored: its last path segment, control characters
/// dropped, at most 255 characters; empty is refused.
pub fn filename(raw: &str) -> Result<String, DomainError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return Err(DomainError::Invalid(
            "invalid field filename: required, a file name".into(),
        ));
    }
    if clean.chars().count() > MAX_FILENAME {
        return Err(DomainError::Invalid(format!(
            "invalid field filename: at most {MAX_FILENAME} characters"
        )));
    }
    Ok(clean.to_owned())
}

/// A media type `type/subtype` (parameters kept), lowercase type.
pub fn content_type(raw: Option<&str>) -> Result<String, DomainError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(DEFAULT_CONTENT_TYPE.to_owned());
    };
    let bad = || {
        DomainError::Invalid(format!(
            "invalid field contentType: {raw:?} is not a media type like text/plain"
        ))
    };
    if raw.len() > MAX_CONTENT_TYPE || !raw.is_ascii() || raw.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    let essence = raw.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match essence.split_once('/') {
        Some((t, sub)) if token(t) && token(sub) => Ok(raw.to_ascii_lowercase()),
        _ => Err(bad()),
    }
}

fn blob_key(org: &str, id: &str) -> String {
    // A fresh key per upload: an object's sealed bytes are never rewritten.
    format!(
        "{org}/{id}/{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    )
}

fn over_quota(quota: i64, used: i64, wanted: i64) -> DomainError {
    DomainError::TooLarge {
        code: "storage_quota_exceeded",
        message: format!(
            "the organisation's storage quota is {quota} bytes and {used} are in use; this \
             object needs {wanted} (deleted files count until they are purged)"
        ),
    }
}

fn blob_failed(e: BlobError) -> DomainError {
    DomainError::Store(crate::store::StoreError::Unavailable(Box::new(e)))
}

/// A direct upload being received.
pub struct Upload {
    pub id: String,
    key: String,
    pub writer: BlobWriter,
    /// Whether the writer's limit is the quota's (else the upload limit).
    quota_bound: bool,
}

/// Starts a direct upload: where its bytes go and how many it may have.
pub async fn begin_upload(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Upload, DomainError> {
    let storage = &platform.storage;
    let org = OrgId::from(&user.org_id);
    let used = platform.stores.storage.storage_used(&org).await?;
    let room = u64::try_from(storage.settings.quota_bytes.saturating_sub(used)).unwrap_or(0);
    let max = storage.settings.upload_max_bytes;
    let id = ids::new_id(OBJECT_PREFIX);
    let key = blob_key(&user.org_id, &id);
    let writer = storage
        .blobs
        .writer(&key, room.min(max))
        .await
        .map_err(blob_failed)?;
    Ok(Upload {
        id,
        key,
        writer,
        quota_bound: room < max,
    })
}

impl Upload {
    /// What the upload stopped at, for [`upload_refused`] (which must not
    /// hold the writer across its await).
    pub fn stopped(&self) -> (bool, u64) {
        (self.quota_bound, self.writer.written())
    }
}

/// Why a write stopped, as the caller sees it; `stopped` is
/// [`Upload::stopped`].
pub async fn upload_refused(
    platform: &Platform,
    user: &UserPrincipal,
    (quota_bound, written): (bool, u64),
    e: BlobError,
) -> DomainError {
    match e {
        BlobError::TooLarge(_) if quota_bound => {
            let used = platform
                .stores
                .storage
                .storage_used(&OrgId::from(&user.org_id))
                .await
                .unwrap_or_default();
            over_quota(platform.storage.settings.quota_bytes, used, written as i64)
        }
        BlobError::TooLarge(max) => DomainError::TooLarge {
            code: "payload_too_large",
            message: format!(
                "a direct upload is at most {max} bytes; presign larger files (POST \
                 /storage/objects with JSON) and PUT them to the upload URL"
            ),
        },
        BlobError::Body(m) => DomainError::Invalid(format!("the upload broke off: {m}")),
        other => blob_failed(other),
    }
}

/// Records a finished direct upload as a live object.
pub async fn finish_upload(
    platform: &Platform,
    user: &UserPrincipal,
    upload: Upload,
    filename: String,
    content_type: String,
) -> Result<StoredObject, DomainError> {
    let Upload {
        id, key, writer, ..
    } = upload;
    let Written { size, sha256 } = writer.finish().await.map_err(blob_failed)?;
    let now = platform.clock.now();
    let object = StoredObject {
        id,
        org_id: user.org_id.clone(),
        filename,
        content_type,
        size_bytes: size as i64,
        sha256: Some(sha256),
        status: ObjectStatus::Live,
        blob_key: Some(key.clone()),
        uploaded_sha256: None,
        upload_expires_at: None,
        created_by: trail::user_actor(&user.user_id),
        created_at: now,
        updated_at: now,
        sealed_at: Some(now),
        deleted_at: None,
        purged_at: None,
    };
    let audit = event(user, "storage.object_uploaded", &object);
    admit(platform, object, audit, &key).await
}

async fn admit(
    platform: &Platform,
    object: StoredObject,
    audit: AuditEvent,
    key: &str,
) -> Result<StoredObject, DomainError> {
    let quota = platform.storage.settings.quota_bytes;
    let wanted = object.size_bytes;
    let admitted = platform
        .stores
        .storage
        .create_object(NewObject {
            object,
            quota_bytes: quota,
            audit,
        })
        .await;
    match admitted {
        Ok(Admitted::Created(o)) => Ok(*o),
        Ok(Admitted::OverQuota { used }) => {
            discard(platform, key).await;
            Err(over_quota(quota, used, wanted))
        }
        Err(e) => {
            discard(platform, key).await;
            Err(e.into())
        }
    }
}

async fn discard(platform: &Platform, key: &str) {
    if let Err(e) = platform.storage.blobs.delete(key).await {
        tracing::warn!(error = %e, "could not delete the bytes of a refused upload");
    }
}

/// A presigned upload: the pending object, its upload URL's query, and
/// when that URL stops working.
pub struct Presigned {
    pub object: StoredObject,
    pub query: String,
    pub expires_at: OffsetDateTime,
}

pub async fn presign(
    platform: &Platform,
    user: &UserPrincipal,
    filename: String,
    content_type: String,
    size: i64,
) -> Result<Presigned, DomainError> {
    let max = platform.storage.settings.presign_max_bytes;
    if size < 0 || size as u64 > max {
        return Err(DomainError::TooLarge {
            code: "payload_too_large",
            message: format!("invalid field sizeBytes: a presigned upload is at most {max} bytes"),
        });
    }
    let now = platform.clock.now();
    let expires_at = now + platform.storage.settings.upload_url_ttl;
    let object = StoredObject {
        id: ids::new_id(OBJECT_PREFIX),
        org_id: user.org_id.clone(),
        filename,
        content_type,
        size_bytes: size,
        sha256: None,
        status: ObjectStatus::Pending,
        blob_key: None,
        uploaded_sha256: None,
        upload_expires_at: Some(expires_at),
        created_by: trail::user_actor(&user.user_id),
        created_at: now,
        updated_at: now,
        sealed_at: None,
        deleted_at: None,
        purged_at: None,
    };
    let audit = event(user, "storage.object_presigned", &object);
    let object = admit(platform, object, audit, "").await?;
    let query = platform.storage.signer.query(
        Grant::Put {
            id: &object.id,
            size: object.size_bytes,
        },
        expires_at,
    );
    Ok(Presigned {
        object,
        query,
        expires_at,
    })
}

fn url_refused(e: UrlError) -> DomainError {
    match e {
        UrlError::BadSignature => {
            DomainError::Unauthenticated("the URL's signature does not match")
        }
        UrlError::Expired => DomainError::Gone {
            code: "url_expired",
            message: "the URL has expired; ask for a new one".into(),
        },
    }
}

/// A presigned PUT being received.
pub struct Put {
    pub object: StoredObject,
    key: String,
    pub writer: BlobWriter,
}

/// Checks a presigned PUT's URL and starts taking its bytes (at most the
/// declared size; the caller checks it got exactly that many).
pub async fn begin_put(
    platform: &Platform,
    id: &str,
    expires: i64,
    sig: &str,
) -> Result<Put, DomainError> {
    let object = platform
        .stores
        .storage
        .object_by_id(id)
        .await?
        .ok_or(DomainError::NotFound("object"))?;
    platform
        .storage
        .signer
        .verify(
            Grant::Put {
                id: &object.id,
                size: object.size_bytes,
            },
            expires,
            sig,
            platform.clock.now(),
        )
        .map_err(url_refused)?;
    if object.status != ObjectStatus::Pending {
        return Err(sealed(&object));
    }
    let key = blob_key(&object.org_id, &object.id);
    let writer = platform
        .storage
        .blobs
        .writer(&key, object.size_bytes as u64)
        .await
        .map_err(blob_failed)?;
    Ok(Put {
        object,
        key,
        writer,
    })
}

fn sealed(o: &StoredObject) -> DomainError {
    DomainError::Conflict {
        code: "object_not_pending",
        message: format!(
            "object {} is {}: its upload URL no longer takes bytes",
            o.id,
            o.status.as_str()
        ),
    }
}

/// Records a PUT's bytes as the pending object's upload.
pub async fn finish_put(platform: &Platform, put: Put) -> Result<Written, DomainError> {
    let Put {
        object,
        key,
        writer,
    } = put;
    let got = writer.written();
    if got != object.size_bytes as u64 {
        let mut writer = writer;
        writer.abort().await;
        return Err(DomainError::Invalid(format!(
            "the upload is {got} bytes; this URL takes exactly {}",
            object.size_bytes
        )));
    }
    let written = writer.finish().await.map_err(blob_failed)?;
    let recorded = platform
        .stores
        .storage
        .record_upload(RecordUpload {
            id: object.id.clone(),
            blob_key: key.clone(),
            sha256: written.sha256.clone(),
            now: platform.clock.now(),
        })
        .await;
    match recorded {
        Ok(Recorded::Recorded { replaced }) => {
            if let Some(old) = replaced {
                discard(platform, &old).await;
            }
            Ok(written)
        }
        Ok(Recorded::NotPending) => {
            discard(platform, &key).await;
            Err(sealed(&object))
        }
        Err(e) => {
            discard(platform, &key).await;
            Err(e.into())
        }
    }
}

/// An object of the caller's organisation, whatever its status (purged
/// ones are gone).
pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<StoredObject, DomainError> {
    platform
        .stores
        .storage
        .object(&OrgId::from(&user.org_id), id)
        .await?
        .filter(|o| o.status != ObjectStatus::Purged)
        .ok_or(DomainError::NotFound("object"))
}

pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    before: Option<String>,
    limit: u32,
) -> Result<Vec<StoredObject>, DomainError> {
    Ok(platform
        .stores
        .storage
        .objects(&OrgId::from(&user.org_id), before, limit)
        .await?)
}

/// Seals a presigned upload; a given `sha256` must be what arrived.
pub async fn confirm(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    sha256: Option<String>,
) -> Result<StoredObject, DomainError> {
    let o = get(platform, user, id).await?;
    if let Some(given) = &sha256
        && (given.len() != 64 || !given.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(DomainError::Invalid(
            "invalid field sha256: 64 hexadecimal digits".into(),
        ));
    }
    let given = sha256.map(|s| s.to_ascii_lowercase());
    match o.status {
        // Confirming again answers the same, unless the hash disagrees.
        ObjectStatus::Live if given.is_none() || given == o.sha256 => return Ok(o),
        ObjectStatus::Live => return Err(mismatch(&o, o.sha256.as_deref())),
        ObjectStatus::Pending => {}
        _ => return Err(sealed(&o)),
    }
    let (Some(key), Some(actual)) = (&o.blob_key, &o.uploaded_sha256) else {
        return Err(DomainError::Conflict {
            code: "upload_missing",
            message: format!(
                "object {} has no bytes yet: PUT them to its upload URL",
                o.id
            ),
        });
    };
    if given.as_ref().is_some_and(|g| g != actual) {
        return Err(mismatch(&o, Some(actual)));
    }
    let mut sealed_view = o.clone();
    sealed_view.sha256 = Some(actual.clone());
    let changed = platform
        .stores
        .storage
        .change_object(ChangeObject {
            org_id: OrgId::from(&user.org_id),
            id: o.id.clone(),
            from: ObjectStatus::Pending,
            to: ObjectStatus::Live,
            expect_blob_key: Some(key.clone()),
            sha256: Some(actual.clone()),
            now: platform.clock.now(),
            audit: Some(event(user, "storage.object_confirmed", &sealed_view)),
        })
        .await?;
    changed.ok_or_else(|| DomainError::Conflict {
        code: "upload_changed",
        message: format!(
            "object {} changed while it was confirmed (another upload or a delete); read it \
             and confirm again",
            o.id
        ),
    })
}

fn mismatch(o: &StoredObject, actual: Option<&str>) -> DomainError {
    DomainError::Conflict {
        code: "sha256_mismatch",
        message: format!(
            "the bytes of object {} hash to {}, not the sha256 given; the object stays {}",
            o.id,
            actual.unwrap_or("nothing"),
            o.status.as_str()
        ),
    }
}

/// A download URL's query for a live object, valid `ttl_secs`.
pub async fn download(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    ttl_secs: i64,
) -> Result<(StoredObject, String, OffsetDateTime), DomainError> {
    let o = get(platform, user, id).await?;
    let Some(key) = o
        .blob_key
        .as_deref()
        .filter(|_| o.status == ObjectStatus::Live)
    else {
        return Err(DomainError::Conflict {
            code: "object_not_live",
            message: format!(
                "object {} is {}: only live objects download",
                o.id,
                o.status.as_str()
            ),
        });
    };
    let expires_at = platform.clock.now() + Duration::seconds(ttl_secs);
    let query = platform.storage.signer.query(
        Grant::Get {
            id: &o.id,
            blob_key: key,
        },
        expires_at,
    );
    Ok((o.clone(), query, expires_at))
}

/// The live object a signed download URL names.
pub async fn open_download(
    platform: &Platform,
    id: &str,
    expires: i64,
    sig: &str,
) -> Result<StoredObject, DomainError> {
    let o = platform
        .stores
        .storage
        .object_by_id(id)
        .await?
        .ok_or(DomainError::NotFound("object"))?;
    // The signature binds the exact bytes; an object without bytes has
    // nothing a signature could name.
    let key = o.blob_key.clone().unwrap_or_default();
    platform
        .storage
        .signer
        .verify(
            Grant::Get {
                id: &o.id,
                blob_key: &key,
            },
            expires,
            sig,
            platform.clock.now(),
        )
        .map_err(url_refused)?;
    if o.status != ObjectStatus::Live {
        return Err(DomainError::NotFound("object"));
    }
    Ok(o)
}

fn may_change(user: &UserPrincipal, o: &StoredObject) -> Result<(), DomainError> {
    if user.role >= Role::Admin || o.created_by == trail::user_actor(&user.user_id) {
        return Ok(());
    }
    Err(DomainError::Forbidden(
        "only an admin or whoever uploaded the object may delete or restore it".into(),
    ))
}

/// Soft-deletes an object (live or pending), restorable for the window.
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<StoredObject, DomainError> {
    let o = get(platform, user, id).await?;
    may_change(user, &o)?;
    if o.status == ObjectStatus::Deleted {
        return Ok(o);
    }
    platform
        .stores
        .storage
        .change_object(ChangeObject {
            org_id: OrgId::from(&user.org_id),
            id: o.id.clone(),
            from: o.status,
            to: ObjectStatus::Deleted,
            expect_blob_key: None,
            sha256: None,
            now: platform.clock.now(),
            audit: Some(event(user, "storage.object_deleted", &o)),
        })
        .await?
        .ok_or_else(|| changed_meanwhile(&o))
}

fn changed_meanwhile(o: &StoredObject) -> DomainError {
    DomainError::Conflict {
        code: "object_changed",
        message: format!("object {} changed meanwhile; read it and try again", o.id),
    }
}

/// When a deleted object stops being restorable.
pub fn restorable_until(platform: &Platform, o: &StoredObject) -> Option<OffsetDateTime> {
    o.deleted_at
        .filter(|_| o.status == ObjectStatus::Deleted)
        .map(|at| at + platform.storage.settings.restore_window)
}

/// Undoes a delete within the window (410 after it).
pub async fn restore(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<StoredObject, DomainError> {
    let org = OrgId::from(&user.org_id);
    let o = platform
        .stores
        .storage
        .object(&org, id)
        .await?
        .ok_or(DomainError::NotFound("object"))?;
    may_change(user, &o)?;
    let gone = || DomainError::Gone {
        code: "restore_window_closed",
        message: format!(
            "object {} was deleted more than {} days ago; its bytes are purged",
            o.id,
            platform.storage.settings.restore_window.whole_days()
        ),
    };
    match o.status {
        ObjectStatus::Purged => return Err(gone()),
        ObjectStatus::Deleted => {}
        _ => {
            return Err(DomainError::Conflict {
                code: "not_deleted",
                message: format!("object {} is {}, not deleted", o.id, o.status.as_str()),
            });
        }
    }
    let now = platform.clock.now();
    if restorable_until(platform, &o).is_some_and(|until| now >= until) {
        return Err(gone());
    }
    let to = if o.sealed_at.is_some() {
        ObjectStatus::Live
    } else {
        ObjectStatus::Pending
    };
    platform
        .stores
        .storage
        .change_object(ChangeObject {
            org_id: org,
            id: o.id.clone(),
            from: ObjectStatus::Deleted,
            to,
            expect_blob_key: None,
            sha256: None,
            now,
            audit: Some(event(user, "storage.object_restored", &o)),
        })
        .await?
        .ok_or_else(|| changed_meanwhile(&o))
}

/// The whole bytes of a live object of `org_id` (for ingestion), at most
/// `max`.
pub async fn read_live(
    platform: &Platform,
    org_id: &OrgId,
    id: &str,
    max: u64,
) -> Result<(StoredObject, Vec<u8>), DomainError> {
    let o = platform
        .stores
        .storage
        .object(org_id, id)
        .await?
        .filter(|o| o.status == ObjectStatus::Live)
        .ok_or(DomainError::NotFound("object"))?;
    let key = o.blob_key.clone().ok_or(DomainError::NotFound("object"))?;
    match platform.storage.blobs.read_all(&key, max).await {
        Ok(bytes) => Ok((o, bytes)),
        Err(BlobError::TooLarge(max)) => Err(DomainError::TooLarge {
            code: "payload_too_large",
            message: format!(
                "object {} is larger than the {max} bytes ingestion takes",
                o.id
            ),
        }),
        Err(e) => Err(blob_failed(e)),
    }
}
