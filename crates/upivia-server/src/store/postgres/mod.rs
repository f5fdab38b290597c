//! The PostgreSQL store, for several stateless nodes over one database.
//! Where SQLite serialises every write on one writer thread and keeps
//! running sums in memory, here each method is one transaction and the
//! database serialises what must be: reservations lock balance rows in
//! account-key order, daily limits are conditional upserts, idempotency
//! keys are claimed by a unique insert, approvals decide with a
//! conditional update, and audit entries are inserted unchained and
//! chained afterwards by one node at a time (`audit.rs`). Each node beats
//! a row of `nodes`; what a dead node held is taken over.

mod agent_lifecycle;
mod agent_rows;
mod agent_spawn;
mod agents;
mod approvals;
mod audit;
mod budget_requests;
mod chat;
mod coordination;
mod custom_services;
mod delegation;
mod devices;
mod error;
mod governance_store;
mod human_input;
mod identity;
pub mod import;
mod inbox;
mod knowledge;
mod ledger;
mod memories;
mod nodes;
mod outcome_reviews;
mod people;
mod requests;
mod rooms;
mod rows;
mod scheduled_tasks;
mod secrets;
mod storage;
mod teams;
pub mod testing;
mod triggers;
mod tx;
mod usage;
mod workflows;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio_util::sync::CancellationToken;

/// The advisory lock the audit chainer and sealer hold (tests take it to
/// play a node that dies holding it).
pub use self::audit::CHAIN_LOCK as AUDIT_CHAIN_LOCK;
pub(crate) use self::error::db_error;
use super::{StoreError, StoreResult};
use crate::audit::AuditKey;

/// Migrations, embedded at build time. sqlx applies them under a
/// PostgreSQL advisory lock, so nodes starting at once migrate once.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How the store connects.
#[derive(Clone, Debug)]
pub struct PgSettings {
    /// Connections per node (PostgreSQL allows 100 in all by default;
    /// three nodes of 16 leave room for tools and migrations).
    pub max_connections: u32,
    /// How long a caller waits for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for PgSettings {
    fn default() -> PgSettings {
        PgSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

const PING_FRESH: Duration = Duration::from_millis(500);

pub struct PgStore {
    pool: PgPool,
    audit_key: Option<AuditKey>,
    /// This process's row in `nodes`.
    node_id: String,
    /// Stops the node's background tasks (its beat, the audit chainer).
    stop: CancellationToken,
    /// When a ping last succeeded; see [`PgStore::ping_shared`].
    last_ping: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl PgStore {
    /// Connects, migrates and registers this node, without the audit key:
    /// for offline checks (appending an audit entry works, chaining needs
    /// the key).
    pub async fn connect(url: &str, settings: PgSettings) -> StoreResult<Arc<PgStore>> {
        PgStore::connect_with(url, settings, None).await
    }

    /// As [`connect`](Self::connect), chaining audit entries keyed by `key`.
    pub async fn connect_keyed(
        url: &str,
        settings: PgSettings,
        key: AuditKey,
    ) -> StoreResult<Arc<PgStore>> {
        PgStore::connect_with(url, settings, Some(key)).await
    }

    async fn connect_with(
        url: &str,
        settings: PgSettings,
        audit_key: Option<AuditKey>,
    ) -> StoreResult<Arc<PgStore>> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let options = options.application_name("upivia");
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let store = Arc::new(PgStore {
            pool,
            audit_key,
            node_id: crate::ids::new_id("node"),
            stop: CancellationToken::new(),
            last_ping: tokio::sync::Mutex::new(None),
        });
        nodes::register(&store).await?;
        nodes::start_beating(&store);
        audit::start_chainer(&store);
        Ok(store)
    }

    /// Health checks ask the database at most once per [`PING_FRESH`]:
    /// a burst of them (a load balancer's, or a flood) waits for the one
    /// ping in flight instead of taking every pooled connection from the
    /// requests, and a check within the window reuses its success.
    pub(crate) async fn ping_shared(&self) -> StoreResult<()> {
        let mut last = self.last_ping.lock().await;
        if last.is_some_and(|at| at.elapsed() < PING_FRESH) {
            return Ok(());
        }
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        *last = Some(std::time::Instant::now());
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// This process's node id (as in `nodes` and `service_requests`).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Marks the node stopped and closes the pool: a clean shutdown, after
    /// which other nodes need not wait for its lease to run out.
    pub async fn close(&self) {
        self.stop.cancel();
        if let Err(e) = nodes::mark_stopped(self).await {
            tracing::warn!(error = %e, "could not mark the node stopped");
        }
        self.pool.close().await;
    }
}
