//! Mapping between PostgreSQL rows and the governance records. Every
//! conversion is checked, so a bad row is a `Corrupt` error, never a panic.
//! The column lists are macros so that queries stay `&'static str`
//! (`concat!`), with nothing built at run time.

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

use super::error::corrupt;
use super::{StoreResult, db_error};
use crate::model::{
    Approval, ApprovalStatus, OutcomeReview, ReasonCode, RequestStatus, ReviewStatus,
    ServiceRequest, UsageRecord,
};
use crate::money::Cents;

/// `SELECT … FROM` a request (`r`) and its approval (`a`), for [`request`].
macro_rules! request_select {
    () => {
        "SELECT r.id, r.org_id, r.agent_id, r.binding_id, r.service, r.operation, r.payload, \
         r.metadata, r.payload_digest, r.status, r.reason_code, r.message, \
         r.estimated_cost_cents, r.initial_cost_cents, r.cost_cents, r.result, r.provider, \
         r.external_id, r.approval_id, r.idempotency_key, r.created_at, r.started_at, \
         r.updated_at, r.provider_started_at, a.expires_at AS approval_expires_at \
         FROM service_requests r LEFT JOIN approvals a ON a.id = r.approval_id"
    };
}
pub(super) use request_select;

/// `SELECT … FROM` an approval (`ap`), its request (`r`) and agent (`ag`),
/// for [`approval`].
macro_rules! approval_select {
    () => {
        "SELECT ap.id, ap.org_id, ap.agent_id, ag.name AS agent_name, ap.request_id, \
         r.service, r.operation, r.payload, ap.payload_digest, ap.status, \
         ap.estimated_cost_cents, ap.expires_at, ap.decided_at, ap.decided_by, ap.created_at \
         FROM approvals ap JOIN service_requests r ON r.id = ap.request_id \
         JOIN agents ag ON ag.id = ap.agent_id"
    };
}
pub(super) use approval_select;

/// `SELECT … FROM` an outcome review (`o`), its request (`r`) and agent
/// (`ag`), for [`review`].
macro_rules! review_select {
    () => {
        "SELECT o.id, o.org_id, o.agent_id, ag.name AS agent_name, o.request_id, \
         r.service, r.operation, r.payload, o.provider, o.held_cents, o.status, \
         o.charged_cents, o.decided_at, o.decided_by, o.created_at \
         FROM outcome_reviews o JOIN service_requests r ON r.id = o.request_id \
         JOIN agents ag ON ag.id = o.agent_id"
    };
}
pub(super) use review_select;

/// Whether `text` can be stored at all: PostgreSQL's text holds no NUL,
/// and binding one is an error. A lookup by such a key (a hostile id in a
/// path) finds nothing, without asking.
pub(super) fn storable(text: &str) -> bool {
    !text.contains('\0')
}

pub(super) fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(db_error)
}

pub(super) fn json(column: &str, raw: &str) -> StoreResult<Value> {
    serde_json::from_str(raw).map_err(|_| corrupt(format!("bad JSON in column {column}")))
}

fn json_col(row: &PgRow, column: &str) -> StoreResult<Value> {
    json(column, &get::<String>(row, column)?)
}

fn opt_json_col(row: &PgRow, column: &str) -> StoreResult<Option<Value>> {
    get::<Option<String>>(row, column)?
        .map(|raw| json(column, &raw))
        .transpose()
}

fn cents_col(row: &PgRow, column: &str) -> StoreResult<Cents> {
    Ok(Cents::new(get(row, column)?))
}

fn opt_cents_col(row: &PgRow, column: &str) -> StoreResult<Option<Cents>> {
    Ok(get::<Option<i64>>(row, column)?.map(Cents::new))
}

pub(super) fn request(row: &PgRow) -> StoreResult<ServiceRequest> {
    let status: String = get(row, "status")?;
    let reason: Option<String> = get(row, "reason_code")?;
    Ok(ServiceRequest {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        agent_id: get(row, "agent_id")?,
        binding_id: get(row, "binding_id")?,
        service: get(row, "service")?,
        operation: get(row, "operation")?,
        payload: json_col(row, "payload")?,
        metadata: opt_json_col(row, "metadata")?,
        payload_digest: get(row, "payload_digest")?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("bad request status {status:?}")))?,
        reason_code: reason
            .map(|r| ReasonCode::parse(&r).ok_or_else(|| corrupt(format!("bad reason code {r:?}"))))
            .transpose()?,
        message: get(row, "message")?,
        estimated_cost: cents_col(row, "estimated_cost_cents")?,
        initial_cost: opt_cents_col(row, "initial_cost_cents")?,
        cost: cents_col(row, "cost_cents")?,
        result: opt_json_col(row, "result")?,
        provider: get(row, "provider")?,
        external_id: get(row, "external_id")?,
        approval_id: get(row, "approval_id")?,
        approval_expires_at: get(row, "approval_expires_at")?,
        idempotency_key: get(row, "idempotency_key")?,
        created_at: get(row, "created_at")?,
        started_at: get(row, "started_at")?,
        updated_at: get(row, "updated_at")?,
        provider_started_at: get(row, "provider_started_at")?,
    })
}

pub(super) fn approval(row: &PgRow) -> StoreResult<Approval> {
    let status: String = get(row, "status")?;
    Ok(Approval {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        agent_id: get(row, "agent_id")?,
        agent_name: get(row, "agent_name")?,
        request_id: get(row, "request_id")?,
        service: get(row, "service")?,
        operation: get(row, "operation")?,
        payload: json_col(row, "payload")?,
        payload_digest: get(row, "payload_digest")?,
        status: ApprovalStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("bad approval status {status:?}")))?,
        estimated_cost: cents_col(row, "estimated_cost_cents")?,
        expires_at: get(row, "expires_at")?,
        decided_at: get(row, "decided_at")?,
        decided_by: get(row, "decided_by")?,
        created_at: get(row, "created_at")?,
    })
}

pub(super) fn review(row: &PgRow) -> StoreResult<OutcomeReview> {
    let status: String = get(row, "status")?;
    Ok(OutcomeReview {
        id: get(row, "id")?,
        org_id: get(row, "org_id")?,
        agent_id: get(row, "agent_id")?,
        agent_name: get(row, "agent_name")?,
        request_id: get(row, "request_id")?,
        service: get(row, "service")?,
        operation: get(row, "operation")?,
        payload: json_col(row, "payload")?,
        provider: get(row, "provider")?,
        held: cents_col(row, "held_cents")?,
        status: ReviewStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("bad review status {status:?}")))?,
        charged: opt_cents_col(row, "charged_cents")?,
        decided_at: get(row, "decided_at")?,
        decided_by: get(row, "decided_by")?,
        created_at: get(row, "created_at")?,
    })
}

/// A usage record from an executed request row (its id is the request's).
pub(super) fn usage_record(row: &PgRow) -> StoreResult<UsageRecord> {
    let id: String = get(row, "id")?;
    Ok(UsageRecord {
        request_id: id.clone(),
        id,
        agent_id: get(row, "agent_id")?,
        service: get(row, "service")?,
        operation: get(row, "operation")?,
        cost: cents_col(row, "cost_cents")?,
        created_at: get(row, "created_at")?,
    })
}
