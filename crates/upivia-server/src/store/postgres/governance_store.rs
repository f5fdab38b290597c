//! `GovernanceStore` on PostgreSQL: each method one transaction; the
//! audit methods live in `audit.rs`.
#![allow(unused_variables)] // until the methods below are filled in

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{PgStore, audit, db_error};
use crate::ids::{AgentId, ApprovalId, OrgId, RequestId};
use crate::model::{
    Account, AccountTotals, Approval, ApprovalStatus, AuditEntry, AuditEvent, RequestStatus,
    ServiceRequest,
};
use crate::store::*;

// TODO(issue 8, PostgreSQL governance): the hot path's methods are filled
// in by the governance part of the PostgreSQL backend.
fn not_yet(what: &str) -> StoreError {
    StoreError::Other(format!("{what} is not available on PostgreSQL yet").into())
}

#[async_trait]
impl GovernanceStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn idempotency(
        &self,
        _agent_id: &AgentId,
        _key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        Err(not_yet("idempotency"))
    }

    async fn purge_idempotency_keys(
        &self,
        _created_before: OffsetDateTime,
        _limit: u32,
    ) -> StoreResult<usize> {
        Err(not_yet("purge_idempotency_keys"))
    }

    async fn open_request(&self, open: OpenRequest) -> StoreResult<Opened> {
        Err(not_yet("open_request"))
    }

    async fn finish_request(&self, finish: FinishRequest) -> StoreResult<ServiceRequest> {
        Err(not_yet("finish_request"))
    }

    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<ServiceRequest>> {
        Err(not_yet("request"))
    }

    async fn requests_in(
        &self,
        _status: RequestStatus,
        _limit: u32,
    ) -> StoreResult<Vec<ServiceRequest>> {
        Err(not_yet("requests_in"))
    }

    async fn approval(&self, approval_id: &ApprovalId) -> StoreResult<Option<Approval>> {
        Err(not_yet("approval"))
    }

    async fn approvals(
        &self,
        _org_id: &OrgId,
        _status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>> {
        Err(not_yet("approvals"))
    }

    async fn decide_approval(
        &self,
        _decide: DecideApproval,
    ) -> StoreResult<Result<Decided, DecideRefusal>> {
        Err(not_yet("decide_approval"))
    }

    async fn expired_approvals(
        &self,
        _now: OffsetDateTime,
        _limit: u32,
    ) -> StoreResult<Vec<Approval>> {
        Err(not_yet("expired_approvals"))
    }

    async fn credit(&self, credit: Credit) -> StoreResult<AccountTotals> {
        Err(not_yet("credit"))
    }

    async fn totals(&self, account: Account) -> StoreResult<AccountTotals> {
        Err(not_yet("totals"))
    }

    async fn usage(&self, query: UsageQuery) -> StoreResult<UsagePage> {
        Err(not_yet("usage"))
    }

    async fn usage_summary(
        &self,
        _query: UsageQuery,
        _days_from: OffsetDateTime,
    ) -> StoreResult<UsageSummary> {
        Err(not_yet("usage_summary"))
    }

    async fn check_ledger(&self) -> StoreResult<LedgerReport> {
        Err(not_yet("check_ledger"))
    }

    async fn audit_entries(&self, query: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        audit::entries(self, query).await
    }

    async fn append_audit(&self, event: AuditEvent, now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        audit::insert(&mut tx, &event, now).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn verify_audit(
        &self,
        rules: crate::audit::ChainRules,
    ) -> StoreResult<AuditVerification> {
        audit::verify(self, rules).await
    }

    async fn audit_chain(&self) -> StoreResult<Option<AuditChainState>> {
        audit::chain_state(self).await
    }

    async fn claim_audit_key(&self, key_id: &str) -> StoreResult<Option<String>> {
        audit::claim_key(self, key_id).await
    }

    async fn audit_head(&self) -> StoreResult<AuditHead> {
        audit::head(self).await
    }

    async fn audit_hash_at(&self, seq: i64) -> StoreResult<Option<String>> {
        audit::hash_at(self, seq).await
    }

    async fn record_audit_checkpoint(&self, seq: i64, at: OffsetDateTime) -> StoreResult<()> {
        audit::record_checkpoint(self, seq, at).await
    }

    async fn audit_checkpoints(&self, newest: Option<u32>) -> StoreResult<Option<Vec<String>>> {
        audit::checkpoints(self, newest).await.map(Some)
    }

    async fn seal_audit(
        &self,
        sign: &SignHead<'_>,
        now: OffsetDateTime,
    ) -> StoreResult<SharedSeal> {
        audit::seal(self, sign, now).await
    }

    async fn claim_audit_signing_key(&self, key_id: &str) -> StoreResult<Option<String>> {
        audit::claim_signing_key(self, key_id).await
    }

    async fn heartbeat(&self, worker: &str, now: OffsetDateTime) -> StoreResult<()> {
        Err(not_yet("heartbeat"))
    }

    async fn last_heartbeat(&self, worker: &str) -> StoreResult<Option<OffsetDateTime>> {
        Err(not_yet("last_heartbeat"))
    }
}
