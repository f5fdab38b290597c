//! The SQLite store: one writer thread with group commit (`writer`) and a
//! pool of read connections. WAL mode lets reads proceed while the writer
//! commits; `synchronous = FULL` makes every commit durable.

mod agents;
mod approvals;
mod audit;
pub mod files;
mod identity;
mod ledger;
#[cfg(test)]
mod query_plans;
mod requests;
mod rows;
mod usage;
mod wal;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, params};
use rusqlite_migration::{M, Migrations};
use time::OffsetDateTime;

use self::writer::Writer;
use super::*;
use crate::audit::AuditKey;
use crate::model::{
    Account, AccountTotals, Agent, Approval, ApprovalStatus, AuditEntry, AuditEvent, Binding,
    KeyMode, Org, RequestStatus, Role, ServiceRequest, UserPrincipal,
};
use crate::money::Cents;

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/sqlite/0001_core.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0002_worker_indexes.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0003_governance_roles.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0004_audit_keyed_chain.sql"
    )),
];

/// Translates SQLite errors once, here: constraint violations are conflicts,
/// a busy or locked database is unavailable, the rest is "other".
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            ErrorCode::ConstraintViolation => {
                StoreError::Constraint(msg.clone().unwrap_or_else(|| "constraint violated".into()))
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Other(Box::new(e)),
        },
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        _ => StoreError::Other(Box::new(e)),
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Savepoint sub-journals stay in memory instead of temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Memory-mapped reads keep hot pages out of read(2) calls. The hot
    // pages are the B-tree tails, at the end of a growing file, so the map
    // covers as much as SQLite allows (2 GiB): with 256 MiB, a database
    // past that size read its tails with pread (6% more CPU per request
    // after 40 s of load). The mapped pages are the kernel's page cache,
    // shared, not memory of ours. (A larger page cache was tried and made
    // every commit slower: SQLite walks the whole cache when a transaction
    // ends.)
    conn.pragma_update(None, "mmap_size", 2_147_418_112)?;
    Ok(())
}

pub struct SqliteStore {
    writer: Writer,
    readers: r2d2::Pool<SqliteConnectionManager>,
    wal: wal::WalSignals,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.wal.stop.store(true, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it,
    /// without the audit key: for offline checks. Appending an audit
    /// event through it fails.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, wal::WalSignals::default(), None)
    }

    /// As [`open`](Self::open), appending audit entries keyed by `key`.
    pub fn open_keyed(path: &Path, key: AuditKey) -> StoreResult<SqliteStore> {
        SqliteStore::open_with(path, wal::WalSignals::default(), Some(key))
    }

    fn open_with(
        path: &Path,
        wal: wal::WalSignals,
        audit_key: Option<AuditKey>,
    ) -> StoreResult<SqliteStore> {
        files::secure(path).map_err(|e| StoreError::Other(Box::new(e)))?;
        let mut conn = Connection::open(path).map_err(db_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        configure(&conn).map_err(db_error)?;
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        // The checkpointer thread does this work instead of the writer.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_error)?;
        wal::start_checkpointer(path, wal.clone())?;
        let mut wal_path = path.as_os_str().to_owned();
        wal_path.push("-wal");
        let writer = Writer::start(conn, Path::new(&wal_path), wal.clone(), audit_key)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                configure(c)?;
                // Readers never write: a bug that tries is an error, not a lock.
                c.pragma_update(None, "query_only", "ON")
            });
        let readers = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .build(manager)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(SqliteStore {
            writer,
            readers,
            wal,
        })
    }

    /// An indexed point lookup, run on the calling task: it takes tens of
    /// microseconds, less than handing it to the blocking pool would.
    fn lookup<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self
            .readers
            .get()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        f(&conn)
    }

    /// A query that may scan many rows, run on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .get()
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Other(Box::new(e)))?
    }
}

#[async_trait]
impl Store for SqliteStore {
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

    async fn bootstrap(&self, plan: BootstrapPlan) -> StoreResult<Option<Bootstrapped>> {
        self.writer
            .write(move |ctx| identity::bootstrap(ctx, plan))
            .await
    }

    async fn org(&self, org_id: &str) -> StoreResult<Option<Org>> {
        self.lookup(|c| identity::org(c, org_id))
    }

    async fn primary_org(&self) -> StoreResult<Option<Org>> {
        self.read(|c| {
            use rusqlite::OptionalExtension;
            let id: Option<String> = c
                .query_row(
                    "SELECT id FROM orgs ORDER BY created_at, id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            match id {
                Some(id) => identity::org(c, &id),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_kill_switch(
        &self,
        org_id: &str,
        on: bool,
        set_by: Role,
        expect: (bool, Role),
        user_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Org> {
        let (o, u) = (org_id.to_owned(), user_id.to_owned());
        self.writer
            .write(move |ctx| identity::set_kill_switch(ctx, &o, (on, set_by, expect), &u, now))
            .await
    }

    async fn add_member(&self, member: NewMember) -> StoreResult<UserPrincipal> {
        self.writer
            .write(move |ctx| identity::add_member(ctx, member))
            .await
    }

    async fn user_by_pat(&self, token_hash: &str) -> StoreResult<Option<UserPrincipal>> {
        self.lookup(|c| identity::user_by_pat(c, token_hash))
    }

    async fn user_by_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<UserPrincipal>> {
        self.lookup(|c| identity::user_by_session(c, token_hash, now))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<(String, UserPrincipal)>> {
        let email = email.to_owned();
        self.read(move |c| identity::user_by_email(c, &email)).await
    }

    async fn create_session(
        &self,
        principal: &UserPrincipal,
        token_hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let (p, h) = (principal.clone(), token_hash.to_owned());
        self.writer
            .write(move |ctx| identity::create_session(ctx.conn, &p, &h, now, expires_at))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_owned();
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute("DELETE FROM sessions WHERE token_hash = ?1", [h])
                    .map_err(db_error)
                    .map(drop)
            })
            .await
    }

    async fn change_password(&self, change: PasswordChange) -> StoreResult<usize> {
        self.writer
            .write(move |ctx| identity::change_password(ctx, change))
            .await
    }

    async fn create_pat(
        &self,
        principal: &UserPrincipal,
        name: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<String> {
        let (p, n, h) = (principal.clone(), name.to_owned(), token_hash.to_owned());
        self.writer
            .write(move |ctx| identity::create_pat(ctx.conn, &p, &n, &h, now))
            .await
    }

    async fn agent_by_key(&self, key_hash: &str) -> StoreResult<Option<Agent>> {
        self.lookup(|c| agents::by_key(c, key_hash))
    }

    async fn create_agent(&self, agent: NewAgent) -> StoreResult<Agent> {
        self.writer
            .write(move |ctx| agents::create(ctx, agent))
            .await
    }

    async fn agent(&self, org_id: &str, agent_id: &str) -> StoreResult<Option<Agent>> {
        self.lookup(|c| agents::get(c, org_id, agent_id))
    }

    async fn agents(&self, org_id: &str, team_id: Option<&str>) -> StoreResult<Vec<Agent>> {
        let (o, t) = (org_id.to_owned(), team_id.map(str::to_owned));
        self.read(move |c| agents::list(c, &o, t.as_deref())).await
    }

    async fn update_agent(
        &self,
        org_id: &str,
        agent_id: &str,
        patch: AgentPatch,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::update(ctx, &o, &a, patch, now, audit))
            .await
    }

    async fn set_agent_budget(
        &self,
        org_id: &str,
        agent_id: &str,
        change: BudgetChange,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::set_budget(ctx, &o, &a, change, now, audit))
            .await
    }

    async fn rotate_agent_key(
        &self,
        org_id: &str,
        agent_id: &str,
        key_hash: &str,
        key_mode: KeyMode,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Agent> {
        let (o, a, h) = (org_id.to_owned(), agent_id.to_owned(), key_hash.to_owned());
        self.writer
            .write(move |ctx| agents::rotate_key(ctx, &o, &a, &h, key_mode, now, audit))
            .await
    }

    async fn bindings(&self, agent_id: &str) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::bindings(c, agent_id))
    }

    async fn service_bindings(
        &self,
        agent_id: &str,
        service_id: &str,
    ) -> StoreResult<Vec<Binding>> {
        self.lookup(|c| agents::service_bindings(c, agent_id, service_id))
    }

    async fn upsert_bindings(
        &self,
        org_id: &str,
        agent_id: &str,
        upsert: BindingUpsert,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Vec<Binding>> {
        let (o, a) = (org_id.to_owned(), agent_id.to_owned());
        self.writer
            .write(move |ctx| agents::upsert_bindings(ctx, &o, &a, upsert, now, audit))
            .await
    }

    async fn delete_bindings(
        &self,
        org_id: &str,
        agent_id: &str,
        service_id: &str,
        caller: Role,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<usize> {
        let (o, a, s) = (
            org_id.to_owned(),
            agent_id.to_owned(),
            service_id.to_owned(),
        );
        self.writer
            .write(move |ctx| agents::delete_bindings(ctx, &o, &a, (&s, caller), audit, now))
            .await
    }

    async fn idempotency(
        &self,
        agent_id: &str,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        self.lookup(|c| requests::idempotency(c, agent_id, key))
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

    async fn finish_request(&self, finish: FinishRequest) -> StoreResult<ServiceRequest> {
        self.writer
            .write_repeatable(move |ctx| requests::finish(ctx, finish.clone()))
            .await
    }

    async fn request(&self, request_id: &str) -> StoreResult<Option<ServiceRequest>> {
        self.lookup(|c| requests::get(c, request_id))
    }

    async fn requests_in(
        &self,
        status: RequestStatus,
        limit: u32,
    ) -> StoreResult<Vec<ServiceRequest>> {
        self.read(move |c| requests::in_status(c, status, limit))
            .await
    }

    async fn approval(&self, approval_id: &str) -> StoreResult<Option<Approval>> {
        self.lookup(|c| approvals::get(c, approval_id))
    }

    async fn approvals(
        &self,
        org_id: &str,
        status: Option<ApprovalStatus>,
    ) -> StoreResult<Vec<Approval>> {
        let o = org_id.to_owned();
        self.read(move |c| approvals::list(c, &o, status)).await
    }

    async fn decide_approval(
        &self,
        decide: DecideApproval,
    ) -> StoreResult<Result<Decided, DecideRefusal>> {
        self.writer
            .write(move |ctx| approvals::decide(ctx, decide))
            .await
    }

    async fn expired_approvals(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Approval>> {
        self.read(move |c| approvals::expired(c, now, limit)).await
    }

    async fn credit(
        &self,
        account: Account,
        org_id: &str,
        amount: Cents,
        note: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<AccountTotals> {
        let (o, n) = (org_id.to_owned(), note.to_owned());
        self.writer
            .write(move |ctx| {
                let ts = rows::ts(now);
                let totals = ctx.post(ledger::Posting {
                    org_id: &o,
                    account: &account,
                    kind: crate::model::EntryKind::Credit,
                    amount,
                    request_id: None,
                    note: Some(&n),
                    now: &ts,
                })?;
                audit::append(ctx, audit, now)?;
                Ok(totals)
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
