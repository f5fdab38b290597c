//! `GovernanceStore` on PostgreSQL: each write one transaction with its
//! audit event (`tx::run`, retried on deadlock or serialization failure);
//! the SQL lives in `requests.rs`, `approvals.rs`, `ledger.rs` and
//! `usage.rs`, the audit methods in `audit.rs`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ledger::Posting;
use super::tx::{self, Step};
use super::{PgStore, approvals, audit, db_error, ledger, outcome_reviews, requests, usage};
use crate::ids::{AgentId, ApprovalId, OrgId, OutcomeReviewId, RequestId};
use crate::model::{
    Account, AccountTotals, Approval, ApprovalStatus, AuditEntry, AuditEvent, OutcomeReview,
    RequestStatus, ReviewStatus, ServiceRequest,
};
use crate::store::*;

#[async_trait]
impl GovernanceStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        self.ping_shared().await
    }

    async fn idempotency(
        &self,
        agent_id: &AgentId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        requests::idempotency(self, agent_id.as_str(), key).await
    }

    async fn purge_idempotency_keys(
        &self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<usize> {
        requests::purge_idempotency(self, created_before, limit).await
    }

    async fn open_request(&self, open: OpenRequest) -> StoreResult<Opened> {
        let arg = (open, self.node_id.clone(), ledger::Reach::default());
        tx::run(&self.pool, &arg, requests::open).await
    }

    async fn daily_count(&self, limit: &DailyLimit) -> StoreResult<u32> {
        let count: Option<i64> =
            sqlx::query_scalar("SELECT count FROM daily_counts WHERE key = $1")
                .bind(requests::limit_key(limit))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(count.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn finish_request(&self, finish: FinishRequest) -> StoreResult<ServiceRequest> {
        tx::run(&self.pool, &finish, requests::finish).await
    }

    async fn mark_provider_started(
        &self,
        request_id: &RequestId,
        provider: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        if !super::rows::storable(request_id.as_str()) {
            return Ok(());
        }
        sqlx::query(
            "UPDATE service_requests SET provider_started_at = COALESCE(provider_started_at, $2), provider = $3 \
             WHERE id = $1 AND status = 'executing'",
        )
        .bind(request_id.as_str())
        .bind(now)
        .bind(provider)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<ServiceRequest>> {
        requests::get_request(self, request_id.as_str()).await
    }

    async fn requests_in(
        &self,
        status: RequestStatus,
        limit: u32,
    ) -> StoreResult<Vec<ServiceRequest>> {
        requests::in_status(self, status, limit).await
    }

    async fn approval(&self, approval_id: &ApprovalId) -> StoreResult<Option<Approval>> {
        approvals::get(self, approval_id.as_str()).await
    }

    async fn approvals(
        &self,
        org_id: &OrgId,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>> {
        approvals::list(self, org_id.as_str(), status).await
    }

    async fn decide_approval(
        &self,
        decide: DecideApproval,
    ) -> StoreResult<Result<Decided, DecideRefusal>> {
        let arg = (decide, self.node_id.clone(), ledger::Reach::default());
        tx::run(&self.pool, &arg, approvals::decide).await
    }

    async fn outcome_review(
        &self,
        review_id: &OutcomeReviewId,
    ) -> StoreResult<Option<OutcomeReview>> {
        outcome_reviews::get(self, review_id.as_str()).await
    }

    async fn outcome_reviews(
        &self,
        org_id: &OrgId,
        status: Option<ReviewStatus>,
    ) -> StoreResult<Vec<OutcomeReview>> {
        outcome_reviews::list(self, org_id.as_str(), status).await
    }

    async fn expired_approvals(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Approval>> {
        approvals::expired(self, now, limit).await
    }

    async fn credit(&self, credit: Credit) -> StoreResult<AccountTotals> {
        tx::run(&self.pool, &credit, |c, credit| {
            Box::pin(async move {
                let posting = Posting {
                    org_id: credit.org_id.as_str(),
                    request_id: None,
                    note: Some(&credit.note),
                    now: credit.now,
                    transfer_id: None,
                };
                let totals = ledger::credit(c, &credit.account, credit.amount, &posting).await?;
                audit::insert(c, &credit.audit, credit.now).await?;
                Ok(Step::Commit(totals))
            })
        })
        .await
    }

    async fn transfer(&self, command: TransferCommand) -> StoreResult<Moved> {
        tx::run(&self.pool, &command, |c, command| {
            Box::pin(async move {
                let moved = ledger::transfer(c, &command.transfer, command.now).await?;
                if matches!(moved, Moved::Short { .. }) {
                    return Ok(Step::Rollback(moved));
                }
                audit::insert(c, &command.audit, command.now).await?;
                Ok(Step::Commit(moved))
            })
        })
        .await
    }

    async fn totals(&self, account: Account) -> StoreResult<AccountTotals> {
        ledger::totals(self, &account).await
    }

    async fn usage(&self, query: UsageQuery) -> StoreResult<UsagePage> {
        usage::page(self, &query).await
    }

    async fn usage_summary(
        &self,
        query: UsageQuery,
        days_from: OffsetDateTime,
    ) -> StoreResult<UsageSummary> {
        usage::summary(self, &query, days_from).await
    }

    async fn check_ledger(&self) -> StoreResult<LedgerReport> {
        ledger::check(self).await
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
        sqlx::query(
            "INSERT INTO worker_heartbeats (worker, beat_at) VALUES ($1, $2) \
             ON CONFLICT (worker) DO UPDATE SET beat_at = excluded.beat_at",
        )
        .bind(worker)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn last_heartbeat(&self, worker: &str) -> StoreResult<Option<OffsetDateTime>> {
        sqlx::query_scalar("SELECT beat_at FROM worker_heartbeats WHERE worker = $1")
            .bind(worker)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }
}
