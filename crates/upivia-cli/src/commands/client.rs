//! The flags every client command shares: where the server is, which
//! credential to send, and whether to print JSON. Client commands reach
//! the server only through the SDK built here. Without `--base-url` or
//! `--pat` (or their variables), the login `upivia login` stored stands
//! in for them.

use anyhow::Context;
use clap::Args;

use super::progress;
use crate::credentials;

/// Where a client command goes when nothing says otherwise.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";

/// Connection and output flags of the client commands.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server's base URL [default: the one `upivia login` stored, else
    /// http://127.0.0.1:3000].
    #[arg(long, env = "UPIVIA_BASE_URL", global = true)]
    pub base_url: Option<String>,
    /// Agent API key (agent_key_…), for agent endpoints.
    #[arg(long, env = "UPIVIA_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Personal access token (upivia_pat_…), for workspace endpoints
    /// [default: the one `upivia login` stored, for its server only].
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

/// The server and credentials a command uses, flags and environment
/// first, then the stored login.
struct Target {
    base_url: String,
    pat: Option<String>,
    /// The stored login's server, when it was read and its PAT not used
    /// because another server was named.
    other_login: Option<String>,
}

fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

impl ClientArgs {
    fn target(&self) -> anyhow::Result<Target> {
        let url = given(self.base_url.as_deref());
        let pat = given(self.pat.as_deref());
        if let (Some(url), Some(pat)) = (url, pat) {
            return Ok(Target {
                base_url: url.to_owned(),
                pat: Some(pat.to_owned()),
                other_login: None,
            });
        }
        let stored = credentials::load()?;
        let base_url = url
            .map(str::to_owned)
            .or_else(|| stored.as_ref().map(|s| s.base_url.clone()))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let mut other_login = None;
        let pat = match (pat, stored) {
            (Some(pat), _) => Some(pat.to_owned()),
            // A stored PAT goes only to the server it was stored for.
            (None, Some(s)) if credentials::same_server(&s.base_url, &base_url) => Some(s.pat),
            (None, Some(s)) => {
                other_login = Some(s.base_url);
                None
            }
            (None, None) => None,
        };
        Ok(Target {
            base_url,
            pat,
            other_login,
        })
    }

    /// The server's base URL: the flag, the variable, the stored login's
    /// or the default.
    pub fn base_url(&self) -> anyhow::Result<String> {
        Ok(self.target()?.base_url)
    }

    /// The SDK client for these flags.
    pub fn client(&self) -> anyhow::Result<upivia::Client> {
        let target = self.target()?;
        let mut builder = upivia::Client::builder()
            .base_url(&target.base_url)
            // A rate limit's Retry-After can be a minute: say so instead
            // of waiting in silence.
            .on_retry(progress::announce_retry);
        if self.no_retry {
            builder = builder.max_retries(0);
        }
        if let Some(key) = given(self.api_key.as_deref()) {
            builder = builder.api_key(key);
        }
        if let Some(pat) = target.pat {
            builder = builder.pat(pat);
        }
        builder.build().context("invalid client settings")
    }

    /// Fails early, with the flag to set, when a workspace command has no
    /// PAT (given, or stored for this server).
    pub fn require_pat(&self) -> anyhow::Result<()> {
        let target = self.target()?;
        if target.pat.is_some() {
            return Ok(());
        }
        match target.other_login {
            Some(stored) => anyhow::bail!(
                "this command needs a personal access token for {}: pass --pat or set UPIVIA_PAT \
                 (the stored login is for {stored})",
                target.base_url
            ),
            None => anyhow::bail!(
                "this command needs a personal access token: run upivia login, pass --pat or set UPIVIA_PAT"
            ),
        }
    }

    /// Fails early when an agent command has no agent key.
    pub fn require_api_key(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            given(self.api_key.as_deref()).is_some(),
            "this command needs an agent API key: pass --api-key or set UPIVIA_API_KEY"
        );
        Ok(())
    }
}
