//! The command tree. Exit codes: 0 success, 1 a check found problems,
//! 2 an error (printed on stderr).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

#[derive(Parser, Debug)]
#[command(
    name = "upivia",
    version,
    about = "The Upivia governed service execution platform"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the platform (HTTP API and background workers).
    Serve(Box<ServeArgs>),
    /// Check a server URL and a personal access token, then store them for
    /// the client commands (below --base-url/--pat and their variables).
    Login(crate::commands::login::LoginArgs),
    /// Forget the server URL and token `upivia login` stored.
    Logout(crate::commands::login::LogoutArgs),
    /// Submit a governed service request (agent key) and print its outcome;
    /// `get <request_id>` reads one back.
    ///
    /// Exit code 0: executed, running or approval_required; 1: blocked or
    /// failed; 2: an error.
    Request(crate::commands::request::RequestArgs),
    /// The service catalog with prices.
    Services(crate::commands::services::ServicesArgs),
    /// Pending approvals: list, approve, reject (PAT).
    Approvals(crate::commands::approvals::ApprovalsArgs),
    /// Agents: list, create, show, pause, resume, rotate-key, budget,
    /// enable a service, clone, delete, health (PAT).
    Agents(crate::commands::agents::AgentsArgs),
    /// The organisation's balance; credit adds to it (PAT; credit: the
    /// owner's).
    Balance(crate::commands::balance::BalanceArgs),
    /// What agents spent: totals per agent or per day, or each request
    /// (PAT).
    Usage(crate::commands::usage::UsageArgs),
    /// Your personal access tokens: create, list, revoke (PAT).
    Tokens(crate::commands::people::TokensArgs),
    /// The organisation's members: list, add, set-role, remove (PAT).
    Members(crate::commands::people::MembersArgs),
    /// Teams: list, create, switch, members and their roles (PAT).
    Teams(crate::commands::teams::TeamsArgs),
    /// Organisation secrets: set (the value on stdin), list, delete (an
    /// admin's PAT).
    Secrets(crate::commands::secrets::SecretsArgs),
    /// One chat turn with an agent, streamed (PAT): every tool call the
    /// agent makes is a governed request.
    Chat(Box<crate::commands::chat::ChatArgs>),
    /// Stored objects: put (streamed, with progress), get, ls, show, rm,
    /// restore (PAT).
    Storage(crate::commands::storage::StorageArgs),
    /// Knowledge collections and documents (PAT); search, a governed
    /// knowledge.search request (an agent key).
    Knowledge(crate::commands::knowledge::KnowledgeArgs),
    /// The agent-requests inbox: list, show, ask, resolve, reject (PAT, or
    /// an agent key for the agent's own requests).
    Inbox(crate::commands::inbox::InboxArgs),
    /// Delegated tasks: delegate and list (a parent's agent key); show,
    /// update and reattach (PAT).
    Tasks(crate::commands::tasks::TasksArgs),
    /// Webhook and cron triggers: list, create (the signing secret printed
    /// once), show, update, delete (PAT); fire (the trigger's secret only).
    Triggers(crate::commands::triggers::TriggersArgs),
    /// Scheduled tasks, one-time or cron: list, create, show, update,
    /// delete, runs (PAT).
    Schedules(crate::commands::schedules::SchedulesArgs),
    /// Workflows and their runs: list, show, run (--wait), inspect, retry,
    /// cancel (PAT).
    Workflows(crate::commands::workflows::WorkflowsArgs),
    /// The stdio bridge to the server's MCP endpoint, for MCP clients that
    /// launch a local process (agent key).
    Mcp(crate::commands::mcp::McpArgs),
    /// Change your password (PAT; the passwords are read from stdin).
    Password(crate::commands::password::PasswordArgs),
    /// Operator checks and changes over a data directory.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Audit trail checks over a data directory (or --database-url).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Load-test governed requests (email.send on the sandbox) and check the ledger.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Servers benchmarks measure against (hidden: for bench/ scripts).
    #[command(subcommand)]
    pub server: Option<BenchServer>,
    /// Server to load; several comma-separated base URLs are nodes over one
    /// database (setup goes to the first, the load is spread over all).
    /// Without it, a server is started in-process on a temp dir.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Owner PAT of that server (defaults to the data dir's initial credentials).
    #[arg(long, env = "UPIVIA_PAT", hide_env_values = true)]
    pub pat: Option<String>,
    /// Read the PAT from `<data-dir>/initial-credentials.json`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long to drive load, in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// How many agents share the load.
    #[arg(long, default_value_t = 8)]
    pub agents: usize,
    /// Stop after this many requests in all instead of after --duration-secs.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Load a `bench echo-server`: the same request, posted to `/echo`; no
    /// setup and no money checks.
    #[arg(long, requires = "base_url")]
    pub echo: bool,
    /// Skip the final ledger check: it reads the whole ledger, so its cost
    /// grows with the run, which a count per request must leave out.
    #[arg(long)]
    pub no_ledger_check: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BenchServer {
    /// A bare axum JSON echo (POST /echo) on the server's accept loop: the
    /// HTTP ceiling governed requests are compared with. Stops on SIGTERM.
    #[command(hide = true)]
    EchoServer(EchoServerArgs),
}

#[derive(Args, Debug)]
pub struct EchoServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3900")]
    pub listen: SocketAddr,
}

#[derive(Args, Debug, Clone)]
pub struct DataDirArg {
    /// Where the platform keeps its data.
    #[arg(long, env = "UPIVIA_DATA_DIR", default_value = "./upivia-data")]
    pub data_dir: PathBuf,
}

/// The PostgreSQL database to use instead of the data dir's SQLite one.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArg {
    /// Run on this PostgreSQL database (`postgres://user@host:port/db`),
    /// shared by every node, instead of the embedded SQLite database in
    /// the data dir.
    #[arg(long, env = "UPIVIA_DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML file of settings: the same names as these flags, snake_case
    /// (`smtp_url = "…"`) or as their variables (`UPIVIA_SMTP_URL = "…"`).
    /// Flags win over the environment, which wins over the file.
    #[arg(long, env = "UPIVIA_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "UPIVIA_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Credit 10000 cents of sandbox balance and create a demo agent.
    #[arg(long, env = "UPIVIA_DEV")]
    pub dev: bool,
    /// The URL clients use to reach this server (for links it hands out).
    #[arg(long, env = "UPIVIA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How long an approval stays open, in seconds.
    #[arg(long, env = "UPIVIA_APPROVAL_TTL_SECS", default_value_t = 86_400)]
    pub approval_ttl_secs: u64,
    /// How long idempotency keys are kept, in hours (at least 24).
    #[arg(
        long,
        env = "UPIVIA_IDEMPOTENCY_RETENTION_HOURS",
        default_value_t = 168
    )]
    pub idempotency_retention_hours: u64,
    /// How long a provider call may take, in milliseconds.
    #[arg(long, env = "UPIVIA_PROVIDER_TIMEOUT_MS", default_value_t = 30_000)]
    pub provider_timeout_ms: u64,
    /// How long the sandbox takes to complete a voice call, in milliseconds.
    #[arg(long, env = "UPIVIA_VOICE_CALL_DELAY_MS", default_value_t = 2_000)]
    pub voice_call_delay_ms: u64,
    /// How often background workers run, in milliseconds.
    #[arg(long, env = "UPIVIA_WORKER_INTERVAL_MS", default_value_t = 500)]
    pub worker_interval_ms: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "UPIVIA_BODY_LIMIT", default_value_t = 1_048_576)]
    pub body_limit: usize,
    /// Hosts `notification.webhook` and private services may call
    /// (comma-separated; `http://host` allows plain HTTP to that host);
    /// listing any turns on real webhook delivery.
    #[arg(long, env = "UPIVIA_WEBHOOK_HOSTS", value_delimiter = ',')]
    pub webhook_hosts: Vec<String>,
    /// Service requests per minute an agent key may send when its agent has
    /// no rate limit of its own (0: no ceiling).
    #[arg(
        long,
        env = "UPIVIA_KEY_RATE_LIMIT_PER_MINUTE",
        default_value_t = upivia_server::config::DEFAULT_KEY_RATE_LIMIT_PER_MINUTE
    )]
    pub key_rate_limit_per_minute: u32,
    #[command(flatten)]
    pub audit: AuditKeyArgs,
    /// How often the audit chain's head is signed into the checkpoint
    /// file, in seconds (only when it moved; also at start and clean stop).
    #[arg(
        long,
        env = "UPIVIA_AUDIT_CHECKPOINT_INTERVAL_SECS",
        default_value_t = 10
    )]
    pub audit_checkpoint_interval_secs: u64,
    /// Also append every audit checkpoint to this file (e.g. on another disk).
    #[arg(long, env = "UPIVIA_AUDIT_CHECKPOINT_COPY")]
    pub audit_checkpoint_copy: Option<PathBuf>,
    /// Count login failures by the last X-Forwarded-For address (only
    /// behind a reverse proxy that appends it; otherwise clients can spoof it).
    #[arg(long, env = "UPIVIA_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Let `DELETE /triggers/{id}?purge=true` delete a trigger for good
    /// (without it, deleting a trigger disables it and a purge is refused).
    #[arg(long, env = "UPIVIA_ALLOW_TRIGGER_PURGE")]
    pub allow_trigger_purge: bool,
    /// Where stored files live: unset for <data-dir>/objects (one node
    /// only), or s3://bucket[/prefix]?endpoint=https://…&region=… for any
    /// S3-compatible store (needed with several nodes; credentials from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "UPIVIA_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// Bytes one organisation may keep in storage (soft-deleted files count
    /// until they are purged, 7 days after deletion).
    #[arg(long, env = "UPIVIA_STORAGE_QUOTA_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub storage_quota_bytes: u64,
    /// Largest file a presigned upload may declare, in bytes.
    #[arg(long, env = "UPIVIA_STORAGE_PRESIGN_MAX_BYTES", default_value_t = 5 * 1024 * 1024 * 1024)]
    pub storage_presign_max_bytes: u64,
    /// Most memories one agent may hold, archived ones included; a write
    /// past it is refused (409 memory_quota_exceeded).
    #[arg(
        long,
        env = "UPIVIA_MEMORY_QUOTA_PER_AGENT",
        default_value_t = upivia_server::config::DEFAULT_MEMORY_QUOTA_PER_AGENT,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub memory_quota_per_agent: u32,
    /// Longest wait for a request's headers, in milliseconds; also how long
    /// an idle kept-alive connection stays open.
    #[arg(long, env = "UPIVIA_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Most connections open at once; one more is answered 503 and closed.
    #[arg(long, env = "UPIVIA_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Most connections open at once from one client address, an IPv6 /64
    /// counting as one (0: no cap, e.g. behind a reverse proxy).
    #[arg(long, env = "UPIVIA_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// Failed authentications (401s) per minute one client address may
    /// cause before its requests are answered 429 (0: no limit).
    #[arg(long, env = "UPIVIA_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// Bearer token `/metrics` requires (at least 16 characters); without
    /// it `/metrics` is public.
    #[arg(long, env = "UPIVIA_METRICS_TOKEN", hide_env_values = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,
    /// Serve `/metrics` on this address only (the API's address then has
    /// no `/metrics`).
    #[arg(long, env = "UPIVIA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub providers: ProviderArgs,
}

/// Where the audit keys are, when not in the data directory.
#[derive(Args, Debug, Clone)]
pub struct AuditKeyArgs {
    /// The audit chain's HMAC key, 64 hex digits (prefer the variable to
    /// the flag: flags show in the process list). Overrides the key file.
    #[arg(
        long,
        env = "UPIVIA_AUDIT_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub audit_key: Option<String>,
    /// The master key of organisation secrets, 64 hex digits; every node
    /// of one database needs the same [default: <data-dir>/master.key].
    #[arg(
        long,
        env = "UPIVIA_MASTER_KEY",
        hide_env_values = true,
        value_name = "HEX"
    )]
    pub master_key: Option<String>,
    /// The audit key file [default: <data-dir>/audit.key].
    #[arg(long, env = "UPIVIA_AUDIT_KEY_FILE")]
    pub audit_key_file: Option<PathBuf>,
    /// The checkpoint signing key (Ed25519, PKCS#8 PEM)
    /// [default: <data-dir>/audit-signing.key].
    #[arg(long, env = "UPIVIA_AUDIT_SIGNING_KEY_FILE")]
    pub audit_signing_key_file: Option<PathBuf>,
}

fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// Real providers for live keys; each one left unset keeps its operations
/// on the sandbox. Secrets are better given as environment variables
/// (flags show in the process list); `--help` never prints their values.
#[derive(Args, Debug)]
pub struct ProviderArgs {
    /// SMTP server for `email.send`: smtp://user:pass@host:587?tls=required
    /// (STARTTLS; also ?tls=starttls), smtps://…:465, smtp://host:25 (plain).
    #[arg(long, env = "UPIVIA_SMTP_URL", hide_env_values = true, value_parser = secret)]
    pub smtp_url: Option<SecretString>,
    /// Sender of every `email.send`: `addr@domain` or `Name <addr@domain>`.
    #[arg(long, env = "UPIVIA_SMTP_FROM", requires = "smtp_url")]
    pub smtp_from: Option<String>,
    /// OpenAI-compatible API for `text_generation.generate`, up to the
    /// version: https://api.openai.com/v1, http://localhost:11434/v1.
    #[arg(long, env = "UPIVIA_OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,
    /// Sent as `Authorization: Bearer` (local servers need none).
    #[arg(long, env = "UPIVIA_OPENAI_API_KEY", hide_env_values = true, value_parser = secret)]
    pub openai_api_key: Option<SecretString>,
    /// The model every text generation runs on.
    #[arg(long, env = "UPIVIA_OPENAI_MODEL")]
    pub openai_model: Option<String>,
    /// Price of one prompt token in microcents (1e-6 cent): $0.15 per
    /// million tokens is 15.
    #[arg(long, env = "UPIVIA_OPENAI_PRICE_INPUT_MICROCENTS_PER_TOKEN")]
    pub openai_price_input_microcents_per_token: Option<u64>,
    /// Price of one completion token in microcents (1e-6 cent).
    #[arg(long, env = "UPIVIA_OPENAI_PRICE_OUTPUT_MICROCENTS_PER_TOKEN")]
    pub openai_price_output_microcents_per_token: Option<u64>,
    /// OpenAI-compatible API for knowledge embeddings, up to the version
    /// (https://api.openai.com/v1); without it retrieval is full-text only.
    #[arg(long, env = "UPIVIA_EMBEDDINGS_BASE_URL")]
    pub embeddings_base_url: Option<String>,
    /// The embeddings model, e.g. text-embedding-3-small.
    #[arg(
        long,
        env = "UPIVIA_EMBEDDINGS_MODEL",
        requires = "embeddings_base_url"
    )]
    pub embeddings_model: Option<String>,
    /// Sent as `Authorization: Bearer` to the embeddings endpoint.
    #[arg(long, env = "UPIVIA_EMBEDDINGS_API_KEY", hide_env_values = true, value_parser = secret)]
    pub embeddings_api_key: Option<SecretString>,
    /// Standard Webhooks signing secret, whsec_<base64 of 24-64 bytes>, for
    /// organisations that have not made their own (POST
    /// /api/v1/webhooks/signing-secret); needs --webhook-hosts.
    #[arg(long, env = "UPIVIA_WEBHOOK_SIGNING_SECRET", hide_env_values = true, value_parser = secret)]
    pub webhook_signing_secret: Option<SecretString>,
    /// SearXNG instance for `web_search.search` (its JSON format enabled):
    /// https://search.example.com.
    #[arg(long, env = "UPIVIA_SEARXNG_URL")]
    pub searxng_url: Option<String>,
    /// GitHub token for `github.create_issue` (issues: write).
    #[arg(long, env = "UPIVIA_GITHUB_TOKEN", hide_env_values = true, value_parser = secret)]
    pub github_token: Option<SecretString>,
    /// GitHub API base URL (GitHub Enterprise: https://host/api/v3).
    #[arg(
        long,
        env = "UPIVIA_GITHUB_BASE_URL",
        default_value = "https://api.github.com"
    )]
    pub github_base_url: String,
    /// Discord bot token for `discord.send_message`.
    #[arg(long, env = "UPIVIA_DISCORD_BOT_TOKEN", hide_env_values = true, value_parser = secret)]
    pub discord_bot_token: Option<SecretString>,
    /// Discord API base URL.
    #[arg(
        long,
        env = "UPIVIA_DISCORD_BASE_URL",
        default_value = "https://discord.com/api/v10"
    )]
    pub discord_base_url: String,
    /// Slack bot token (xoxb-…) for `chat.dm` (scopes: im:write, chat:write).
    #[arg(long, env = "UPIVIA_SLACK_BOT_TOKEN", hide_env_values = true, value_parser = secret)]
    pub slack_bot_token: Option<SecretString>,
    /// Slack Web API base URL.
    #[arg(
        long,
        env = "UPIVIA_SLACK_BASE_URL",
        default_value = "https://slack.com/api"
    )]
    pub slack_base_url: String,
    /// Mastodon server for `mastodon.post`: https://mastodon.social.
    #[arg(
        long,
        env = "UPIVIA_MASTODON_BASE_URL",
        requires = "mastodon_access_token"
    )]
    pub mastodon_base_url: Option<String>,
    /// Access token of the posting account (scope write:statuses).
    #[arg(long, env = "UPIVIA_MASTODON_ACCESS_TOKEN", hide_env_values = true, value_parser = secret, requires = "mastodon_base_url")]
    pub mastodon_access_token: Option<SecretString>,
    /// Notion integration token (secret_… or ntn_…) for `notion.create_page`.
    #[arg(long, env = "UPIVIA_NOTION_TOKEN", hide_env_values = true, value_parser = secret)]
    pub notion_token: Option<SecretString>,
    /// Notion API base URL.
    #[arg(
        long,
        env = "UPIVIA_NOTION_BASE_URL",
        default_value = "https://api.notion.com"
    )]
    pub notion_base_url: String,
    /// OAuth 2.0 user-context token (scope tweet.write) for `x.post`.
    #[arg(long, env = "UPIVIA_X_ACCESS_TOKEN", hide_env_values = true, value_parser = secret)]
    pub x_access_token: Option<SecretString>,
    /// X API base URL.
    #[arg(long, env = "UPIVIA_X_BASE_URL", default_value = "https://api.x.com")]
    pub x_base_url: String,
    /// Bluesky handle for `bluesky.post`: name.bsky.social.
    #[arg(long, env = "UPIVIA_BLUESKY_HANDLE", requires = "bluesky_app_password")]
    pub bluesky_handle: Option<String>,
    /// An app password of that account (Settings → App passwords).
    #[arg(long, env = "UPIVIA_BLUESKY_APP_PASSWORD", hide_env_values = true, value_parser = secret, requires = "bluesky_handle")]
    pub bluesky_app_password: Option<SecretString>,
    /// The account's PDS.
    #[arg(
        long,
        env = "UPIVIA_BLUESKY_BASE_URL",
        default_value = "https://bsky.social"
    )]
    pub bluesky_base_url: String,
    /// Reddit script app's client id, for `reddit.submit_post` as the
    /// account below (https://www.reddit.com/prefs/apps).
    #[arg(long, env = "UPIVIA_REDDIT_CLIENT_ID", requires_all = ["reddit_client_secret", "reddit_username", "reddit_password"])]
    pub reddit_client_id: Option<String>,
    /// The app's secret.
    #[arg(long, env = "UPIVIA_REDDIT_CLIENT_SECRET", hide_env_values = true, value_parser = secret, requires = "reddit_client_id")]
    pub reddit_client_secret: Option<SecretString>,
    /// The posting account (a developer of the app).
    #[arg(long, env = "UPIVIA_REDDIT_USERNAME", requires = "reddit_client_id")]
    pub reddit_username: Option<String>,
    /// That account's password.
    #[arg(long, env = "UPIVIA_REDDIT_PASSWORD", hide_env_values = true, value_parser = secret, requires = "reddit_client_id")]
    pub reddit_password: Option<SecretString>,
    /// Reddit's OAuth API base URL.
    #[arg(
        long,
        env = "UPIVIA_REDDIT_BASE_URL",
        default_value = "https://oauth.reddit.com"
    )]
    pub reddit_base_url: String,
    /// Where Reddit hands out tokens.
    #[arg(
        long,
        env = "UPIVIA_REDDIT_AUTH_URL",
        default_value = "https://www.reddit.com"
    )]
    pub reddit_auth_url: String,
    /// Twilio account SID (AC…) for `sms.send`, `mms.send` and
    /// `voice_call.create`; call status callbacks need --public-url.
    #[arg(
        long,
        env = "UPIVIA_TWILIO_ACCOUNT_SID",
        requires = "twilio_auth_token"
    )]
    pub twilio_account_sid: Option<String>,
    /// The account's auth token (also what Twilio signs callbacks with).
    #[arg(long, env = "UPIVIA_TWILIO_AUTH_TOKEN", hide_env_values = true, value_parser = secret, requires = "twilio_account_sid")]
    pub twilio_auth_token: Option<SecretString>,
    /// Twilio API base URL.
    #[arg(
        long,
        env = "UPIVIA_TWILIO_BASE_URL",
        default_value = "https://api.twilio.com"
    )]
    pub twilio_base_url: String,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Verify the ledger invariants over the whole database.
    CheckLedger(crate::commands::admin::CheckLedgerArgs),
    /// Create another organisation with its owner (a random password and a
    /// PAT, printed once) in a stopped server's data directory.
    CreateOrg(crate::commands::orgs::CreateOrgArgs),
    /// Write the data directory's SQLite database and signed checkpoints
    /// to stdout (JSON lines, one snapshot; safe while a server runs).
    Export(crate::commands::migrate::ExportArgs),
    /// Read an export from stdin into an empty PostgreSQL database, in one
    /// transaction.
    Import(crate::commands::migrate::ImportArgs),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify the audit chain against the audit key and the signed
    /// checkpoints, and report the first broken link (exit 1).
    Verify(crate::commands::admin::VerifyArgs),
    /// Print the public key that signs audit checkpoints (PEM).
    PublicKey(crate::commands::admin::PublicKeyArgs),
    /// The latest audit entries over the API (PAT); --follow for new ones.
    Tail(crate::commands::audit::TailArgs),
    /// Audit entries over the API, newest first (PAT).
    List(crate::commands::audit::ListArgs),
}
