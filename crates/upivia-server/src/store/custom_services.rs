//! An organisation's private services: the operations it registered with
//! `platform.register_service`, each an endpoint the platform calls with a
//! named organisation secret. Only the secret's name is stored here.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::money::Cents;

/// How the platform authenticates to the endpoint, with which secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CustomAuth {
    /// `Authorization: Bearer <secret>`.
    Bearer { secret_ref: String },
    /// `<header>: <secret>`.
    Header { header: String, secret_ref: String },
}

impl CustomAuth {
    pub fn kind(&self) -> &'static str {
        match self {
            CustomAuth::Bearer { .. } => "bearer",
            CustomAuth::Header { .. } => "header",
        }
    }

    pub fn secret_ref(&self) -> &str {
        match self {
            CustomAuth::Bearer { secret_ref } | CustomAuth::Header { secret_ref, .. } => secret_ref,
        }
    }

    pub fn header(&self) -> Option<&str> {
        match self {
            CustomAuth::Bearer { .. } => None,
            CustomAuth::Header { header, .. } => Some(header),
        }
    }
}

/// One registered operation, `service.operation` of `org_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomOperation {
    pub org_id: OrgId,
    pub service: String,
    pub operation: String,
    pub description: String,
    pub endpoint: String,
    pub auth: CustomAuth,
    /// JSON Schema every payload must match before anything is held.
    pub request_schema: Value,
    /// Reserved before the call and charged when it succeeds.
    pub cost_estimate: Cents,
    /// The endpoint honours `Idempotency-Key`: a call a crash interrupted
    /// may be repeated (see `governance/recovery.rs`).
    pub idempotent: bool,
    /// The agent whose request registered (or last updated) it.
    pub registered_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Register a new operation, or change an existing one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutMode {
    /// `Conflict` when the operation exists.
    Create,
    /// `NotFound` when it does not; keeps `created_at`.
    Update,
}

#[async_trait]
pub trait CustomServiceStore: Send + Sync + 'static {
    async fn custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        operation: &str,
    ) -> StoreResult<Option<CustomOperation>>;
    /// Every operation of the organisation, by service then operation.
    async fn custom_operations(&self, org_id: &OrgId) -> StoreResult<Vec<CustomOperation>>;
    /// Writes `op` with its audit event, in one transaction.
    async fn put_custom_operation(
        &self,
        op: CustomOperation,
        mode: PutMode,
        audit: AuditEvent,
    ) -> StoreResult<CustomOperation>;
    /// Removes the operation and every binding of the organisation's agents
    /// to it (and to its whole service, when it was the service's last);
    /// `NotFound` when there is no such operation.
    async fn remove_custom_operation(
        &self,
        org_id: &OrgId,
        service: &str,
        operation: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
}
