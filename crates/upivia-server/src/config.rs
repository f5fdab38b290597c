//! Server configuration, built once (by the CLI from flags and `UPIVIA_*`
//! variables, or by tests in code) and validated before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default per-key ceiling: 100 requests a second sustained, bursts
/// of 6000.
pub const DEFAULT_KEY_RATE_LIMIT_PER_MINUTE: u32 = 6000;
use crate::audit::AuditKey;

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
}

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
        Ok(())
    }
}
