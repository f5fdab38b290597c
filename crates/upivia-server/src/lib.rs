//! The Upivia governed service execution platform, as a library.
//!
//! [`prepare`] opens the store, migrates it, bootstraps the first
//! organisation and recovers from an unclean stop; [`serve`] runs the HTTP
//! API and the background workers until the shutdown token fires, then
//! drains in-flight requests and stops the workers.
//!
//! ```no_run
//! # async fn run() -> Result<(), upivia_server::StartError> {
//! use upivia_server::{config::Config, prepare, serve};
//! let config = Config::new("127.0.0.1:3000".parse().unwrap(), "./upivia-data".into());
//! let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
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
pub mod governance;
pub mod ids;
pub mod model;
pub mod money;
pub mod platform;
pub mod providers;
pub mod store;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::AppState;
use crate::bootstrap::{Bootstrap, DevAgent};
use crate::catalog::Catalog;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::platform::{GovernanceSettings, Platform};
use crate::providers::Providers;
use crate::providers::sandbox::{SandboxConfig, register_sandbox};
use crate::store::sqlite::SqliteStore;
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
    #[error("could not open the database")]
    Store(#[from] store::StoreError),
    #[error("bootstrap failed")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("recovery after an unclean stop failed")]
    Recovery(#[from] governance::GovernanceError),
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
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
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let store = SqliteStore::open(&config.database_path())?;
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
    let live = providers::live::register_live(
        &config.providers,
        &config.webhook_allowed_hosts,
        config.provider_timeout,
        &mut providers,
    )
    .map_err(StartError::Config)?;
    log_providers(&catalog, &live);
    let platform = Platform::new(
        Arc::new(store),
        catalog,
        providers,
        clock,
        GovernanceSettings {
            approval_ttl: config.approval_ttl,
            provider_timeout: config.provider_timeout,
            idempotency_retention: config.idempotency_retention,
        },
    );
    let base_url = config.base_url(bound);
    let bootstrap = bootstrap::ensure_org(&platform, &config.data_dir, &base_url).await?;
    if let Some(b) = &bootstrap {
        tracing::info!(path = %b.credentials_path.display(), "first start: wrote the owner's credentials");
    }
    let dev_agent = if config.dev {
        match platform.store.primary_org().await? {
            Some(org) => bootstrap::ensure_dev(&platform, &org.id).await?,
            None => None,
        }
    } else {
        None
    };
    let recovered = governance::recovery::recover(&platform).await?;
    if recovered > 0 {
        tracing::warn!(
            recovered,
            "released reservations of requests interrupted by the last stop"
        );
    }
    Ok(Prepared {
        platform,
        config: Arc::new(config),
        base_url,
        bootstrap,
        dev_agent,
        recovered,
    })
}

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
        ..
    } = prepared;
    let health = WorkerHealth::new(config.worker_interval);
    let workers_cancel = CancellationToken::new();
    let workers = workers::start(
        platform.clone(),
        health.clone(),
        config.worker_interval,
        workers_cancel.clone(),
    );
    let state = AppState::new(api::Shared {
        platform,
        config: config.clone(),
        base_url: base_url.into(),
        metrics: api::metrics_handle(),
        workers: health,
    });
    let app = api::router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    workers_cancel.cancel();
    let _ = workers.await;
    result.map_err(StartError::Serve)
}
