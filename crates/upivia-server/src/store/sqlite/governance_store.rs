//! `GovernanceStore` on SQLite: the hot path's writes (opening and
//! finishing requests) are repeatable writer jobs; every other write runs
//! once, in its own savepoint; scans go to the blocking pool.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, db_error};
use rusqlite::params;

use super::{approvals, audit, ledger, outcome_reviews, requests, rows, usage};
use crate::ids::{AgentId, ApprovalId, OrgId, OutcomeReviewId, RequestId};
use crate::model::{
    Account, AccountTotals, Approval, ApprovalStatus, AuditEntry, AuditEvent, OutcomeReview,
    RequestStatus, ReviewStatus, ServiceRequest,
};
use crate::store::*;

#[async_trait]
impl GovernanceStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map_err(db_error)
                .map(drop)
        })
        .await?;
        // The writer answers too, so a wedged writer shows as unready.
        self.writer.write(|_| Ok(())).await
    }

    async fn idempotency(
        &self,
        agent_id: &AgentId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        self.lookup(|c| requests::idempotency(c, agent_id.as_str(), key))
    }

    async fn purge_idempotency_keys(
        &self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<usize> {
        self.writer
            .write(move |ctx| requests::purge_idempotency(ctx.conn, created_before, limit))
            .await
    }

    async fn open_request(&self, open: OpenRequest) -> StoreResult<Opened> {
        self.writer
            .write_repeatable(move |ctx| requests::open(ctx, &open))
            .await
    }

    async fn daily_count(&self, limit: &DailyLimit) -> StoreResult<u32> {
        let limit = limit.clone();
        self.read(move |c| requests::count_today(c, &limit)).await
    }

    async fn finish_request(&self, finish: FinishRequest) -> StoreResult<ServiceRequest> {
        self.writer
            .write_repeatable(move |ctx| requests::finish(ctx, finish.clone()))
            .await
    }

    async fn mark_provider_started(
        &self,
        request_id: &RequestId,
        provider: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let (id, provider) = (request_id.clone(), provider.to_owned());
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .prepare_cached(
                        "UPDATE service_requests SET provider_started_at = COALESCE(provider_started_at, ?2), provider = ?3 \
                         WHERE id = ?1 AND status = 'executing'",
                    )
                    .and_then(|mut s| s.execute(params![id.as_str(), rows::ts(now), provider]))
                    .map_err(db_error)?;
                Ok(())
            })
            .await
    }

    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<ServiceRequest>> {
        self.lookup(|c| requests::get(c, request_id.as_str()))
    }

    async fn requests_in(
        &self,
        status: RequestStatus,
        limit: u32,
    ) -> StoreResult<Vec<ServiceRequest>> {
        self.read(move |c| requests::in_status(c, status, limit))
            .await
    }

    async fn approval(&self, approval_id: &ApprovalId) -> StoreResult<Option<Approval>> {
        self.lookup(|c| approvals::get(c, approval_id.as_str()))
    }

    async fn approvals(
        &self,
        org_id: &OrgId,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>> {
        let o = org_id.clone();
        self.read(move |c| approvals::list(c, o.as_str(), status))
            .await
    }

    async fn decide_approval(
        &self,
        decide: DecideApproval,
    ) -> StoreResult<Result<Decided, DecideRefusal>> {
        self.writer
            .write(move |ctx| approvals::decide(ctx, decide))
            .await
    }

    async fn outcome_review(
        &self,
        review_id: &OutcomeReviewId,
    ) -> StoreResult<Option<OutcomeReview>> {
        self.lookup(|c| outcome_reviews::get(c, review_id.as_str()))
    }

    async fn outcome_reviews(
        &self,
        org_id: &OrgId,
        status: Option<ReviewStatus>,
    ) -> StoreResult<Vec<OutcomeReview>> {
        let o = org_id.clone();
        self.read(move |c| outcome_reviews::list(c, o.as_str(), status))
            .await
    }

    async fn expired_approvals(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Approval>> {
        self.read(move |c| approvals::expired(c, now, limit)).await
    }

    async fn credit(&self, credit: Credit) -> StoreResult<AccountTotals> {
        self.writer
            .write(move |ctx| {
                let ts = rows::ts(credit.now);
                let totals = ctx.post(ledger::Posting {
                    org_id: credit.org_id.as_str(),
                    account: &credit.account,
                    kind: crate::model::EntryKind::Credit,
                    amount: credit.amount,
                    request_id: None,
                    note: Some(&credit.note),
                    now: &ts,
                    transfer_id: None,
                })?;
                audit::append(ctx, credit.audit, credit.now)?;
                Ok(totals)
            })
            .await
    }

    async fn transfer(&self, command: TransferCommand) -> StoreResult<Moved> {
        self.writer
            .write(move |ctx| {
                let ts = rows::ts(command.now);
                let moved = ledger::transfer(ctx, &command.transfer, &ts)?;
                if matches!(moved, Moved::Done { .. }) {
                    audit::append(ctx, command.audit, command.now)?;
                }
                Ok(moved)
            })
            .await
    }

    async fn totals(&self, account: Account) -> StoreResult<AccountTotals> {
        // Through the writer, so the answer includes every committed write
        // and is served from its running sums.
        self.writer.write(move |ctx| ctx.totals(&account)).await
    }

    async fn usage(&self, query: UsageQuery) -> StoreResult<UsagePage> {
        self.read(move |c| usage::page(c, &query)).await
    }

    async fn usage_summary(
        &self,
        query: UsageQuery,
        days_from: OffsetDateTime,
    ) -> StoreResult<UsageSummary> {
        self.read(move |c| usage::summary(c, &query, days_from))
            .await
    }

    async fn check_ledger(&self) -> StoreResult<LedgerReport> {
        self.read(ledger::check).await
    }

    async fn audit_entries(&self, query: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |c| audit::query(c, &query)).await
    }

    async fn append_audit(&self, event: AuditEvent, now: OffsetDateTime) -> StoreResult<()> {
        self.writer
            .write(move |ctx| audit::append(ctx, event, now))
            .await
    }

    async fn verify_audit(
        &self,
        rules: crate::audit::ChainRules,
    ) -> StoreResult<AuditVerification> {
        self.read(move |c| audit::verify(c, &rules)).await
    }

    async fn audit_chain(&self) -> StoreResult<Option<AuditChainState>> {
        self.read(audit::chain_state).await
    }

    async fn claim_audit_key(&self, key_id: &str) -> StoreResult<Option<String>> {
        let k = key_id.to_owned();
        self.writer
            .write(move |ctx| audit::claim_key(ctx.conn, &k))
            .await
    }

    async fn audit_head(&self) -> StoreResult<AuditHead> {
        // Through the writer: its reply comes after the fsync that makes
        // this head (and everything before it) durable.
        self.writer.write_repeatable(audit::head).await
    }

    async fn audit_hash_at(&self, seq: i64) -> StoreResult<Option<String>> {
        self.lookup(|c| audit::hash_at(c, seq))
    }

    async fn record_audit_checkpoint(&self, seq: i64, at: OffsetDateTime) -> StoreResult<()> {
        self.writer
            .write_repeatable(move |ctx| audit::record_checkpoint(ctx, seq, at))
            .await
    }

    async fn audit_checkpoints(&self, _newest: Option<u32>) -> StoreResult<Option<Vec<String>>> {
        Ok(None)
    }

    async fn seal_audit(
        &self,
        _sign: &SignHead<'_>,
        _now: OffsetDateTime,
    ) -> StoreResult<SharedSeal> {
        Ok(SharedSeal::NotRecorded)
    }

    async fn claim_audit_signing_key(&self, _key_id: &str) -> StoreResult<Option<String>> {
        Ok(None)
    }

    async fn heartbeat(&self, worker: &str, now: OffsetDateTime) -> StoreResult<()> {
        let w = worker.to_owned();
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO worker_heartbeats (worker, beat_at) VALUES (?1, ?2) \
                         ON CONFLICT (worker) DO UPDATE SET beat_at = excluded.beat_at",
                        params![w, rows::ts(now)],
                    )
                    .map_err(db_error)
                    .map(drop)
            })
            .await
    }

    async fn last_heartbeat(&self, worker: &str) -> StoreResult<Option<OffsetDateTime>> {
        let w = worker.to_owned();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            let raw: Option<String> = c
                .query_row(
                    "SELECT beat_at FROM worker_heartbeats WHERE worker = ?1",
                    [w],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            Ok(raw.and_then(|r| crate::clock::parse_rfc3339(&r)))
        })
        .await
    }
}
