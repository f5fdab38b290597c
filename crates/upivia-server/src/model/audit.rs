//! What the audit trail records. An event is written by the store in the
//! same transaction as the change it describes; the store chains it.

use serde_json::Value;
use time::OffsetDateTime;

use crate::money::Cents;

/// An audit event before it is chained.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub org_id: String,
    /// Dotted name, e.g. `service_request.executed`, `approval.rejected`.
    pub event_type: String,
    /// Who acted: `agent:<id>`, `user:<id>` or `system`.
    pub actor: String,
    pub agent_id: Option<String>,
    pub service: Option<String>,
    pub operation: Option<String>,
    /// The request outcome status where there is one.
    pub status: Option<String>,
    pub request_id: Option<String>,
    pub cost: Option<Cents>,
    pub details: Value,
}

impl AuditEvent {
    pub fn new(org_id: &str, event_type: &str, actor: impl Into<String>) -> Self {
        AuditEvent {
            org_id: org_id.to_owned(),
            event_type: event_type.to_owned(),
            actor: actor.into(),
            agent_id: None,
            service: None,
            operation: None,
            status: None,
            request_id: None,
            cost: None,
            details: Value::Object(Default::default()),
        }
    }

    pub fn with_agent(mut self, agent_id: &str) -> Self {
        self.agent_id = Some(agent_id.to_owned());
        self
    }

    pub fn with_operation(mut self, service: &str, operation: &str) -> Self {
        self.service = Some(service.to_owned());
        self.operation = Some(operation.to_owned());
        self
    }

    pub fn with_status(mut self, status: &str) -> Self {
        self.status = Some(status.to_owned());
        self
    }

    pub fn with_request(mut self, request_id: &str) -> Self {
        self.request_id = Some(request_id.to_owned());
        self
    }

    pub fn with_cost(mut self, cost: Cents) -> Self {
        self.cost = Some(cost);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Adds `more`'s keys to the details (an object), replacing equal keys;
    /// details that are not an object become `more`.
    pub fn with_details_merged(mut self, more: Value) -> Self {
        match (&mut self.details, more) {
            (Value::Object(have), Value::Object(more)) => have.extend(more),
            (details, more) => *details = more,
        }
        self
    }
}

/// A chained, stored audit entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub event: AuditEvent,
    pub created_at: OffsetDateTime,
    pub prev_hash: String,
    pub hash: String,
    /// HMAC-SHA256 of `hash` under the audit key; `None` on entries from
    /// before keyed chains.
    pub mac: Option<String>,
}
