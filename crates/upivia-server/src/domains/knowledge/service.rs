//! The rules of knowledge. Every member of an organisation creates
//! collections and adds documents; deleting one is for an admin or whoever
//! created it. A document is always a live stored object of the same
//! organisation (an upload to the documents route is stored first), so
//! its bytes have one home and one quota.

use serde_json::json;

use super::super::DomainError;
use crate::governance::trail;
use crate::ids::{self, OrgId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{Collection, Document, DocumentStatus, ObjectStatus, StoredObject};

pub const COLLECTION_PREFIX: &str = "kcol";
pub const DOCUMENT_PREFIX: &str = "kdoc";
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 2000;

fn event(user: &UserPrincipal, kind: &str, details: serde_json::Value) -> AuditEvent {
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id)).with_details(details)
}

pub async fn create_collection(
    platform: &Platform,
    user: &UserPrincipal,
    name: String,
    description: Option<String>,
) -> Result<Collection, DomainError> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(DomainError::Invalid(format!(
            "invalid field name: required, at most {MAX_NAME} characters"
        )));
    }
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION)
    {
        return Err(DomainError::Invalid(format!(
            "invalid field description: at most {MAX_DESCRIPTION} characters"
        )));
    }
    let now = platform.clock.now();
    let c = Collection {
        id: ids::new_id(COLLECTION_PREFIX),
        org_id: user.org_id.clone(),
        name,
        description,
        created_by: trail::user_actor(&user.user_id),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let audit = event(
        user,
        "knowledge.collection_created",
        json!({"collection_id": c.id, "name": c.name}),
    );
    Ok(platform
        .stores
        .knowledge
        .create_collection(c, audit)
        .await?)
}

/// A live collection of the caller's organisation.
pub async fn collection(
    platform: &Platform,
    org: &OrgId,
    id: &str,
) -> Result<Collection, DomainError> {
    platform
        .stores
        .knowledge
        .collection(org, id)
        .await?
        .ok_or(DomainError::NotFound("collection"))
}

pub async fn collections(
    platform: &Platform,
    user: &UserPrincipal,
    before: Option<String>,
    limit: u32,
) -> Result<Vec<Collection>, DomainError> {
    Ok(platform
        .stores
        .knowledge
        .collections(&OrgId::from(&user.org_id), before, limit)
        .await?)
}

fn may_delete(user: &UserPrincipal, created_by: &str, what: &str) -> Result<(), DomainError> {
    if user.role >= Role::Admin || created_by == trail::user_actor(&user.user_id) {
        return Ok(());
    }
    Err(DomainError::Forbidden(format!(
        "only an admin or whoever created the {what} may delete it"
    )))
}

pub async fn delete_collection(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<(), DomainError> {
    let org = OrgId::from(&user.org_id);
    let c = collection(platform, &org, id).await?;
    may_delete(user, &c.created_by, "collection")?;
    let audit = event(
        user,
        "knowledge.collection_deleted",
        json!({"collection_id": c.id, "name": c.name}),
    );
    platform
        .stores
        .knowledge
        .delete_collection(&org, &c.id, platform.clock.now(), audit)
        .await
        .map_err(DomainError::missing("collection"))
}

/// Registers a live stored object as a document, pending ingestion.
pub async fn add_document(
    platform: &Platform,
    user: &UserPrincipal,
    collection_id: &str,
    object: &StoredObject,
) -> Result<Document, DomainError> {
    let org = OrgId::from(&user.org_id);
    let c = collection(platform, &org, collection_id).await?;
    if object.org_id != user.org_id {
        return Err(DomainError::NotFound("object"));
    }
    if object.status != ObjectStatus::Live {
        return Err(DomainError::Conflict {
            code: "object_not_live",
            message: format!(
                "object {} is {}: confirm its upload first",
                object.id,
                object.status.as_str()
            ),
        });
    }
    let now = platform.clock.now();
    let d = Document {
        id: ids::new_id(DOCUMENT_PREFIX),
        org_id: user.org_id.clone(),
        collection_id: c.id.clone(),
        stored_object_id: object.id.clone(),
        filename: object.filename.clone(),
        content_type: object.content_type.clone(),
        status: DocumentStatus::Pending,
        error: None,
        chunk_count: 0,
        embedded: false,
        attempts: 0,
        lease_until: None,
        created_by: trail::user_actor(&user.user_id),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let audit = event(
        user,
        "knowledge.document_added",
        json!({"collection_id": c.id, "document_id": d.id, "object_id": object.id,
               "filename": object.filename}),
    );
    let d = platform.stores.knowledge.create_document(d, audit).await?;
    super::ingest::kick(platform);
    Ok(d)
}

pub async fn document(
    platform: &Platform,
    user: &UserPrincipal,
    collection_id: &str,
    id: &str,
) -> Result<Document, DomainError> {
    let org = OrgId::from(&user.org_id);
    collection(platform, &org, collection_id).await?;
    platform
        .stores
        .knowledge
        .document(&org, collection_id, id)
        .await?
        .ok_or(DomainError::NotFound("document"))
}

pub async fn delete_document(
    platform: &Platform,
    user: &UserPrincipal,
    collection_id: &str,
    id: &str,
) -> Result<(), DomainError> {
    let d = document(platform, user, collection_id, id).await?;
    may_delete(user, &d.created_by, "document")?;
    let audit = event(
        user,
        "knowledge.document_deleted",
        json!({"collection_id": d.collection_id, "document_id": d.id}),
    );
    platform
        .stores
        .knowledge
        .delete_document(
            &OrgId::from(&user.org_id),
            collection_id,
            &d.id,
            platform.clock.now(),
            audit,
        )
        .await
        .map_err(DomainError::missing("document"))
}
