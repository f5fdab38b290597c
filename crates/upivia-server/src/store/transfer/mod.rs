//! The dump that moves a SQLite deployment to PostgreSQL
//! (`upivia admin export` / `upivia admin import`): JSON lines, written by
//! `sqlite::export` from one read snapshot and read by
//! `postgres::import` into an empty database in one transaction.
//!
//! ```text
//! {"upivia_export":1,"source":"sqlite","sqlite_migration":4,"exported_at":"…"}
//! {"table":"orgs","columns":["id","name",…]}
//! ["org_…","Default",…]                one array per row, in column order
//! {"table":"users","columns":[…]}
//! …
//! {"table":"audit_checkpoints","columns":["line"]}
//! ["{\"v\":1,…,\"sig\":\"…\"}"]       the signed checkpoint lines, verbatim
//! {"end":{"orgs":1,"users":1,…}}       rows per table: a cut-off dump is refused
//! ```
//!
//! Values are SQLite's: integers (booleans as 0/1), text (times as the
//! RFC 3339 strings the store writes, JSON as its exact text) and null.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The dump's format version; an importer refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// The pseudo-table carrying the checkpoint file's lines.
pub const CHECKPOINTS: &str = "audit_checkpoints";

/// SQLite's tables in the order an importer inserts them (every reference
/// points to a table before it). Tables found beyond these are exported
/// after them, and refused by an importer that does not know them.
pub const TABLES: &[&str] = &[
    "orgs",
    "users",
    "memberships",
    // Before pats and sessions, whose active team refers to one.
    "teams",
    "team_members",
    "pats",
    "sessions",
    "agents",
    "agent_requests",
    "budget_requests",
    "delegated_tasks",
    "delegated_task_events",
    "bindings",
    "service_requests",
    "idempotency_keys",
    "approvals",
    "outcome_reviews",
    "ledger_entries",
    "org_data_keys",
    "org_secrets",
    "custom_operations",
    "triggers",
    "scheduled_tasks",
    "scheduled_task_runs",
    "workflows",
    "workflow_versions",
    "workflow_publish_requests",
    "workflow_runs",
    "workflow_grants",
    "stored_objects",
    "knowledge_collections",
    "knowledge_documents",
    "knowledge_chunks",
    // Its FTS5 index (`memories_fts` and the tables FTS5 keeps it in) is
    // derived data and not exported: PostgreSQL derives its own `tsv`.
    "memories",
    "chat_sessions",
    "chat_messages",
    "chat_pauses",
    "device_sessions",
    "device_commands",
    "rooms",
    "room_participants",
    "room_messages",
    "room_turns",
    "human_inputs",
    "audit_log",
    "audit_chains",
    "worker_heartbeats",
];

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub upivia_export: u32,
    pub source: String,
    /// How many SQLite migrations the exported database had applied.
    pub sqlite_migration: i64,
    pub exported_at: String,
}

/// Opens a table's rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableStart {
    pub table: String,
    pub columns: Vec<String>,
}

/// The last line: how many rows each table had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub end: BTreeMap<String, u64>,
}

/// One line after the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    Table(TableStart),
    Row(Vec<Value>),
    End(End),
}

impl Line {
    /// Parses a line after the header; `None` when it is none of the three.
    pub fn parse(raw: &str) -> Option<Line> {
        match serde_json::from_str::<Value>(raw).ok()? {
            Value::Array(values) => Some(Line::Row(values)),
            object @ Value::Object(_) if object.get("end").is_some() => {
                serde_json::from_value(object).ok().map(Line::End)
            }
            object @ Value::Object(_) => serde_json::from_value(object).ok().map(Line::Table),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The dump (or the database it came from) is not what the format says.
    #[error("line {line}: {message}")]
    Dump { line: u64, message: String },
    #[error("{0}")]
    Refused(String),
    #[error("could not read or write the dump")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// What a transfer moved: rows per table (and checkpoint lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransferSummary {
    pub rows: BTreeMap<String, u64>,
}

impl TransferSummary {
    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }
}

#[cfg(test)]
mod tests;
