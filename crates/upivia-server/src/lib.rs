//! The Upivia governed service execution platform, as a library.
//!
//! [`prepare`] locks the data directory, opens the store, migrates it,
//! bootstraps the first organisation and recovers from an unclean stop;
//! [`serve`] runs the HTTP API and the background workers until the
//! shutdown token fires, then drains in-flight requests, stops the workers
//! and lets the data directory go.
//!
//! ```no_run
//! # async fn run() -> Result<(), upivia_server::StartError> {
//! use upivia_server::{config::Config, prepare, serve};
//! let config = Config::new("127.0.0.1:3000".parse().unwrap(), "./upivia-data".into());
//! let listener = upivia_server::http_server::bind(config.listen).unwrap();
//! let prepared = prepare(config, listener.local_addr().unwrap()).await?;
//! serve(prepared, listener, tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod domains;
pub mod governance;
pub mod http_server;
pub mod ids;
pub mod keyfile;
pub mod model;
pub mod money;
pub mod platform;
pub mod providers;
pub mod search;
pub mod store;
pub mod vault;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::AppState;
use crate::audit::{AuditError, AuditKey, AuditSigningKey, Sealer};
use crate::bootstrap::{Bootstrap, DevAgent};
use crate::catalog::Catalog;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::platform::{GovernanceSettings, Platform};
use crate::providers::Providers;
use crate::providers::sandbox::{SandboxConfig, register_sandbox};
use crate::store::Stores;
use crate::store::sqlite::SqliteStore;
use crate::store::sqlite::lock::DataDirLock;
use crate::workers::WorkerHealth;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("could not create the data directory {path}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process writes this data directory (SQLite).
    #[error(transparent)]
    DataDirLocked(#[from] store::sqlite::lock::LockError),
    #[error("could not open the database")]
    Store(#[from] store::StoreError),
    #[error("bootstrap failed")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("recovery after an unclean stop failed")]
    Recovery(#[from] governance::GovernanceError),
    #[error("the audit trail cannot start")]
    Audit(#[from] AuditError),
    #[error("could not listen on {addr} for metrics")]
    MetricsListen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A platform ready to serve.
pub struct Prepared {
    pub platform: Platform,
    pub config: Arc<Config>,
    pub base_url: String,
    /// Set on the very first start.
    pub bootstrap: Option<Bootstrap>,
    /// Set when `dev` is on and the demo agent was just created.
    pub dev_agent: Option<DevAgent>,
    /// Requests released by recovery.
    pub recovered: usize,
    /// Signs checkpoints of the audit chain.
    pub sealer: Arc<Sealer>,
    /// SQLite: the data directory's lock, held until `serve` returns, so
    /// no second server or offline writer works beside this one's writer.
    pub data_dir_lock: Option<DataDirLock>,
}

/// Builds the platform over `config` with the system clock.
pub async fn prepare(config: Config, bound: SocketAddr) -> Result<Prepared, StartError> {
    prepare_with_clock(config, bound, Arc::new(SystemClock)).await
}

/// As [`prepare`], with a clock of the caller's (tests move time).
pub async fn prepare_with_clock(
    config: Config,
    bound: SocketAddr,
    clock: Arc<dyn Clock>,
) -> Result<Prepared, StartError> {
    config.validate().map_err(StartError::Config)?;
    secure_data_dir(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    // SQLite, before anything writes: a second server on this directory
    // stops here. (PostgreSQL nodes share a database by design.)
    let data_dir_lock = match config.database_url {
        None => Some(DataDirLock::acquire(&config.data_dir)?),
        Some(_) => None,
    };
    let audit_key = match &config.audit_key {
        Some(key) => key.clone(),
        None => AuditKey::load_or_create(&config.audit_key_path())?,
    };
    let signing = AuditSigningKey::load_or_create(&config.audit_signing_key_path())?;
    let sealer = Arc::new(Sealer::open(
        audit_key.clone(),
        signing,
        config.audit_checkpoint_path(),
        config.audit_checkpoint_copy.clone(),
    )?);
    let stores = open_stores(&config, &audit_key).await?;
    {
        let store = stores.governance.as_ref();
        match store.claim_audit_key(&audit_key.id()).await? {
            None => return Err(AuditError::NoChainRecord.into()),
            Some(recorded) if recorded != audit_key.id() => {
                return Err(AuditError::KeyMismatch {
                    recorded,
                    given: audit_key.id(),
                }
                .into());
            }
            Some(_) => {}
        }
        // Where the database records checkpoints (several nodes), every
        // node must sign them with the same key.
        let signing_id = sealer.public_key().id();
        if let Some(recorded) = store.claim_audit_signing_key(&signing_id).await?
            && recorded != signing_id
        {
            return Err(AuditError::SigningKeyMismatch {
                recorded,
                given: signing_id,
            }
            .into());
        }
        sealer.check_reaches(store).await?;
    }
    let master = match &config.master_key {
        Some(key) => key.clone(),
        None => vault::MasterKey::load_or_create(&config.master_key_path())
            .map_err(|e| StartError::Config(e.to_string()))?,
    };
    tracing::info!(master_key = %master.id(), "organisation secrets are sealed under this master key");
    let catalog = Catalog::new(catalog::builtin::builtin());
    let mut providers = Providers::new();
    register_sandbox(
        catalog.services(),
        SandboxConfig {
            voice_call_delay: config.voice_call_delay,
            webhook_allowed_hosts: config.webhook_allowed_hosts.clone(),
        },
        &mut providers,
    );
    let outbound = providers::Outbound::new(config.provider_timeout, &config.webhook_allowed_hosts)
        .map_err(StartError::Config)?;
    let live = providers::live::register_live(
        &config.providers,
        &outbound,
        config.public_base_url.as_deref(),
        &mut providers,
    )
    .map_err(StartError::Config)?;
    log_providers(&catalog, &live);
    let vault = vault::Vault::new(master);
    let storage = open_storage(&config, &vault)?;
    let embedder = match &config.providers.embeddings {
        Some(settings) => {
            let embedder =
                providers::embeddings::Embedder::new(settings.clone(), outbound.http.clone())
                    .map_err(StartError::Config)?;
            tracing::info!(
                endpoint = %embedder.endpoint(),
                model = embedder.model(),
                "knowledge retrieval: hybrid (full-text and vectors)"
            );
            Some(embedder)
        }
        None => {
            tracing::info!(
                "knowledge retrieval: full-text only (set UPIVIA_EMBEDDINGS_BASE_URL for vectors)"
            );
            None
        }
    };
    let chat_model = match &config.providers.openai {
        Some(settings) => {
            let model =
                domains::chat::openai_model::OpenAiModel::new(settings, outbound.http.clone())
                    .map_err(StartError::Config)?;
            tracing::info!(
                model = settings.model,
                "chat turns of live agents: the OpenAI-compatible model"
            );
            Some(Arc::new(model) as Arc<dyn domains::chat::model::ChatModel>)
        }
        None => None,
    };
    let platform = Platform::new(
        stores,
        catalog,
        providers,
        clock,
        GovernanceSettings {
            approval_ttl: config.approval_ttl,
            provider_timeout: config.provider_timeout,
            idempotency_retention: config.idempotency_retention,
            key_rate_limit_per_minute: config.key_rate_limit_per_minute,
            memory_quota_per_agent: config.memory_quota_per_agent,
        },
        platform::Outside {
            vault,
            outbound,
            storage,
            embedder,
            chat_model,
        },
    );
    let base_url = config.base_url(bound);
    let bootstrap = bootstrap::ensure_org(&platform, &config.data_dir, &base_url).await?;
    if let Some(b) = &bootstrap {
        tracing::info!(path = %b.credentials_path.display(), "first start: wrote the owner's credentials");
    }
    let dev_agent = if config.dev {
        match platform.stores.identity.primary_org().await? {
            Some(org) => bootstrap::ensure_dev(&platform, &org.id).await?,
            None => None,
        }
    } else {
        None
    };
    let recovered = workers::recover_at_start(&platform, config.worker_interval).await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "released reservations of requests interrupted by the last stop"
        );
    }
    // Sign the head before serving: whatever bootstrap and recovery wrote
    // is covered from the start.
    sealer
        .seal(platform.stores.governance.as_ref(), platform.clock.now())
        .await?;
    Ok(Prepared {
        platform,
        config: Arc::new(config),
        base_url,
        bootstrap,
        dev_agent,
        recovered,
        sealer,
        data_dir_lock,
    })
}

/// The blob backend and storage limits. Files on the local disk are this
/// node's alone: with several nodes (PostgreSQL) S3 is the shared backend.
fn open_storage(
    config: &Config,
    vault: &vault::Vault,
) -> Result<domains::storage::Storage, StartError> {
    use domains::storage::{Storage, StorageSettings, blobs::Blobs, signing::UrlSigner};
    let blobs =
        Blobs::open(config.storage_url.as_deref(), &config.data_dir).map_err(StartError::Config)?;
    tracing::info!(backend = blobs.describe(), "storage: file bytes live here");
    if config.database_url.is_some() && !blobs.is_shared() {
        tracing::warn!(
            "storage is on this node's disk while the database is shared: other nodes will not \
             find these files; set UPIVIA_STORAGE_URL to an s3:// bucket"
        );
    }
    Ok(Storage {
        blobs,
        signer: UrlSigner::new(vault.derive_key("storage url v1")),
        settings: StorageSettings {
            quota_bytes: i64::try_from(config.storage_quota_bytes).unwrap_or(i64::MAX),
            presign_max_bytes: config.storage_presign_max_bytes,
            ..StorageSettings::default()
        },
    })
}

/// Every store on the configured backend: PostgreSQL when a database URL
/// is given (several nodes may share it), else SQLite in the data dir.
async fn open_stores(config: &Config, audit_key: &AuditKey) -> Result<Stores, StartError> {
    use secrecy::ExposeSecret;
    match &config.database_url {
        Some(url) => {
            let store = store::postgres::PgStore::connect_keyed(
                url.expose_secret(),
                store::postgres::PgSettings::default(),
                audit_key.clone(),
            )
            .await?;
            tracing::info!(
                node = store.node_id(),
                "store: PostgreSQL (shared by every node)"
            );
            Ok(Stores::postgres(store))
        }
        None => {
            let path = config.database_path();
            let store = Arc::new(SqliteStore::open_keyed(&path, audit_key.clone())?);
            tracing::info!(path = %path.display(), "store: SQLite (this node only)");
            Ok(Stores::sqlite(store))
        }
    }
}

/// Creates the data directory 0700 (parents as the umask says), takes
/// group and other access off it when it already exists, and off every
/// file in it: no local user but the server's reads the database or the
/// owner's credentials. Each tightening is warned about.
fn secure_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    keyfile::private_dir(dir, "data directory")?;
    for entry in std::fs::read_dir(dir)? {
        store::sqlite::files::restrict(&entry?.path())?;
    }
    Ok(())
}

/// Serves the API on `listener` (and `/metrics` on `metrics_listen` when
/// set) until `shutdown` is cancelled, then lets in-flight requests finish
/// and stops the workers.
/// Says which operations reach a real provider (for live keys) and which
/// stay on the sandbox; no credentials are in what is logged.
fn log_providers(catalog: &Catalog, live: &[providers::live::LiveOperation]) {
    for op in live {
        tracing::info!(
            operation = op.operation,
            provider = op.provider,
            upstream = %op.upstream,
            "live provider"
        );
    }
    let sandboxed: Vec<String> = catalog
        .services()
        .iter()
        .flat_map(|s| s.operations.iter())
        .map(|op| op.full_name())
        .filter(|name| !live.iter().any(|l| l.operation == name))
        .collect();
    tracing::info!(
        live = live.len(),
        sandbox = %sandboxed.join(", "),
        "operations without a live provider run on the sandbox"
    );
}

/// Serves the API on `listener` until `shutdown` is cancelled, then lets
/// in-flight requests finish and stops the workers.
pub async fn serve(
    prepared: Prepared,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let Prepared {
        platform,
        config,
        base_url,
        sealer,
        data_dir_lock,
        ..
    } = prepared;
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            http_server::bind(addr).map_err(|source| StartError::MetricsListen { addr, source })?,
        ),
        None => None,
    };
    let health = WorkerHealth::new(config.worker_interval);
    let workers_cancel = CancellationToken::new();
    let workers = workers::start(
        platform.clone(),
        health.clone(),
        config.worker_interval,
        workers_cancel.clone(),
    );
    let automation = workers::start_automation(
        platform.clone(),
        config.worker_interval,
        workers_cancel.clone(),
    );
    let sealing = workers::start_sealing(
        platform.clone(),
        sealer.clone(),
        config.audit_checkpoint_interval,
        workers_cancel.clone(),
    );
    let last_seal = (platform.clone(), sealer.clone());
    let sockets = Arc::new(api::ws::Hub::new(shutdown.child_token()));
    let state = AppState::new(api::Shared {
        platform,
        config: config.clone(),
        base_url: base_url.into(),
        metrics: api::metrics_handle(),
        workers: health,
        sealer,
        ws: sockets.clone(),
    });
    let metrics_server = metrics_listener.map(|metrics_listener| {
        tokio::spawn(http_server::run(
            metrics_listener,
            api::metrics_router(state.clone()),
            http_server::Limits::metrics(&config),
            shutdown.clone(),
        ))
    });
    let limits = http_server::Limits::api(&config);
    http_server::check_descriptor_limit(&limits);
    // The accept loop attaches each request's peer address (`ConnectInfo`),
    // which login throttling and the per-address limits count by.
    http_server::run(listener, api::router(state), limits, shutdown).await;
    // Sockets outlive their HTTP connection: close them, and let the turns
    // they started stop at their next step.
    sockets.drain().await;
    if let Some(metrics_server) = metrics_server {
        let _ = metrics_server.await;
    }
    workers_cancel.cancel();
    let _ = workers.await;
    let _ = automation.await;
    let _ = sealing.await;
    // A clean stop signs what the last requests wrote.
    let (platform, sealer) = last_seal;
    workers::seal_audit(&platform, &sealer).await;
    // Other nodes take this node's jobs over now, not when its leases run out.
    if let Err(e) = platform.stores.coordination.leave().await {
        tracing::warn!(error = %e, "could not give up this node's leases");
    }
    // Only once this server's store is let go may another process write
    // the data directory.
    drop((platform, sealer));
    drop(data_dir_lock);
    Ok(())
}
