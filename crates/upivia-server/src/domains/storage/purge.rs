//! Frees the bytes of objects deleted longer ago than the restore window,
//! and of presigned uploads abandoned a day past their URL's expiry. The
//! row is marked `purged` first (a conditional update: of two nodes one
//! wins, and a restore racing it fails cleanly), then the bytes are
//! deleted; a crash in between leaves bytes no row points at, never a row
//! pointing at no bytes.

use serde_json::json;

use crate::governance::trail;
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::platform::Platform;
use crate::store::{ChangeObject, ObjectStatus, StoreError};

const BATCH: u32 = 100;

/// One pass; how many objects were purged.
pub async fn tick(platform: &Platform) -> Result<usize, StoreError> {
    let now = platform.clock.now();
    let settings = &platform.storage.settings;
    let due = platform
        .stores
        .storage
        .purgeable_objects(
            now - settings.restore_window,
            now - settings.abandoned_after,
            BATCH,
        )
        .await?;
    let mut purged = 0;
    for o in due {
        let audit = AuditEvent::new(&o.org_id, "storage.object_purged", trail::SYSTEM)
            .with_details(json!({
                "object_id": o.id, "filename": o.filename, "size_bytes": o.size_bytes,
                "was": o.status.as_str(),
            }));
        let changed = platform
            .stores
            .storage
            .change_object(ChangeObject {
                org_id: OrgId::from(&o.org_id),
                id: o.id.clone(),
                from: o.status,
                to: ObjectStatus::Purged,
                expect_blob_key: None,
                sha256: None,
                now,
                audit: Some(audit),
            })
            .await?;
        if changed.is_none() {
            continue;
        }
        purged += 1;
        if let Some(key) = &o.blob_key
            && let Err(e) = platform.storage.blobs.delete(key).await
        {
            tracing::warn!(object_id = %o.id, error = %e, "purged object's bytes could not be deleted");
        }
    }
    Ok(purged)
}
