//! Wire types of the Upivia v1 API, shared by the SDK and the server.
//!
//! This module needs nothing but `serde`, so it builds with
//! `default-features = false`. It owns:
//!
//! - [`Cents`], the only money type (integer cents, no float arithmetic);
//! - typed responses where the contract pins a shape, above all
//!   [`ServiceRequestOutcome`]; each keeps the keys it does not know in an
//!   `extra` map, so a newer server never breaks decoding;
//! - request bodies and query filters, built with `new(required..)` plus
//!   `with_*` setters.
//!
//! Ids are plain strings: the contract calls them opaque.
//! Where the contract leaves a shape to the server, the SDK hands back a
//! [`serde_json::Value`].

mod agents;
mod audit_logs;
mod balance;
mod chat;
mod delegation;
mod flags;
mod money;
mod page;
mod service_requests;
mod storage;
mod tasks;
mod triggers;
mod workflows;

pub use agents::{CreateAgentRequest, ListAgentActivity, ListAgentRequests, SpawnAgent};
pub use audit_logs::{AuditLogEntry, ListAuditLogs, ListUsage};
pub use balance::{Balance, BudgetCheck};
pub use chat::{ApprovalAction, ChatStreamEvent, ChatTurn, CreateChatSession, ListChatSessions};
pub use delegation::{CreateDelegatedTask, ListDelegatedTasks};
pub use money::Cents;
pub use page::{Page, PageQuery};
pub use service_requests::{
    ApprovalRequiredOutcome, BlockedOutcome, BudgetCheckRequest, CreateServiceRequest,
    ExecutedOutcome, FailedOutcome, RunningOutcome, ServiceRequestOutcome, UnknownOutcome,
};
pub use storage::{DownloadInfo, PresignObject, StoredObject};
pub use tasks::ListScheduledTasks;
pub use triggers::{CreatedTrigger, FireResult, Trigger};
pub use workflows::{RunWorkflow, WorkflowRun};

/// A JSON object: the type of every `extra` map.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

#[cfg(test)]
mod tests;
