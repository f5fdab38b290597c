//! `upivia serve`: binds, prepares the platform, serves until Ctrl-C or
//! SIGTERM, then drains.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use upivia_server::audit::AuditKey;
use upivia_server::config::{
    ApiSettings, Config, OpenAiSettings, ProviderSettings, SmtpSettings, WebhookSecret,
};

use crate::cli::{ProviderArgs, ServeArgs};
use upivia_server::providers::reddit::{RedditAccount, RedditSettings};
use upivia_server::providers::twilio::TwilioSettings;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.listen, args.data.data_dir);
    config.dev = args.dev;
    config.public_base_url = args.public_url;
    config.approval_ttl = Duration::from_secs(args.approval_ttl_secs);
    config.provider_timeout = Duration::from_millis(args.provider_timeout_ms);
    config.idempotency_retention =
        Duration::from_secs(args.idempotency_retention_hours.saturating_mul(3600));
    config.voice_call_delay = Duration::from_millis(args.voice_call_delay_ms);
    config.worker_interval = Duration::from_millis(args.worker_interval_ms);
    config.body_limit = args.body_limit;
    config.webhook_allowed_hosts = args.webhook_hosts;
    config.key_rate_limit_per_minute = Some(args.key_rate_limit_per_minute).filter(|n| *n > 0);
    config.audit_key = args
        .audit
        .audit_key
        .as_deref()
        .map(AuditKey::from_hex)
        .transpose()
        .map_err(|e| anyhow::anyhow!("UPIVIA_AUDIT_KEY: {e}"))?;
    config.master_key = args
        .audit
        .master_key
        .as_deref()
        .map(upivia_server::vault::MasterKey::from_hex)
        .transpose()
        .map_err(|e| anyhow::anyhow!("UPIVIA_MASTER_KEY: {e}"))?;
    config.audit_key_file = args.audit.audit_key_file;
    config.audit_signing_key_file = args.audit.audit_signing_key_file;
    config.audit_checkpoint_interval = Duration::from_secs(args.audit_checkpoint_interval_secs);
    config.audit_checkpoint_copy = args.audit_checkpoint_copy;
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.allow_trigger_purge = args.allow_trigger_purge;
    config.storage_url = args.storage_url;
    config.storage_quota_bytes = args.storage_quota_bytes;
    config.storage_presign_max_bytes = args.storage_presign_max_bytes;
    config.memory_quota_per_agent = args.memory_quota_per_agent;
    config.header_read_timeout = Duration::from_millis(args.header_read_timeout_ms);
    config.max_connections = args.max_connections;
    config.max_connections_per_ip = Some(args.max_connections_per_ip).filter(|n| *n > 0);
    config.auth_failures_per_minute = Some(args.auth_failures_per_minute).filter(|n| *n > 0);
    config.metrics_token = args.metrics_token;
    config.metrics_listen = args.metrics_listen;
    config.database_url = args.database.database_url;
    raise_open_file_limit();
    config.providers = provider_settings(args.providers)?;

    let listener = upivia_server::http_server::bind(config.listen)
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let bound = listener.local_addr()?;
    let prepared = upivia_server::prepare(config, bound)
        .await
        .context("could not start the platform")?;
    if let Some(dev) = &prepared.dev_agent {
        // Shown once, on the terminal only: the store keeps just a hash.
        println!(
            "demo agent {} created; its API key (shown once):",
            dev.agent_id
        );
        println!("  export UPIVIA_API_KEY={}", dev.api_key);
        println!("  export UPIVIA_BASE_URL={}", prepared.base_url);
    }
    if bound.ip().is_unspecified() && advertises_bound_address(&prepared.base_url, bound) {
        // Links the server hands out (fire URLs, signed downloads, upload
        // URLs) would name 0.0.0.0, which no other machine can reach.
        tracing::warn!(
            base_url = %prepared.base_url,
            "listening on a wildcard address without --public-url: the links this \
             server hands out name {}; set --public-url to the address clients use",
            prepared.base_url
        );
    }
    tracing::info!(address = %bound, base_url = %prepared.base_url, "upivia is serving");
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        signal.cancel();
    });
    upivia_server::serve(prepared, listener, shutdown)
        .await
        .context("the server stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}

/// Every connection is a file descriptor, and the soft limit is often
/// 1024 while the hard one is far higher: take what the hard limit allows.
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

/// The real providers the flags configure, checked; the sandbox keeps the
/// rest.
fn provider_settings(args: ProviderArgs) -> anyhow::Result<ProviderSettings> {
    let smtp = match (&args.smtp_url, &args.smtp_from) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(anyhow!(
                "UPIVIA_SMTP_URL needs UPIVIA_SMTP_FROM, the sender"
            ));
        }
        (Some(url), Some(from)) => {
            Some(SmtpSettings::new(url.expose_secret(), from).map_err(|e| anyhow!(e))?)
        }
    };
    let openai = match &args.openai_base_url {
        None => None,
        Some(base) => Some(
            OpenAiSettings::new(
                base,
                args.openai_api_key,
                args.openai_model.as_deref(),
                args.openai_price_input_microcents_per_token,
                args.openai_price_output_microcents_per_token,
            )
            .map_err(|e| anyhow!(e))?,
        ),
    };
    let webhook_signing_secret = args
        .webhook_signing_secret
        .map(|s| WebhookSecret::parse(s.expose_secret()))
        .transpose()
        .map_err(|e| anyhow!(e))?;
    // A token turns its provider on; the base URL alone does not.
    let api = |variable: &str, base: &str, token: Option<SecretString>| {
        ApiSettings::new(variable, base, token).map_err(|e| anyhow!(e))
    };
    let searxng = args
        .searxng_url
        .as_deref()
        .map(|url| api("UPIVIA_SEARXNG_URL", url, None))
        .transpose()?;
    let github = args
        .github_token
        .map(|t| api("UPIVIA_GITHUB_BASE_URL", &args.github_base_url, Some(t)))
        .transpose()?;
    let discord = args
        .discord_bot_token
        .map(|t| api("UPIVIA_DISCORD_BASE_URL", &args.discord_base_url, Some(t)))
        .transpose()?;
    let slack = args
        .slack_bot_token
        .map(|t| api("UPIVIA_SLACK_BASE_URL", &args.slack_base_url, Some(t)))
        .transpose()?;
    let mastodon = match (&args.mastodon_base_url, args.mastodon_access_token) {
        (Some(base), Some(token)) => Some(api("UPIVIA_MASTODON_BASE_URL", base, Some(token))?),
        _ => None,
    };
    let notion = args
        .notion_token
        .map(|t| api("UPIVIA_NOTION_BASE_URL", &args.notion_base_url, Some(t)))
        .transpose()?;
    let x = args
        .x_access_token
        .map(|t| api("UPIVIA_X_BASE_URL", &args.x_base_url, Some(t)))
        .transpose()?;
    let bluesky = match (args.bluesky_handle, args.bluesky_app_password) {
        (Some(handle), Some(password)) => Some((
            api(
                "UPIVIA_BLUESKY_BASE_URL",
                &args.bluesky_base_url,
                Some(password),
            )?,
            handle,
        )),
        _ => None,
    };
    let twilio = match (&args.twilio_account_sid, args.twilio_auth_token) {
        (Some(sid), Some(token)) => {
            Some(TwilioSettings::new(&args.twilio_base_url, sid, token).map_err(|e| anyhow!(e))?)
        }
        _ => None,
    };
    let reddit = match (
        args.reddit_client_id,
        args.reddit_client_secret,
        args.reddit_username,
        args.reddit_password,
    ) {
        (Some(client_id), Some(client_secret), Some(username), Some(password)) => {
            Some(RedditSettings {
                api: api("UPIVIA_REDDIT_BASE_URL", &args.reddit_base_url, None)?,
                auth: api("UPIVIA_REDDIT_AUTH_URL", &args.reddit_auth_url, None)?,
                account: RedditAccount {
                    client_id,
                    client_secret,
                    username,
                    password,
                },
            })
        }
        _ => None,
    };
    let embeddings = match &args.embeddings_base_url {
        None => None,
        Some(base) => Some(
            upivia_server::providers::embeddings::EmbeddingsSettings::new(
                base,
                args.embeddings_model.as_deref(),
                args.embeddings_api_key,
            )
            .map_err(|e| anyhow!(e))?,
        ),
    };
    Ok(ProviderSettings {
        smtp,
        openai,
        embeddings,
        webhook_signing_secret,
        searxng,
        github,
        discord,
        slack,
        mastodon,
        notion,
        x,
        bluesky,
        twilio,
        reddit,
    })
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Whether the advertised base URL is only the bound address (no public
/// URL was configured).
fn advertises_bound_address(base_url: &str, bound: std::net::SocketAddr) -> bool {
    base_url == format!("http://{bound}")
}
