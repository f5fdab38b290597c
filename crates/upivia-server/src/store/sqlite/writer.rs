//! The single writer, with group commit.
//!
//! SQLite allows one writer at a time, so every write goes to one thread
//! that owns the write connection. It takes the jobs that are waiting, runs
//! each inside its own SAVEPOINT (a failing job rolls back alone), commits
//! them in one transaction, and only then answers each caller. Many
//! decisions share one fsync, and no caller hears "done" before its write is
//! durable.
//!
//! Durability is pipelined. The write connection commits with
//! `synchronous = NORMAL`, which writes the batch's WAL frames without
//! waiting for the disk, and hands the batch's replies to a syncer thread.
//! The syncer fsyncs the WAL file (one fsync for every batch committed since
//! its last one) and only then answers. So the writer runs batch N+1 while
//! batch N is being made durable, and still no caller hears "done" before
//! its decision is on disk. An fsync that fails aborts the process: after a
//! failed fsync nothing can tell which writes reached the disk, and the
//! restart's recovery is the safe way back.
//!
//! Savepoints cost: each job's first change to a page that an earlier job
//! of the batch already changed copies that page into a sub-journal, and
//! every job of a batch changes the same hot pages (the tails of the
//! request, ledger and audit tables). Jobs that may safely run twice are
//! therefore run first, without savepoints, and the others after them,
//! each in a savepoint of its own, in the same transaction: one heartbeat
//! does not put a batch of 511 requests into savepoints. Only when a
//! repeatable job fails is the transaction rolled back (before any
//! once-only job ran) and the batch run again, each job in a savepoint, so
//! a failing job still fails alone.
//!
//! The writer also keeps running sums of ledger accounts and daily request
//! counts, loaded lazily from the ledger on first use. They are a cache of
//! sums over append-only rows, never stored: every change goes through an
//! undo log so a rolled-back job or batch leaves them as the database is.

use std::collections::HashMap;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::ledger::Posting;
use super::wal::WalSignals;
use crate::audit::{AuditKey, GENESIS_HASH, entry_mac};
use crate::model::{Account, AccountTotals};
use crate::store::{StoreError, StoreResult};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job's run: whether it succeeded, and how to answer its caller once
/// the batch's fate is known.
type Run = (bool, Reply);

enum Job {
    /// Runs once, always inside a savepoint of its own.
    Once(Box<dyn FnOnce(&mut WriteCtx<'_>) -> Run + Send>),
    /// Touches nothing but the transaction and the caches, so it may run
    /// again when its batch is rolled back: first without a savepoint.
    Repeatable(Arc<dyn Fn(&mut WriteCtx<'_>) -> Run + Send + Sync>),
}

impl Job {
    /// Runs a repeatable job; `None` for one that may run only once.
    fn run_repeatable(&self, ctx: &mut WriteCtx<'_>) -> Option<Run> {
        match self {
            Job::Once(_) => None,
            Job::Repeatable(f) => Some(f(ctx)),
        }
    }

    fn run_last(self, ctx: &mut WriteCtx<'_>) -> Run {
        match self {
            Job::Once(f) => f(ctx),
            Job::Repeatable(f) => f(ctx),
        }
    }
}

/// The answer to a caller once the batch has committed (or not).
fn reply<T: Send + 'static>(
    result: StoreResult<T>,
    deliver: impl FnOnce(StoreResult<T>) + Send + 'static,
) -> Run {
    let ok = result.is_ok();
    let reply: Reply = Box::new(move |commit| {
        deliver(match commit {
            Ok(()) => result,
            Err(message) => Err(StoreError::Unavailable(message.into())),
        });
    });
    (ok, reply)
}

/// Handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread over `conn`, which must be open read-write
    /// in WAL mode, and its syncer over the WAL file at `wal_path`.
    pub(crate) fn start(
        conn: Connection,
        wal_path: &Path,
        signals: WalSignals,
        audit_key: Option<AuditKey>,
    ) -> StoreResult<Writer> {
        let head = load_audit_head(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(super::db_error)?;
        // The only lock this connection ever waits for is a reader's old
        // snapshot during a WAL rewind, which it puts off instead.
        conn.busy_timeout(super::wal::RESTART_WAIT)
            .map_err(super::db_error)?;
        // SQLite created the WAL when the connection first read in WAL mode;
        // `create` only guards a race with another process's checkpoint.
        let wal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(wal_path)
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let (to_syncer, syncer_inbox) = mpsc::channel::<Vec<Reply>>();
        thread::Builder::new()
            .name("upivia-sqlite-sync".into())
            .spawn(move || sync_loop(wal, syncer_inbox))
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        thread::Builder::new()
            .name("upivia-sqlite-writer".into())
            .spawn(move || run(conn, receiver, to_syncer, head, audit_key, signals))
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        Ok(Writer { sender })
    }

    /// Runs `f` in the next batch and answers once the batch is committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Job::Once(Box::new(move |ctx| {
            // The caller may have gone away (client disconnected); the
            // write stands regardless.
            reply(f(ctx), move |out| drop(tx.send(out)))
        }));
        self.submit(job, rx).await
    }

    /// [`write`](Self::write) for a job that may run more than once: `f`
    /// must act only through its `WriteCtx`, which a rolled-back batch
    /// restores. The hot path's jobs are written this way.
    pub(crate) async fn write_repeatable<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> StoreResult<T> + Send + Sync + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let job = Job::Repeatable(Arc::new(move |ctx| {
            let tx = tx.clone();
            reply(f(ctx), move |out| {
                if let Some(tx) = tx.lock().ok().and_then(|mut slot| slot.take()) {
                    let _ = tx.send(out);
                }
            })
        }));
        self.submit(job, rx).await
    }

    async fn submit<T>(&self, job: Job, rx: oneshot::Receiver<StoreResult<T>>) -> StoreResult<T> {
        self.sender
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer dropped a job".into()))?
    }
}

/// What a job sees: the connection inside the batch's transaction, and the
/// writer's caches.
pub(crate) struct WriteCtx<'c> {
    pub(crate) conn: &'c Connection,
    cache: &'c mut Cache,
}

enum Undo {
    Totals(String, Option<AccountTotals>),
    Daily(String, Option<u32>),
    Head(i64, String),
}

struct Cache {
    totals: HashMap<String, AccountTotals>,
    daily: HashMap<String, u32>,
    head_seq: i64,
    head_hash: String,
    /// Keys the chain; `None` in a store opened for offline checks.
    audit_key: Option<AuditKey>,
    undo: Vec<Undo>,
}

impl Cache {
    fn rollback_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop() {
                Some(Undo::Totals(key, Some(old))) => {
                    self.totals.insert(key, old);
                }
                Some(Undo::Totals(key, None)) => {
                    self.totals.remove(&key);
                }
                Some(Undo::Daily(key, Some(old))) => {
                    self.daily.insert(key, old);
                }
                Some(Undo::Daily(key, None)) => {
                    self.daily.remove(&key);
                }
                Some(Undo::Head(seq, hash)) => {
                    self.head_seq = seq;
                    self.head_hash = hash;
                }
                None => break,
            }
        }
    }
}

impl WriteCtx<'_> {
    /// Current sums of an account, including this batch's uncommitted work.
    pub(crate) fn totals(&mut self, account: &Account) -> StoreResult<AccountTotals> {
        let key = account.key();
        if let Some(t) = self.cache.totals.get(&key) {
            return Ok(*t);
        }
        let totals = super::ledger::sum_account(self.conn, &key)?;
        self.cache.totals.insert(key.clone(), totals);
        self.cache.undo.push(Undo::Totals(key, None));
        Ok(totals)
    }

    /// Appends a ledger entry and updates the account's running sums.
    pub(crate) fn post(&mut self, posting: Posting<'_>) -> StoreResult<AccountTotals> {
        let account = posting.account;
        let mut totals = self.totals(account)?;
        totals
            .apply(posting.kind, posting.amount)
            .ok_or_else(|| StoreError::Overflow {
                account: account.key(),
            })?;
        if totals.reserved.is_negative() {
            return Err(StoreError::Corrupt(format!(
                "more given back than held on {}",
                account.key()
            )));
        }
        super::ledger::insert_entry(self.conn, &posting)?;
        let key = account.key();
        let old = self.cache.totals.insert(key.clone(), totals);
        self.cache.undo.push(Undo::Totals(key, old));
        Ok(totals)
    }

    /// Requests counted so far today on `scope_key`, lazily loaded by `load`.
    pub(crate) fn daily_count(
        &mut self,
        key: &str,
        load: impl FnOnce(&Connection) -> StoreResult<u32>,
    ) -> StoreResult<u32> {
        if let Some(n) = self.cache.daily.get(key) {
            return Ok(*n);
        }
        let n = load(self.conn)?;
        self.cache.daily.insert(key.to_owned(), n);
        self.cache.undo.push(Undo::Daily(key.to_owned(), None));
        Ok(n)
    }

    /// Counts one more request on a daily key that was loaded before.
    pub(crate) fn bump_daily(&mut self, key: &str) {
        if let Some(n) = self.cache.daily.get_mut(key) {
            let old = *n;
            *n = old.saturating_add(1);
            self.cache.undo.push(Undo::Daily(key.to_owned(), Some(old)));
        }
    }

    /// The hash chain's head: the last entry's seq and hash.
    pub(crate) fn audit_head(&self) -> (i64, &str) {
        (self.cache.head_seq, &self.cache.head_hash)
    }

    /// The MAC of a new entry's hash: computed here, on the writer
    /// thread, from the key held in memory (no database round trip).
    pub(crate) fn audit_mac(&self, hash: &str) -> StoreResult<String> {
        let key = self.cache.audit_key.as_ref().ok_or_else(|| {
            StoreError::Other("this store was opened without the audit key".into())
        })?;
        Ok(entry_mac(key, hash))
    }

    pub(crate) fn set_audit_head(&mut self, seq: i64, hash: String) {
        let old_hash = std::mem::replace(&mut self.cache.head_hash, hash);
        let old_seq = std::mem::replace(&mut self.cache.head_seq, seq);
        self.cache.undo.push(Undo::Head(old_seq, old_hash));
    }
}

fn load_audit_head(conn: &Connection) -> StoreResult<(i64, String)> {
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(super::db_error)?;
    Ok(head.unwrap_or((0, GENESIS_HASH.to_owned())))
}

/// Makes committed batches durable, then answers them.
fn sync_loop(wal: File, inbox: mpsc::Receiver<Vec<Reply>>) {
    while let Ok(first) = inbox.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = inbox.try_recv() {
            waiting.push(more);
        }
        if let Err(e) = wal.sync_data() {
            tracing::error!(error = %e, "fsync of the WAL failed; aborting to recover on restart");
            std::process::abort();
        }
        for reply in waiting.into_iter().flatten() {
            reply(Ok(()));
        }
    }
}

fn run(
    conn: Connection,
    receiver: mpsc::Receiver<Job>,
    syncer: mpsc::Sender<Vec<Reply>>,
    head: (i64, String),
    audit_key: Option<AuditKey>,
    signals: WalSignals,
) {
    let mut cache = Cache {
        totals: HashMap::new(),
        daily: HashMap::new(),
        head_seq: head.0,
        head_hash: head.1,
        audit_key,
        undo: Vec::new(),
    };
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, &mut cache, batch, &syncer);
        signals.committed();
        if signals.take_restart() {
            super::wal::restart(&conn);
        }
    }
    tracing::debug!("sqlite writer stopped");
}

/// Transaction control statements, prepared once.
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn run_batch(
    conn: &Connection,
    cache: &mut Cache,
    batch: Vec<Job>,
    syncer: &mpsc::Sender<Vec<Reply>>,
) {
    if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs unrun answers their callers "unavailable".
        tracing::error!(error = %e, "sqlite writer could not begin a transaction");
        return;
    }
    // Repeatable jobs first, so that a once-only job never has to run
    // again: the jobs of a batch are concurrent (no caller has heard back),
    // so any order of them is one the callers could have seen.
    let (repeatable, once): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|job| matches!(job, Job::Repeatable(_)));
    let mut replies = match run_unguarded(conn, cache, &repeatable) {
        Some(replies) => replies,
        None => {
            // One job failed: start over, each job on its own.
            if let Err(e) = exec_cached(conn, "ROLLBACK") {
                tracing::error!(error = %e, "sqlite writer could not roll a batch back");
            }
            cache.rollback_to(0);
            if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
                tracing::error!(error = %e, "sqlite writer could not begin a transaction");
                return;
            }
            run_guarded(conn, cache, repeatable)
        }
    };
    replies.extend(run_guarded(conn, cache, once));
    commit(conn, cache, replies, syncer);
}

/// Runs every job with no savepoint. `None` when one failed: the batch's
/// writes are then all suspect and the caller rolls them back.
fn run_unguarded(conn: &Connection, cache: &mut Cache, batch: &[Job]) -> Option<Vec<Reply>> {
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        let mut ctx = WriteCtx { conn, cache };
        match catch_unwind(AssertUnwindSafe(|| job.run_repeatable(&mut ctx))) {
            Ok(Some((true, reply))) => replies.push(reply),
            // Unanswered replies are dropped: each job runs again.
            _ => return None,
        }
    }
    Some(replies)
}

/// Runs each job in a savepoint of its own: a failing job rolls back alone.
fn run_guarded(conn: &Connection, cache: &mut Cache, batch: Vec<Job>) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        let mark = cache.undo.len();
        if let Err(e) = exec_cached(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "sqlite writer could not open a savepoint");
        }
        let mut ctx = WriteCtx { conn, cache };
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run_last(&mut ctx)));
        let (ok, reply) = match outcome {
            Ok(done) => done,
            Err(_) => {
                tracing::error!("a store job panicked; its writes are rolled back");
                (false, Box::new(|_| {}) as Reply)
            }
        };
        if ok {
            let _ = exec_cached(conn, "RELEASE job");
        } else {
            cache.rollback_to(mark);
            let _ = exec_cached(conn, "ROLLBACK TO job");
            let _ = exec_cached(conn, "RELEASE job");
        }
        replies.push(reply);
    }
    replies
}

/// Commits the batch and hands its replies to the syncer, or answers them
/// all with the failure.
fn commit(
    conn: &Connection,
    cache: &mut Cache,
    replies: Vec<Reply>,
    syncer: &mpsc::Sender<Vec<Reply>>,
) {
    match exec_cached(conn, "COMMIT") {
        Ok(()) => {
            cache.undo.clear();
            if let Err(mpsc::SendError(replies)) = syncer.send(replies) {
                // No syncer: nothing can be confirmed durable.
                for reply in replies {
                    reply(Err("the durability thread has stopped".into()));
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "sqlite group commit failed; the batch is rolled back");
            let _ = conn.execute_batch("ROLLBACK");
            cache.rollback_to(0);
            let message = format!("commit failed: {e}");
            for reply in replies {
                reply(Err(message.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
