//! Providers carry out operations in the outside world. The pipeline only
//! knows the [`Provider`] trait: the deterministic `sandbox` provider ships
//! for every catalog operation, and real network providers slot in behind
//! the same trait, registered per operation in [`Providers`].

pub mod sandbox;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::catalog::OperationSpec;
use crate::money::Cents;

/// One call to a provider: the operation, its validated payload, and the
/// governed request it belongs to (providers may use the id as an upstream
/// idempotency key).
#[derive(Clone, Debug)]
pub struct ProviderCall<'a> {
    pub operation: &'a OperationSpec,
    pub payload: &'a Value,
    pub request_id: &'a str,
    pub now: OffsetDateTime,
}

/// A check on an asynchronous operation that answered [`Execution::Started`].
#[derive(Clone, Debug)]
pub struct ProviderPoll<'a> {
    pub operation: &'a OperationSpec,
    pub payload: &'a Value,
    pub request_id: &'a str,
    pub external_id: &'a str,
    pub started_at: OffsetDateTime,
    pub now: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Execution {
    /// Done: the result and what it actually cost.
    Completed { result: Value, actual_cost: Cents },
    /// Accepted upstream; the final cost is known only after reconciliation.
    Started {
        external_id: String,
        initial_cost: Cents,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum PollStatus {
    Pending,
    Completed { result: Value, actual_cost: Cents },
    Failed(ProviderError),
}

/// Why a provider could not carry out a call. No charge sticks for either.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The upstream is down, timed out or answered 5xx.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// Anything else: the upstream refused the call, or the adapter failed.
    #[error("adapter error: {0}")]
    Adapter(String),
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The name reported as `provider` on `running` requests.
    fn name(&self) -> &'static str;

    /// An upper bound of what the call will cost, computed from the payload
    /// before anything runs. The pipeline reserves this much and never
    /// settles more.
    fn estimate(&self, operation: &OperationSpec, payload: &Value) -> Cents;

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError>;

    /// Asks about an asynchronous call. Synchronous providers never get here.
    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError>;
}

/// Which provider carries out which operation (`service.operation`).
/// Cloning is cheap: the map is shared.
#[derive(Clone, Default)]
pub struct Providers {
    by_operation: Arc<HashMap<String, Arc<dyn Provider>>>,
}

impl Providers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, full_name: impl Into<String>, provider: Arc<dyn Provider>) {
        Arc::make_mut(&mut self.by_operation).insert(full_name.into(), provider);
    }

    pub fn for_operation(&self, operation: &OperationSpec) -> Option<&Arc<dyn Provider>> {
        self.by_operation.get(&operation.full_name())
    }
}
