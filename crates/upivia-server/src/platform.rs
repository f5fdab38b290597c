//! The platform's parts, wired once at start and shared by the HTTP layer
//! and the workers. Governance takes a `&Platform`; it never sees HTTP.

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::governance::refusals::RefusalLog;
use crate::governance::validation::Validators;
use crate::providers::Providers;
use crate::store::Stores;

/// Settings of the governed pipeline.
#[derive(Clone, Debug)]
pub struct GovernanceSettings {
    /// How long an approval stays open.
    pub approval_ttl: Duration,
    /// How long a synchronous provider call may take.
    pub provider_timeout: Duration,
    /// How long idempotency keys are kept (see `idempotency::purge_expired`).
    pub idempotency_retention: Duration,
    /// Requests per minute an agent key may send when the agent has no
    /// limit of its own; `None`: no such ceiling.
    pub key_rate_limit_per_minute: Option<u32>,
    /// Most memories one agent may hold (`domains::memory`).
    pub memory_quota_per_agent: u32,
}

#[derive(Clone)]
pub struct Platform {
    pub stores: Stores,
    pub catalog: Catalog,
    pub validators: Arc<Validators>,
    pub providers: Providers,
    pub clock: Arc<dyn Clock>,
    pub refusals: Arc<RefusalLog>,
    pub settings: GovernanceSettings,
    /// Seals and opens organisation secrets.
    pub vault: crate::vault::Vault,
    /// The HTTP client and host list of calls to organisations' endpoints.
    pub outbound: crate::providers::Outbound,
    /// Stored objects' bytes, signed URLs and limits.
    pub storage: Arc<crate::domains::storage::Storage>,
    /// Makes vectors for knowledge retrieval, when configured.
    pub embedder: Option<Arc<crate::providers::embeddings::Embedder>>,
    /// Answers chat turns of live agents, when configured (the sandbox
    /// model otherwise).
    pub chat_model: Option<Arc<dyn crate::domains::chat::model::ChatModel>>,
}

/// What the platform reaches beyond its database: the secrets vault, the
/// outbound HTTP client and the blob store.
pub struct Outside {
    pub vault: crate::vault::Vault,
    pub outbound: crate::providers::Outbound,
    pub storage: crate::domains::storage::Storage,
    pub embedder: Option<crate::providers::embeddings::Embedder>,
    pub chat_model: Option<Arc<dyn crate::domains::chat::model::ChatModel>>,
}

impl Platform {
    pub fn new(
        stores: Stores,
        catalog: Catalog,
        providers: Providers,
        clock: Arc<dyn Clock>,
        settings: GovernanceSettings,
        outside: Outside,
    ) -> Platform {
        let Outside {
            vault,
            outbound,
            storage,
            embedder,
            chat_model,
        } = outside;
        let validators = Arc::new(Validators::for_catalog(&catalog));
        Platform {
            stores,
            catalog,
            validators,
            providers,
            clock,
            refusals: Arc::new(RefusalLog::default()),
            settings,
            vault,
            outbound,
            storage: Arc::new(storage),
            embedder: embedder.map(Arc::new),
            chat_model,
        }
    }
}
