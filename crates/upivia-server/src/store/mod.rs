//! Persistence, one small trait per domain, bundled in [`Stores`]. Each
//! method is a unit of consistency: one transaction that keeps one
//! invariant (a reservation writes its ledger entries, its request row and
//! its audit event together or not at all). Transactions never leave this
//! module, and nothing outside it writes SQL. A domain's trait and its
//! command and record types live in `store/<domain>.rs`; each backend
//! implements every trait (`sqlite/<domain>_store.rs`).

pub mod postgres;
pub mod sqlite;

pub mod agents;
pub mod budget_requests;
pub mod chat;
pub mod coordination;
pub mod custom_services;
pub mod delegation;
pub mod devices;
pub mod governance;
pub mod human_input;
pub mod identity;
pub mod inbox;
pub mod knowledge;
pub(crate) mod ledger_check;
pub mod memories;
pub mod rooms;
pub mod scheduled_tasks;
pub mod secrets;
pub mod storage;
pub mod teams;
pub mod transfer;
pub mod triggers;
pub mod workflows;

use std::sync::Arc;

pub use agents::*;
pub use budget_requests::*;
pub use chat::*;
pub use coordination::*;
pub use custom_services::*;
pub use delegation::*;
pub use devices::*;
pub use governance::*;
pub use human_input::*;
pub use identity::*;
pub use inbox::*;
pub use knowledge::*;
pub use memories::*;
pub use rooms::*;
pub use scheduled_tasks::*;
pub use secrets::*;
pub use storage::*;
pub use teams::*;
pub use triggers::*;
pub use workflows::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// The change conflicts with what is stored; the message is written
    /// for the client.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A database constraint refused the write; the detail names tables
    /// and columns, so it goes to the log, not to clients.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A ledger sum would leave the range of i64 cents; `account` is the
    /// internal account key, for the log.
    #[error("ledger arithmetic overflow on {account}")]
    Overflow { account: String },
    /// Stored data that cannot be read back, or a broken internal
    /// invariant: a bug or a damaged database, never the client's doing.
    #[error("corrupt or inconsistent data: {0}")]
    Corrupt(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the database failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every domain's store, wired once; a caller takes the one it needs.
#[derive(Clone)]
pub struct Stores {
    /// The hot path: requests, approvals, ledger, audit, workers.
    pub governance: Arc<dyn GovernanceStore>,
    pub identity: Arc<dyn IdentityStore>,
    pub agents: Arc<dyn AgentStore>,
    /// Job leases and per-minute rate limits across nodes.
    pub coordination: Arc<dyn CoordinationStore>,
    pub teams: Arc<dyn TeamStore>,
    pub inbox: Arc<dyn InboxStore>,
    pub budget_requests: Arc<dyn BudgetRequestStore>,
    pub delegation: Arc<dyn DelegationStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub custom_services: Arc<dyn CustomServiceStore>,
    pub triggers: Arc<dyn TriggerStore>,
    pub scheduled_tasks: Arc<dyn ScheduledTaskStore>,
    pub workflows: Arc<dyn WorkflowStore>,
    pub storage: Arc<dyn StorageStore>,
    pub knowledge: Arc<dyn KnowledgeStore>,
    pub memories: Arc<dyn MemoryStore>,
    pub chat: Arc<dyn ChatStore>,
    pub devices: Arc<dyn DeviceStore>,
    pub human_input: Arc<dyn HumanInputStore>,
    pub rooms: Arc<dyn RoomStore>,
}

impl Stores {
    /// Every domain on one SQLite database (one writer thread).
    pub fn sqlite(store: Arc<sqlite::SqliteStore>) -> Stores {
        Stores {
            governance: store.clone(),
            identity: store.clone(),
            agents: store.clone(),
            teams: store.clone(),
            budget_requests: store.clone(),
            delegation: store.clone(),
            secrets: store.clone(),
            custom_services: store.clone(),
            triggers: store.clone(),
            scheduled_tasks: store.clone(),
            workflows: store.clone(),
            storage: store.clone(),
            knowledge: store.clone(),
            memories: store.clone(),
            chat: store.clone(),
            devices: store.clone(),
            human_input: store.clone(),
            rooms: store.clone(),
            inbox: store,
            coordination: Arc::new(sqlite::LocalCoordination::default()),
        }
    }

    /// Every domain on one PostgreSQL database, shared with other nodes.
    pub fn postgres(store: Arc<postgres::PgStore>) -> Stores {
        Stores {
            governance: store.clone(),
            identity: store.clone(),
            agents: store.clone(),
            teams: store.clone(),
            inbox: store.clone(),
            budget_requests: store.clone(),
            delegation: store.clone(),
            secrets: store.clone(),
            custom_services: store.clone(),
            triggers: store.clone(),
            scheduled_tasks: store.clone(),
            workflows: store.clone(),
            storage: store.clone(),
            knowledge: store.clone(),
            memories: store.clone(),
            chat: store.clone(),
            devices: store.clone(),
            human_input: store.clone(),
            rooms: store.clone(),
            coordination: store,
        }
    }
}
