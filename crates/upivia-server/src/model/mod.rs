//! Domain records shared by governance, the store and the HTTP boundary.
//! They do not derive `Serialize`: `api/` decides what goes on the wire.

pub mod agent;
pub mod approval;
pub mod audit;
pub mod identity;
pub mod ledger;
pub mod reason;
pub mod request;
pub mod usage;

pub use agent::{Agent, AgentStatus, Binding, KeyMode};
pub use approval::{Approval, ApprovalStatus, OutcomeReview, ReviewStatus};
pub use audit::{AuditEntry, AuditEvent};
pub use identity::{Org, Role, UserPrincipal};
pub use ledger::{
    Account, AccountTotals, EntryKind, Hold, HoldLimit, is_funds_key, is_spending_key,
};
pub use reason::ReasonCode;
pub use request::{RequestStatus, ServiceRequest};
pub use usage::UsageRecord;
