//! Providers carry out operations in the outside world. The pipeline only
//! knows the [`Provider`] trait: the deterministic `sandbox` provider ships
//! for every catalog operation, and real network providers slot in behind
//! the same trait, registered per operation in [`Providers`] (see `live.rs`
//! for which are configured, and [`Providers::for_operation`] for who gets
//! which).

pub mod bluesky;
pub mod custom;
pub mod discord;
pub mod email;
pub mod embeddings;
pub mod github;
pub mod hosts;
pub mod http;
pub mod live;
pub mod mastodon;
pub mod notion;
pub mod openai;
pub mod reddit;
pub mod rest;
pub mod sandbox;
pub mod search;
pub mod signing;
pub mod slack;
pub mod twilio;
pub mod webhook;
pub mod window;
pub mod x;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::catalog::{OperationSpec, PricingType};
use crate::ids::OrgId;
use crate::model::KeyMode;
use crate::money::Cents;

/// One call to a provider: the operation, its validated payload, and the
/// governed request it belongs to (providers may use the id as an upstream
/// idempotency key) and the organisation it runs for (whose secrets and
/// signing key a provider may use).
#[derive(Clone)]
pub struct ProviderCall<'a> {
    pub operation: &'a OperationSpec,
    pub org_id: &'a OrgId,
    pub secrets: &'a dyn OrgSecrets,
    pub payload: &'a Value,
    pub request_id: &'a str,
    pub now: OffsetDateTime,
}

/// An organisation's secrets, opened for a provider that calls out with
/// one (a private service's credential); `None` when it has no such secret.
#[async_trait]
pub trait OrgSecrets: Send + Sync {
    async fn secret(
        &self,
        org_id: &OrgId,
        name: &str,
    ) -> Result<Option<SecretString>, ProviderError>;
}

/// Secrets of nobody: for calls that need none (tests, the sandbox).
pub struct NoSecrets;

#[async_trait]
impl OrgSecrets for NoSecrets {
    async fn secret(&self, _: &OrgId, _: &str) -> Result<Option<SecretString>, ProviderError> {
        Ok(None)
    }
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

    /// Whether a call acts outside this process (sends, posts, spends). A
    /// crash during a call of one that does leaves its outcome unknown.
    fn has_side_effects(&self) -> bool {
        true
    }

    /// How long the upstream recognises a repeated call by the request id
    /// it was sent with (an idempotency key it honours). Within that time
    /// a call a crash interrupted is repeated to learn its outcome, at no
    /// risk of doing it twice.
    fn replay_window(&self) -> Option<std::time::Duration> {
        None
    }
}

/// What every provider that calls out shares: the one HTTP client, and the
/// hosts an organisation's own endpoints (webhooks, private services) may
/// be on.
#[derive(Clone, Debug)]
pub struct Outbound {
    pub http: http::HttpClient,
    pub hosts: hosts::AllowList,
}

impl Outbound {
    pub fn new(timeout: std::time::Duration, hosts: &[String]) -> Result<Outbound, String> {
        Ok(Outbound {
            http: http::HttpClient::new(timeout).map_err(|e| format!("the HTTP client: {e}"))?,
            hosts: hosts::AllowList::parse(hosts)?,
        })
    }
}

/// What a synchronous provider answers when asked to poll.
pub fn synchronous(poll: ProviderPoll<'_>) -> ProviderError {
    ProviderError::Adapter(format!(
        "{} completes synchronously; there is nothing to poll",
        poll.operation.full_name()
    ))
}

/// What a flat or free operation costs: its list price.
/// `units` times the operation's unit price, never negative, saturating
/// rather than wrapping on absurd inputs.
pub fn unit_price(op: &OperationSpec, units: u64) -> Cents {
    let unit = op.base_price_cents.get().max(0);
    let units = i64::try_from(units).unwrap_or(i64::MAX);
    Cents::new(unit.saturating_mul(units))
}

/// The units of a call of `seconds`: `voice_call.create` is priced per
/// started minute, at least one.
pub fn call_units(seconds: u64) -> u64 {
    seconds.div_ceil(60).max(1)
}

pub fn list_price(op: &OperationSpec) -> Cents {
    match op.pricing {
        PricingType::Free => Cents::ZERO,
        PricingType::Flat | PricingType::Metered => op.base_price_cents.max(Cents::ZERO),
    }
}

/// RFC 3339 in UTC with `Z`, whole seconds, as results show time.
pub fn timestamp(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .truncate_to_second()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Which provider carries out which operation (`service.operation`): the
/// sandbox, and a live provider where one is configured. Test keys always
/// get the sandbox; live keys get the live provider, or the sandbox when
/// none is configured. Cloning is cheap: the map is shared.
#[derive(Clone, Default)]
pub struct Providers {
    by_operation: Arc<HashMap<String, Route>>,
}

#[derive(Clone, Default)]
struct Route {
    sandbox: Option<Arc<dyn Provider>>,
    live: Option<Arc<dyn Provider>>,
}

impl Providers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sandbox provider of `full_name`.
    pub fn register(&mut self, full_name: impl Into<String>, provider: Arc<dyn Provider>) {
        self.route(full_name).sandbox = Some(provider);
    }

    /// Sets the live provider of `full_name`, which live keys reach.
    pub fn register_live(&mut self, full_name: impl Into<String>, provider: Arc<dyn Provider>) {
        self.route(full_name).live = Some(provider);
    }

    fn route(&mut self, full_name: impl Into<String>) -> &mut Route {
        Arc::make_mut(&mut self.by_operation)
            .entry(full_name.into())
            .or_default()
    }

    /// The provider a key of `mode` reaches for `operation`. A test key gets
    /// the sandbox; only an operation without one (a custom service) hands
    /// a test key its live provider, which policy then refuses.
    pub fn for_operation(
        &self,
        operation: &OperationSpec,
        mode: KeyMode,
    ) -> Option<&Arc<dyn Provider>> {
        let route = self.by_operation.get(&operation.full_name())?;
        match mode {
            KeyMode::Test => route.sandbox.as_ref().or(route.live.as_ref()),
            KeyMode::Live => route.live.as_ref().or(route.sandbox.as_ref()),
        }
    }

    /// The provider called `name` for `operation` (the one that started a
    /// `running` request, so the same one polls it); without a name, the
    /// sandbox.
    pub fn named(
        &self,
        operation: &OperationSpec,
        name: Option<&str>,
    ) -> Option<&Arc<dyn Provider>> {
        let route = self.by_operation.get(&operation.full_name())?;
        [route.sandbox.as_ref(), route.live.as_ref()]
            .into_iter()
            .flatten()
            .find(|p| name.is_none_or(|n| p.name() == n))
    }

    /// The live provider of `operation`, if one is configured.
    pub fn live(&self, operation: &OperationSpec) -> Option<&Arc<dyn Provider>> {
        self.by_operation.get(&operation.full_name())?.live.as_ref()
    }
}
