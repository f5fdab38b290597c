//! Server configuration, built once (by the CLI from flags and `UPIVIA_*`
//! variables, or by tests in code) and validated before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default per-key ceiling: 100 requests a second sustained, bursts
/// of 6000.
pub const DEFAULT_KEY_RATE_LIMIT_PER_MINUTE: u32 = 6000;
use crate::audit::AuditKey;
use secrecy::{ExposeSecret, SecretString};

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Credit the org with sandbox money and create a demo agent.
    pub dev: bool,
    /// The URL clients reach the server at; defaults to `http://<listen>`.
    pub public_base_url: Option<String>,
    pub approval_ttl: Duration,
    pub provider_timeout: Duration,
    /// How long the sandbox takes to complete a voice call.
    pub voice_call_delay: Duration,
    /// How often workers (reconciliation, expiry, heartbeat) run.
    pub worker_interval: Duration,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Hosts `notification.webhook` may call.
    pub webhook_allowed_hosts: Vec<String>,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// How long a login session lasts.
    pub session_ttl: Duration,
    /// How long an idempotency key is remembered (at least 24 h; and always
    /// a day longer than an approval can stay open).
    pub idempotency_retention: Duration,
    /// Service requests per minute an agent key may send when its agent
    /// has no `rate_limit_per_minute` of its own (`None`: no ceiling).
    pub key_rate_limit_per_minute: Option<u32>,
    /// The audit chain's HMAC key itself (`UPIVIA_AUDIT_KEY`); when unset
    /// it is read from `audit_key_file`.
    pub audit_key: Option<AuditKey>,
    /// Where the audit key is kept (created 0600 if missing); default
    /// `<data_dir>/audit.key`.
    pub audit_key_file: Option<PathBuf>,
    /// Where the checkpoint signing key is kept (created 0600 if missing);
    /// default `<data_dir>/audit-signing.key`.
    pub audit_signing_key_file: Option<PathBuf>,
    /// How often the head of the audit chain is signed into the
    /// checkpoint file (only when it moved).
    pub audit_checkpoint_interval: Duration,
    /// A second file every checkpoint is also appended to.
    pub audit_checkpoint_copy: Option<PathBuf>,
    /// Take the client address for login throttling from the last
    /// `X-Forwarded-For` entry (set only behind a proxy that appends it).
    pub trust_forwarded_for: bool,
    /// Longest wait for a request's headers. The clock starts when the
    /// server starts waiting for a request: on a new connection, and after
    /// each response on a kept-alive one, so this is also the keep-alive
    /// idle timeout (hyper's HTTP/1 keeps one timer for both).
    pub header_read_timeout: Duration,
    /// Most connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv4
    /// address, or an IPv6 /64); one more is answered 429. `None`: no cap
    /// (behind a reverse proxy every client has the proxy's address).
    pub max_connections_per_ip: Option<usize>,
    /// Failed authentications (401 answers) one client address may cause
    /// per minute (a bucket that refills at this rate); past it, its
    /// requests are answered 429 before any credential is checked. `None`:
    /// no limit.
    pub auth_failures_per_minute: Option<u32>,
    /// The bearer token `/metrics` requires; `None`: `/metrics` is public.
    pub metrics_token: Option<SecretString>,
    /// Serve `/metrics` on this address only (the API's listener no
    /// longer serves it).
    pub metrics_listen: Option<SocketAddr>,
}

/// A guessable metrics token protects nothing.
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

impl Config {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            dev: false,
            public_base_url: None,
            approval_ttl: Duration::from_secs(24 * 3600),
            provider_timeout: Duration::from_secs(30),
            voice_call_delay: Duration::from_secs(2),
            worker_interval: Duration::from_millis(500),
            body_limit: 1024 * 1024,
            webhook_allowed_hosts: Vec::new(),
            request_timeout: Duration::from_secs(60),
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            idempotency_retention: Duration::from_secs(7 * 24 * 3600),
            key_rate_limit_per_minute: Some(DEFAULT_KEY_RATE_LIMIT_PER_MINUTE),
            audit_key: None,
            audit_key_file: None,
            audit_signing_key_file: None,
            audit_checkpoint_interval: Duration::from_secs(10),
            audit_checkpoint_copy: None,
            trust_forwarded_for: false,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_ip: Some(256),
            auth_failures_per_minute: Some(30),
            metrics_token: None,
            metrics_listen: None,
        }
    }

    pub fn base_url(&self, bound: SocketAddr) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("upivia.db")
    }

    pub fn audit_key_path(&self) -> PathBuf {
        self.audit_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.key"))
    }

    pub fn audit_signing_key_path(&self) -> PathBuf {
        self.audit_signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-signing.key"))
    }

    /// The signed checkpoints of the audit chain, one JSON line each.
    pub fn audit_checkpoint_path(&self) -> PathBuf {
        self.data_dir.join("audit-checkpoints.jsonl")
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.body_limit < 1024 {
            return Err("body limit must be at least 1024 bytes".into());
        }
        if self.approval_ttl.is_zero() {
            return Err("approval TTL must be positive".into());
        }
        if self.idempotency_retention < Duration::from_secs(24 * 3600) {
            return Err("idempotency keys must be kept at least 24 hours".into());
        }
        if self.provider_timeout.is_zero()
            || self.worker_interval.is_zero()
            || self.audit_checkpoint_interval.is_zero()
        {
            return Err("timeouts and intervals must be positive".into());
        }
        if self.header_read_timeout.is_zero() {
            return Err("the header read timeout must be positive".into());
        }
        if self.max_connections == 0 || self.max_connections_per_ip == Some(0) {
            return Err("connection limits must be at least 1".into());
        }
        if self.auth_failures_per_minute == Some(0) {
            return Err("the auth failure limit must be at least 1 per minute".into());
        }
        if let Some(token) = &self.metrics_token
            && token.expose_secret().chars().count() < MIN_METRICS_TOKEN_CHARS
        {
            return Err(format!(
                "the metrics token must be at least {MIN_METRICS_TOKEN_CHARS} characters"
            ));
        }
        if self
            .metrics_listen
            .is_some_and(|m| m == self.listen && m.port() != 0)
        {
            return Err("the metrics address must differ from the API's".into());
        }
        Ok(())
    }
}
