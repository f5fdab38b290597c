//! Audit rows on PostgreSQL: inserted unchained inside the transaction of
//! the change they record (`insert`), chained afterwards in commit order
//! by one node at a time (`start_chainer`), listed, verified, and the
//! chain's record (`audit_chains`).

use std::sync::Arc;

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::{PgStore, db_error};
use crate::audit::ChainRules;
use crate::ids;
use crate::model::{AuditEntry, AuditEvent};
use crate::store::{
    AuditChainState, AuditHead, AuditQuery, AuditVerification, StoreError, StoreResult,
};

/// Inserts `event` unchained; the sealer chains it once its transaction
/// and every older one have finished.
pub(super) async fn insert(
    conn: &mut PgConnection,
    event: &AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, org_id, event_type, actor, agent_id, service, operation, \
         status, request_id, cost_cents, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(ids::new_id(ids::AUDIT))
    .bind(&event.org_id)
    .bind(&event.event_type)
    .bind(&event.actor)
    .bind(&event.agent_id)
    .bind(&event.service)
    .bind(&event.operation)
    .bind(&event.status)
    .bind(&event.request_id)
    .bind(event.cost.map(|c| c.get()))
    .bind(event.details.to_string())
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

// TODO(issue 8, PostgreSQL audit): everything below is filled in by the
// audit part of the PostgreSQL backend; until then the server refuses to
// start on PostgreSQL rather than run without a chain.

fn not_yet(what: &str) -> StoreError {
    StoreError::Other(format!("{what} is not available on PostgreSQL yet").into())
}

pub(super) fn start_chainer(_store: &Arc<PgStore>) {}

pub(super) async fn entries(_store: &PgStore, _q: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
    Err(not_yet("listing audit entries"))
}

pub(super) async fn verify(_store: &PgStore, _rules: ChainRules) -> StoreResult<AuditVerification> {
    Err(not_yet("verifying the audit chain"))
}

pub(super) async fn chain_state(_store: &PgStore) -> StoreResult<Option<AuditChainState>> {
    Err(not_yet("the audit chain record"))
}

// INTERIM (i8-pg-id, so a server starts on PostgreSQL before the audit
// part lands): claim_key and head as the chain record says; i8-pg-audit's
// versions replace both.
pub(super) async fn claim_key(store: &PgStore, key_id: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar(
        "UPDATE audit_chains SET mac_key_id = COALESCE(mac_key_id, $1) WHERE chain = 'global' \
         RETURNING mac_key_id",
    )
    .bind(key_id)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)
    .map(Option::flatten)
}

pub(super) async fn head(store: &PgStore) -> StoreResult<AuditHead> {
    let (seq, hash, keyed_from): (i64, String, i64) = sqlx::query_as(
        "SELECT head_seq, head_hash, keyed_from FROM audit_chains WHERE chain = 'global'",
    )
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?
    .ok_or(StoreError::NotFound)?;
    Ok(AuditHead {
        seq,
        hash,
        keyed_from,
    })
}

pub(super) async fn hash_at(_store: &PgStore, _seq: i64) -> StoreResult<Option<String>> {
    Err(not_yet("an audit hash"))
}

pub(super) async fn record_checkpoint(
    _store: &PgStore,
    _seq: i64,
    _at: OffsetDateTime,
) -> StoreResult<()> {
    Err(not_yet("recording a checkpoint"))
}
