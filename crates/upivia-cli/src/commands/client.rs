//! The flags every client command shares: where the server is, which
//! credential to send, and whether to print JSON. Client commands reach
//! the server only through the SDK built here.

use anyhow::Context;
use clap::Args;

/// Connection and output flags of the client commands.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server's base URL.
    #[arg(
        long,
        env = "UPIVIA_BASE_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub base_url: String,
    /// Agent API key (agent_key_…), for agent endpoints.
    #[arg(long, env = "UPIVIA_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Personal access token (upivia_pat_…), for workspace endpoints.
    #[arg(long, env = "UPIVIA_PAT", hide_env_values = true, global = true)]
    pub pat: Option<String>,
    /// Print JSON (the API's own objects, money in integer cents) instead
    /// of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Fail at once on a rate limit or an unavailable server instead of
    /// waiting and retrying.
    #[arg(long, global = true)]
    pub no_retry: bool,
}

impl ClientArgs {
    /// The SDK client for these flags.
    pub fn client(&self) -> anyhow::Result<upivia::Client> {
        let mut builder = upivia::Client::builder()
            .base_url(&self.base_url)
            // A rate limit's Retry-After can be a minute: say so instead
            // of waiting in silence.
            .on_retry(|n| {
                let why = match n.status {
                    Some(429) => "rate limited".to_owned(),
                    Some(status) => format!("the server answered {status}"),
                    None => "the server could not be reached".to_owned(),
                };
                eprintln!(
                    "{why}: retrying {} {} in {} s (attempt {}; --no-retry fails at once)",
                    n.method,
                    n.path,
                    n.delay.as_secs_f64().ceil(),
                    n.attempt
                );
            });
        if self.no_retry {
            builder = builder.max_retries(0);
        }
        if let Some(key) = self.api_key.as_deref().filter(|k| !k.is_empty()) {
            builder = builder.api_key(key);
        }
        if let Some(pat) = self.pat.as_deref().filter(|p| !p.is_empty()) {
            builder = builder.pat(pat);
        }
        builder.build().context("invalid client settings")
    }

    /// Fails early, with the flag to set, when a workspace command has no PAT.
    pub fn require_pat(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.pat.as_deref().is_some_and(|p| !p.is_empty()),
            "this command needs a personal access token: pass --pat or set UPIVIA_PAT"
        );
        Ok(())
    }

    /// Fails early when an agent command has no agent key.
    pub fn require_api_key(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.api_key.as_deref().is_some_and(|k| !k.is_empty()),
            "this command needs an agent API key: pass --api-key or set UPIVIA_API_KEY"
        );
        Ok(())
    }
}
