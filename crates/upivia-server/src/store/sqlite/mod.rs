//! The SQLite store: one writer thread with group commit (`writer`) and a
//! pool of read connections. WAL mode lets reads proceed while the writer
//! commits; `synchronous = FULL` makes every commit durable.

mod agent_lifecycle;
mod agent_spawn;
mod agents;
mod agents_store;
mod approvals;
mod audit;
mod budget_requests;
mod chat;
mod chat_store;
mod coordination_store;
mod custom_services;
mod delegation;
mod delegation_store;
mod devices;
mod devices_store;
pub mod export;
pub mod files;
mod governance_store;
mod human_input;
mod human_input_store;
mod identity;
mod identity_store;
mod inbox;
mod inbox_store;
mod knowledge;
mod ledger;
pub mod lock;
mod memories;
mod memories_store;
mod outcome_reviews;
mod people;
#[cfg(test)]
mod query_plans;
mod requests;
mod rooms;
mod rows;
mod scheduled_tasks;
mod scheduled_tasks_store;
mod secrets;
mod storage;
mod storage_store;
mod teams;
mod teams_store;
mod triggers;
mod triggers_store;
mod usage;
mod wal;
mod workflows;
mod workflows_store;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

pub use self::coordination_store::LocalCoordination;
use self::writer::Writer;
use super::*;
use crate::audit::AuditKey;

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
    M::up(include_str!("../../../migrations/sqlite/0020_people.sql")),
    M::up(include_str!("../../../migrations/sqlite/0030_teams.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0031_agent_requests.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0032_ledger_transfers.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0033_budget_requests.sql"
    )),
    M::up(include_str!("../../../migrations/sqlite/0034_spawn.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0040_delegation.sql"
    )),
    M::up(include_str!("../../../migrations/sqlite/0041_secrets.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0042_custom_services.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0043_outcome_reviews.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0044_idempotent_services.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0045_automation.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0046_workflows.sql"
    )),
    M::up(include_str!("../../../migrations/sqlite/0047_storage.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0048_knowledge.sql"
    )),
    M::up(include_str!("../../../migrations/sqlite/0049_memories.sql")),
    M::up(include_str!("../../../migrations/sqlite/0050_chat.sql")),
    M::up(include_str!("../../../migrations/sqlite/0051_devices.sql")),
    M::up(include_str!("../../../migrations/sqlite/0052_rooms.sql")),
    M::up(include_str!(
        "../../../migrations/sqlite/0053_human_input.sql"
    )),
    M::up(include_str!(
        "../../../migrations/sqlite/0054_checks_without_lists.sql"
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
