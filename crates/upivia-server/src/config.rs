//! Server configuration, built once (by the CLI from flags and `UPIVIA_*`
//! variables, or by tests in code) and validated before anything starts.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default per-key ceiling: 100 requests a second sustained, bursts
/// of 6000.
pub const DEFAULT_KEY_RATE_LIMIT_PER_MINUTE: u32 = 6000;
/// The default number of memories one agent may hold.
pub const DEFAULT_MEMORY_QUOTA_PER_AGENT: u32 = 10_000;
use crate::audit::AuditKey;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

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
    /// The master key of organisation secrets (`UPIVIA_MASTER_KEY`); when
    /// unset it is read from (or created at) `<data-dir>/master.key`.
    pub master_key: Option<crate::vault::MasterKey>,
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
    /// Whether `DELETE /triggers/{id}?purge=true` may delete a trigger for
    /// good (otherwise deleting only disables it, and a purge is 403).
    pub allow_trigger_purge: bool,
    /// Where stored objects' bytes live: `None` for `<data_dir>/objects`,
    /// or an `s3://bucket[/prefix]?endpoint=…&region=…&allow_http=true`
    /// URL (credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
    pub storage_url: Option<String>,
    /// Bytes an organisation may hold in storage (deleted objects count
    /// until purged).
    pub storage_quota_bytes: u64,
    /// Largest object a presigned upload may declare.
    pub storage_presign_max_bytes: u64,
    /// Longest a direct upload or a presigned PUT may take.
    pub upload_timeout: Duration,
    /// Most memories one agent may hold (archived ones included); a write
    /// past it is refused 409 `memory_quota_exceeded`.
    pub memory_quota_per_agent: u32,
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
    /// Real providers for live keys; unset ones stay on the sandbox.
    pub providers: ProviderSettings,
    /// Run every store on this PostgreSQL database (shared by several
    /// nodes) instead of the embedded SQLite one in the data dir. Secret:
    /// it may carry a password, so it is never logged.
    pub database_url: Option<SecretString>,
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
            master_key: None,
            audit_signing_key_file: None,
            audit_checkpoint_interval: Duration::from_secs(10),
            audit_checkpoint_copy: None,
            trust_forwarded_for: false,
            allow_trigger_purge: false,
            storage_url: None,
            storage_quota_bytes: 10 * 1024 * 1024 * 1024,
            storage_presign_max_bytes: 5 * 1024 * 1024 * 1024,
            upload_timeout: Duration::from_secs(3600),
            memory_quota_per_agent: DEFAULT_MEMORY_QUOTA_PER_AGENT,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_ip: Some(256),
            auth_failures_per_minute: Some(30),
            metrics_token: None,
            metrics_listen: None,
            providers: ProviderSettings::default(),
            database_url: None,
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

    pub fn master_key_path(&self) -> PathBuf {
        self.data_dir.join("master.key")
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
        if self.memory_quota_per_agent == 0 {
            return Err("the memory quota must be at least 1 per agent".into());
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
        self.providers.validate(&self.webhook_allowed_hosts)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Real providers. Each one left unset keeps its operations on the sandbox.

/// The real providers the server calls for live keys.
#[derive(Clone, Debug, Default)]
pub struct ProviderSettings {
    /// `email.send` over SMTP.
    pub smtp: Option<SmtpSettings>,
    /// `text_generation.generate` on an OpenAI-compatible endpoint.
    pub openai: Option<OpenAiSettings>,
    /// Vectors for knowledge retrieval, from an OpenAI-compatible
    /// embeddings endpoint (none: retrieval is lexical).
    pub embeddings: Option<crate::providers::embeddings::EmbeddingsSettings>,
    /// Signs real `notification.webhook` deliveries of organisations that
    /// have no signing secret of their own (delivery is on whenever
    /// `webhook_allowed_hosts` lists any).
    pub webhook_signing_secret: Option<WebhookSecret>,
    /// `web_search.search` on a SearXNG instance's JSON API.
    pub searxng: Option<ApiSettings>,
    /// `github.create_issue` on the GitHub REST API.
    pub github: Option<ApiSettings>,
    /// `discord.send_message` on the Discord API, as a bot.
    pub discord: Option<ApiSettings>,
    /// `chat.dm` on the Slack Web API, as a bot.
    pub slack: Option<ApiSettings>,
    /// `mastodon.post` on one Mastodon server, as one account.
    pub mastodon: Option<ApiSettings>,
    /// `notion.create_page` on the Notion API, as an integration.
    pub notion: Option<ApiSettings>,
    /// `x.post` on the X API v2, as one account.
    pub x: Option<ApiSettings>,
    /// `bluesky.post` on a PDS: its URL and the app password (as the
    /// token), with the account's handle.
    pub bluesky: Option<(ApiSettings, String)>,
    /// `sms.send`, `mms.send` and `voice_call.create` on one Twilio
    /// account; call status callbacks come to the public URL.
    pub twilio: Option<crate::providers::twilio::TwilioSettings>,
    /// `reddit.submit_post` as one account, through a script app.
    pub reddit: Option<crate::providers::reddit::RedditSettings>,
}

/// A provider's HTTP API: where it is (the operator's choice, so not behind
/// the SSRF guard) and the token it takes.
#[derive(Clone)]
pub struct ApiSettings {
    /// Without a trailing slash; paths are appended.
    pub base_url: url::Url,
    pub token: Option<SecretString>,
}

impl ApiSettings {
    /// `variable` names the base URL's setting in errors.
    pub fn new(
        variable: &str,
        base_url: &str,
        token: Option<SecretString>,
    ) -> Result<ApiSettings, String> {
        let base_url = url::Url::parse(base_url.trim().trim_end_matches('/'))
            .map_err(|e| format!("{variable}: {e}"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(format!("{variable} must be an http(s) URL"));
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(format!(
                "{variable} must not carry credentials; the token has its own setting"
            ));
        }
        Ok(ApiSettings {
            base_url,
            token: token.filter(|t| !t.expose_secret().is_empty()),
        })
    }

    /// `{base_url}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> Result<url::Url, url::ParseError> {
        url::Url::parse(&format!(
            "{}{path}",
            self.base_url.as_str().trim_end_matches('/')
        ))
    }

    /// The base URL, for the start-up log.
    pub fn describe(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }
}

impl fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiSettings")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ProviderSettings {
    pub fn validate(&self, webhook_allowed_hosts: &[String]) -> Result<(), String> {
        crate::providers::hosts::AllowList::parse(webhook_allowed_hosts)?;
        if self.webhook_signing_secret.is_some() && webhook_allowed_hosts.is_empty() {
            return Err(
                "real webhook delivery (UPIVIA_WEBHOOK_SIGNING_SECRET) needs UPIVIA_WEBHOOK_HOSTS: \
                 the hosts it may call"
                    .into(),
            );
        }
        Ok(())
    }
}

/// How `email.send` reaches the mail server. The URL is lettre's:
/// `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (or
/// `?tls=starttls`: STARTTLS), `?tls=opportunistic`, `smtps://…:465`
/// (implicit TLS).
#[derive(Clone)]
pub struct SmtpSettings {
    url: SecretString,
    /// `Name <address>` or an address; every message is sent from it.
    pub from: String,
}

impl SmtpSettings {
    pub fn new(url: &str, from: &str) -> Result<SmtpSettings, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("UPIVIA_SMTP_URL: {e}"))?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let encrypted = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", _) => true,
            ("smtp", Some("required" | "starttls")) => true,
            ("smtp", None | Some("opportunistic")) => false,
            (scheme, tls) => {
                return Err(format!(
                    "UPIVIA_SMTP_URL: use smtp:// or smtps:// with tls=required, starttls or \
                     opportunistic, not {scheme}:// with tls={tls:?}"
                ));
            }
        };
        let host = parsed
            .host()
            .ok_or("UPIVIA_SMTP_URL names no host")?
            .to_owned();
        let loopback = match &host {
            // smtp: is not a special scheme, so the URL keeps an IP as text.
            url::Host::Domain(d) => {
                d.eq_ignore_ascii_case("localhost")
                    || d.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        // lettre authenticates over an unencrypted connection if asked to;
        // only a relay on this machine may see the password in the clear.
        if parsed.password().is_some() && !encrypted && !loopback {
            return Err(
                "UPIVIA_SMTP_URL carries a password but no TLS: use smtps:// or ?tls=required"
                    .into(),
            );
        }
        from.parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("UPIVIA_SMTP_FROM {from:?} is not a mailbox: {e}"))?;
        Ok(SmtpSettings {
            url: SecretString::from(url),
            from: from.to_owned(),
        })
    }

    /// The URL with its password, for the transport only.
    pub fn url(&self) -> &SecretString {
        &self.url
    }

    /// The URL without user or password: what logs may show.
    pub fn redacted_url(&self) -> String {
        match url::Url::parse(self.url.expose_secret()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }
            Err(_) => "<unparseable>".into(),
        }
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &self.redacted_url())
            .field("from", &self.from)
            .finish()
    }
}

/// An OpenAI-compatible chat-completions endpoint and what its tokens cost.
/// Prices are integer microcents (millionths of a cent) per token: $0.15 per
/// million tokens is 15.
#[derive(Clone, Debug)]
pub struct OpenAiSettings {
    /// Up to the version, e.g. `http://localhost:11434/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: url::Url,
    /// Sent as `Authorization: Bearer`; local servers need none.
    pub api_key: Option<SecretString>,
    /// The model every request runs on (the payload's `model` is not
    /// forwarded: the prices below are this model's).
    pub model: String,
    pub price_input_microcents_per_token: u64,
    pub price_output_microcents_per_token: u64,
}

impl OpenAiSettings {
    pub fn new(
        base_url: &str,
        api_key: Option<SecretString>,
        model: Option<&str>,
        price_input_microcents_per_token: Option<u64>,
        price_output_microcents_per_token: Option<u64>,
    ) -> Result<OpenAiSettings, String> {
        let base_url = url::Url::parse(base_url.trim_end_matches('/'))
            .map_err(|e| format!("UPIVIA_OPENAI_BASE_URL: {e}"))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err("UPIVIA_OPENAI_BASE_URL must be an http(s) URL".into());
        }
        if !base_url.username().is_empty() || base_url.password().is_some() {
            return Err(
                "UPIVIA_OPENAI_BASE_URL must not carry credentials; use UPIVIA_OPENAI_API_KEY"
                    .into(),
            );
        }
        let model = model
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or("UPIVIA_OPENAI_MODEL is required with UPIVIA_OPENAI_BASE_URL")?
            .to_owned();
        // No default price: an unpriced model would run outside every budget.
        let (Some(input), Some(output)) = (
            price_input_microcents_per_token,
            price_output_microcents_per_token,
        ) else {
            return Err("UPIVIA_OPENAI_PRICE_INPUT_MICROCENTS_PER_TOKEN and \
                 UPIVIA_OPENAI_PRICE_OUTPUT_MICROCENTS_PER_TOKEN are required with \
                 UPIVIA_OPENAI_BASE_URL (0 for a free local model)"
                .into());
        };
        Ok(OpenAiSettings {
            base_url,
            api_key: api_key.filter(|k| !k.expose_secret().is_empty()),
            model,
            price_input_microcents_per_token: input,
            price_output_microcents_per_token: output,
        })
    }
}

/// A Standard Webhooks signing secret, `whsec_<base64>` (24 to 64 bytes).
#[derive(Clone)]
pub struct WebhookSecret(SecretSlice<u8>);

impl WebhookSecret {
    pub fn parse(raw: &str) -> Result<WebhookSecret, String> {
        use base64::Engine as _;
        let encoded = raw.trim().strip_prefix("whsec_").ok_or(
            "UPIVIA_WEBHOOK_SIGNING_SECRET must look like whsec_<base64> \
             (for example: echo whsec_$(openssl rand -base64 32))",
        )?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "UPIVIA_WEBHOOK_SIGNING_SECRET: the part after whsec_ is not base64")?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!(
                "UPIVIA_WEBHOOK_SIGNING_SECRET holds {} bytes; Standard Webhooks asks for 24 to 64",
                bytes.len()
            ));
        }
        Ok(WebhookSecret(SecretSlice::from(bytes)))
    }

    pub fn key(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_[redacted])")
    }
}
