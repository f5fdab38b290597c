//! The hot path's persistence: service requests and their idempotency
//! keys, approvals, the ledger (credits, totals, usage, the ledger check),
//! the audit trail and the sealer's chain bookkeeping, and the workers'
//! scans and heartbeats.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::{AgentId, ApprovalId, OrgId, OutcomeReviewId, RequestId};
use crate::model::{
    Account, AccountTotals, Approval, ApprovalStatus, AuditEntry, AuditEvent, Hold, HoldLimit,
    OutcomeReview, ReasonCode, RequestStatus, ReviewStatus, ServiceRequest, UsageRecord,
};
use crate::money::Cents;

/// A new request's first write: claim its idempotency key and record the
/// first decision, atomically.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    pub request: ServiceRequest,
    pub idempotency: Option<IdempotencyClaim>,
    pub disposition: Disposition,
    pub audit: Option<AuditEvent>,
}

#[derive(Clone, Debug)]
pub struct IdempotencyClaim {
    pub key: String,
    pub fingerprint: String,
}

/// A stored HTTP answer, replayed for a repeated idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Value,
}

#[derive(Clone, Debug)]
pub enum Disposition {
    /// Already decided (blocked, or free and executed): store as is,
    /// with the response to replay.
    Final { response: StoredResponse },
    /// Wait for a human. Counts towards daily limits.
    AwaitApproval {
        approval: Box<Approval>,
        limits: Vec<DailyLimit>,
        response: StoredResponse,
    },
    /// Reserve `amount` on every hold, then execute.
    Reserve {
        holds: Vec<Hold>,
        amount: Cents,
        limits: Vec<DailyLimit>,
    },
}

/// At most `limit` counted requests per UTC day on a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyLimit {
    pub scope: LimitScope,
    pub limit: u32,
    pub day_start: OffsetDateTime,
}

impl DailyLimit {
    /// Whether `used` requests leave no room for one more.
    pub fn is_reached(&self, used: u32) -> bool {
        used >= self.limit
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitScope {
    Agent(String),
    Binding(String),
}

#[derive(Clone, Debug)]
pub enum Opened {
    Recorded,
    /// The idempotency key was already used.
    Existing(IdempotencyRecord),
    /// A hold did not fit; nothing was written.
    HoldRefused {
        account: Account,
        available: Cents,
    },
    /// A daily limit is reached; nothing was written.
    LimitReached {
        scope: LimitScope,
        limit: u32,
    },
}

#[derive(Clone, Debug)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub request_id: String,
    /// `None` while the first request is still being decided.
    pub response: Option<StoredResponse>,
}

/// How a request that held money ends (or moves to `running`).
#[derive(Clone, Debug)]
pub struct FinishRequest {
    /// The request as the caller holds it. The store checks its current
    /// status and what it holds, and writes the rest from this copy.
    pub request: ServiceRequest,
    pub outcome: Finish,
    /// Renders the finished request as the answer to store for an
    /// idempotent replay, if none is stored yet.
    pub render: fn(&ServiceRequest) -> StoredResponse,
    /// Appended with `cost` set to what was actually settled.
    pub audit: AuditEvent,
    pub now: OffsetDateTime,
    /// The operator's decision that finishes a request left `failed` /
    /// `outcome_unknown` with its hold: only with one, and only while its
    /// review is pending, can such a request be finished again.
    pub review: Option<ReviewDecision>,
}

/// Closing an outcome review, in the transaction that settles or releases
/// its request.
#[derive(Clone, Debug)]
pub struct ReviewDecision {
    pub review_id: String,
    /// `Settled` or `Released`.
    pub status: ReviewStatus,
    pub decided_by: String,
    /// Appended before the request's own event.
    pub audit: AuditEvent,
}

#[derive(Clone, Debug)]
pub enum Finish {
    /// Settle `charge` (capped at what was reserved) and release the rest.
    Executed {
        result: Value,
        charge: Cents,
        provider: String,
    },
    /// Release everything.
    Failed { reason: ReasonCode, message: String },
    /// Keep the reservation; the request settles at reconciliation.
    Running {
        provider: String,
        external_id: String,
        initial_cost: Cents,
    },
    /// The provider was called and its answer is lost: end `failed` /
    /// `outcome_unknown`, keep the reservation, and open `review` for an
    /// operator (its `held` is set by the store to what is held).
    Unknown {
        provider: String,
        message: String,
        review: Box<OutcomeReview>,
    },
}

/// Money into an account (funding an organisation), audited.
#[derive(Clone, Debug)]
pub struct Credit {
    pub account: Account,
    pub org_id: OrgId,
    pub amount: Cents,
    pub note: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Moving `amount` from one account to another: a debit on `from` and a
/// credit on `to` under one transfer id, in one transaction, refused
/// (nothing written) when `from` has less than `amount` left under
/// `from_limit`.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub id: String,
    pub org_id: OrgId,
    pub from: Account,
    pub from_limit: HoldLimit,
    pub to: Account,
    pub amount: Cents,
    pub note: String,
}

/// What a transfer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Moved {
    /// Both sides' sums after it.
    Done {
        from: AccountTotals,
        to: AccountTotals,
    },
    /// `from` had only `available` left; nothing was written.
    Short { available: Cents },
}

/// A transfer on its own, audited: allocating to a team pool.
#[derive(Clone, Debug)]
pub struct TransferCommand {
    pub transfer: Transfer,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

// ---------------------------------------------------------------------------
// Approvals

#[derive(Clone, Debug)]
pub struct DecideApproval {
    pub approval_id: String,
    /// The deciding human's organisation; `None` for the system (expiry).
    pub org_id: Option<String>,
    pub decision: ApprovalDecision,
    pub decided_by: String,
    pub now: OffsetDateTime,
    /// Appended in order in the same transaction.
    pub audit: Vec<AuditEvent>,
}

#[derive(Clone, Debug)]
pub enum ApprovalDecision {
    /// Approve and reserve. Refused, with nothing written, when the approval
    /// has expired or a hold does not fit.
    Approve {
        holds: Vec<Hold>,
        amount: Cents,
    },
    /// Approve, but end the request blocked (a re-check failed).
    ApproveBlocked {
        reason: ReasonCode,
        message: String,
    },
    Reject {
        reason: ReasonCode,
        message: String,
    },
    Expire {
        reason: ReasonCode,
        message: String,
    },
}

#[derive(Clone, Debug)]
pub enum Decided {
    /// Approved and reserved: execute it now.
    Reserved(ServiceRequest),
    /// The request is closed (blocked).
    Closed(ServiceRequest),
}

#[derive(Clone, Debug, PartialEq)]
pub enum DecideRefusal {
    NotFound,
    AlreadyDecided(ApprovalStatus),
    Expired,
    HoldRefused { account: Account, available: Cents },
}

// ---------------------------------------------------------------------------
// Queries

#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub org_id: String,
    pub agent_id: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    /// Return entries with `seq` strictly below this (newest first).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

#[derive(Clone, Debug, Default)]
pub struct UsageQuery {
    pub org_id: String,
    pub agent_id: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub limit: u32,
}

#[derive(Clone, Debug)]
pub struct UsagePage {
    pub records: Vec<UsageRecord>,
    /// Over every record matching the filter, not just this page.
    pub total: Cents,
}

/// The activity view's extras: totals per agent over the same filter as a
/// usage page, and totals per UTC day from `days_from` on.
#[derive(Clone, Debug, Default)]
pub struct UsageSummary {
    pub per_agent: Vec<UsageTotal>,
    /// Only the days that had charged requests, oldest first, keyed by
    /// their `YYYY-MM-DD` date.
    pub per_day: Vec<UsageTotal>,
}

/// Charged requests of one agent or one day, and what they cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageTotal {
    pub key: String,
    pub requests: u64,
    pub total: Cents,
}

/// The result of checking the whole ledger.
#[derive(Clone, Debug, Default)]
pub struct LedgerReport {
    pub accounts_checked: usize,
    pub entries_checked: usize,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct AuditVerification {
    /// Entries that passed every check before the first break.
    pub entries_checked: i64,
    /// The last entry's seq when the whole chain holds.
    pub last_seq: Option<i64>,
    pub first_break: Option<crate::audit::ChainBreak>,
}

/// The database's record of an audit chain, beside its rows.
#[derive(Clone, Debug)]
pub struct AuditChainState {
    pub chain: String,
    /// The first seq written with a MAC.
    pub keyed_from: i64,
    /// The audit key the chain is written with (`AuditKey::id`).
    pub mac_key_id: Option<String>,
    /// Checkpoints written, and the seq and time of the latest.
    pub checkpoints: i64,
    pub checkpoint_seq: Option<i64>,
    pub checkpoint_at: Option<String>,
}

/// The chain's head once every write before it is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    pub keyed_from: i64,
}

/// What [`GovernanceStore::seal_audit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedSeal {
    /// The store records no checkpoints (SQLite): the sealer's own file is
    /// the record, and the sealer signs into it itself.
    NotRecorded,
    /// The head is the one signed last (or `sign` declined): nothing new.
    Unchanged,
    /// This checkpoint line was signed and recorded.
    Signed(String),
}

/// Makes the signed checkpoint line of `head`, given the latest recorded
/// line; `None` signs nothing.
pub type SignHead<'a> = dyn Fn(&AuditHead, Option<&str>) -> Option<String> + Send + Sync + 'a;

#[async_trait]
pub trait GovernanceStore: Send + Sync + 'static {
    /// Both the read pool and the writer answer.
    async fn ping(&self) -> StoreResult<()>;

    // governed requests
    async fn idempotency(
        &self,
        agent_id: &AgentId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>>;
    /// Forgets at most `limit` of the oldest idempotency keys created
    /// before `created_before`; returns how many.
    async fn purge_idempotency_keys(
        &self,
        created_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<usize>;
    async fn open_request(&self, open: OpenRequest) -> StoreResult<Opened>;
    /// How many requests `limit` has counted today, as `open_request`
    /// would find them; a read that counts nothing (the policy simulation).
    async fn daily_count(&self, limit: &DailyLimit) -> StoreResult<u32>;
    async fn finish_request(&self, finish: FinishRequest) -> StoreResult<ServiceRequest>;
    /// Notes that `request_id` (still `executing`) is about to call
    /// `provider`, which acts on the world: after a crash its outcome is
    /// unknown rather than "never happened".
    async fn mark_provider_started(
        &self,
        request_id: &RequestId,
        provider: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn request(&self, request_id: &RequestId) -> StoreResult<Option<ServiceRequest>>;
    /// Requests in `status` (oldest first), for workers and recovery.
    async fn requests_in(
        &self,
        status: RequestStatus,
        limit: u32,
    ) -> StoreResult<Vec<ServiceRequest>>;

    // approvals
    async fn approval(&self, approval_id: &ApprovalId) -> StoreResult<Option<Approval>>;
    async fn approvals(
        &self,
        org_id: &OrgId,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>>;
    async fn decide_approval(
        &self,
        decide: DecideApproval,
    ) -> StoreResult<Result<Decided, DecideRefusal>>;
    async fn outcome_review(
        &self,
        review_id: &OutcomeReviewId,
    ) -> StoreResult<Option<OutcomeReview>>;
    /// An organisation's outcome reviews, newest first, at most 500.
    async fn outcome_reviews(
        &self,
        org_id: &OrgId,
        status: Option<ReviewStatus>,
    ) -> StoreResult<Vec<OutcomeReview>>;
    /// Pending approvals whose expiry has passed.
    async fn expired_approvals(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Approval>>;

    // money
    async fn credit(&self, credit: Credit) -> StoreResult<AccountTotals>;
    /// Moves money between two accounts (audited when it moves).
    async fn transfer(&self, command: TransferCommand) -> StoreResult<Moved>;
    async fn totals(&self, account: Account) -> StoreResult<AccountTotals>;
    async fn usage(&self, query: UsageQuery) -> StoreResult<UsagePage>;
    /// Per-agent totals over `query`'s filter (its limit is ignored) and
    /// per-day totals of the same agents from `days_from` on.
    async fn usage_summary(
        &self,
        query: UsageQuery,
        days_from: OffsetDateTime,
    ) -> StoreResult<UsageSummary>;
    async fn check_ledger(&self) -> StoreResult<LedgerReport>;

    // audit
    async fn audit_entries(&self, query: AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    async fn append_audit(&self, event: AuditEvent, now: OffsetDateTime) -> StoreResult<()>;
    /// Walks the whole chain under `rules`.
    async fn verify_audit(&self, rules: crate::audit::ChainRules)
    -> StoreResult<AuditVerification>;
    async fn audit_chain(&self) -> StoreResult<Option<AuditChainState>>;
    /// Records `key_id` as the chain's audit key if none is yet, and
    /// returns the recorded one (`None` when the chain's record is gone).
    async fn claim_audit_key(&self, key_id: &str) -> StoreResult<Option<String>>;
    /// The head, answered only once it is durable: a checkpoint never signs
    /// what a power cut could take back.
    async fn audit_head(&self) -> StoreResult<AuditHead>;
    async fn audit_hash_at(&self, seq: i64) -> StoreResult<Option<String>>;
    /// Notes in the database that a checkpoint of `seq` was written.
    async fn record_audit_checkpoint(&self, seq: i64, at: OffsetDateTime) -> StoreResult<()>;
    /// The signed checkpoint lines the database records, oldest first
    /// (with `newest`, only that many of the latest): where several nodes
    /// share one chain, the database and not a node's file is the record.
    /// `None`: this store records none (SQLite: the checkpoint file is).
    async fn audit_checkpoints(&self, newest: Option<u32>) -> StoreResult<Option<Vec<String>>>;
    /// Where the database records checkpoints: chains every entry written
    /// before the call and, one node at a time, records the line `sign`
    /// makes of the head (given the latest recorded line), with the count
    /// of checkpoints, in one transaction. SQLite answers `NotRecorded`.
    async fn seal_audit(&self, sign: &SignHead<'_>, now: OffsetDateTime)
    -> StoreResult<SharedSeal>;
    /// Records `key_id` as the checkpoint signing key if none is yet, and
    /// returns the recorded one; `None` where the store records none
    /// (SQLite: `Sealer::open` checks its file's signatures instead).
    async fn claim_audit_signing_key(&self, key_id: &str) -> StoreResult<Option<String>>;

    // workers
    async fn heartbeat(&self, worker: &str, now: OffsetDateTime) -> StoreResult<()>;
    async fn last_heartbeat(&self, worker: &str) -> StoreResult<Option<OffsetDateTime>>;
}
