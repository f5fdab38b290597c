//! Registers the real providers the configuration names, beside the
//! sandbox. An operation whose provider is not configured stays on the
//! sandbox for every key; test keys stay on it regardless.

use std::sync::Arc;

use super::bluesky::{self, BlueskyPost};
use super::discord::{self, DiscordMessages};
use super::email::SmtpProvider;
use super::github::{self, GitHubIssues};
use super::mastodon::{self, MastodonPost};
use super::notion::{self, NotionPage};
use super::openai::{OpenAiClient, Prices, TextGeneration};
use super::reddit::{self, RedditPost};
use super::rest::{Rest, RestOperation, RestProvider};
use super::search::{self, SearxSearch};
use super::signing::SigningKeys;
use super::slack::{self, SlackDm, SlackRead};
use super::twilio::{Twilio, TwilioOperation, TwilioProvider};
use super::webhook::WebhookDelivery;
use super::x::{self, XPost};
use super::{Outbound, Provider, Providers};
use crate::config::{ApiSettings, ProviderSettings};

/// One live operation, for the start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOperation {
    pub operation: &'static str,
    pub provider: &'static str,
    /// Where it goes, without credentials.
    pub upstream: String,
}

/// A provider on a third-party JSON API, for registration.
struct RestApi<'a> {
    settings: Option<&'a ApiSettings>,
    operation: &'static str,
    provider: &'static str,
    what: &'static str,
    /// How the token is sent (`Authorization: <scheme> <token>`).
    scheme: Option<&'static str>,
    make: fn() -> Box<dyn RestOperation>,
}

/// Adds a live provider for each configured one; the client's timeout
/// bounds every call, retries included.
pub fn register_live(
    settings: &ProviderSettings,
    outbound: &Outbound,
    public_url: Option<&str>,
    providers: &mut Providers,
) -> Result<Vec<LiveOperation>, String> {
    let mut live = Vec::new();
    let http = outbound.http.clone();
    let timeout = http.timeout();
    if let Some(smtp) = &settings.smtp {
        let provider: Arc<dyn Provider> = Arc::new(SmtpProvider::new(smtp, timeout)?);
        providers.register_live("email.send", provider);
        live.push(LiveOperation {
            operation: "email.send",
            provider: super::email::NAME,
            upstream: smtp.redacted_url(),
        });
    }
    if let Some(openai) = &settings.openai {
        let client = OpenAiClient::new(openai, http.clone())?;
        let upstream = format!("{} ({})", client.endpoint(), client.model());
        let prices = Prices {
            input_microcents_per_token: openai.price_input_microcents_per_token,
            output_microcents_per_token: openai.price_output_microcents_per_token,
        };
        providers.register_live(
            "text_generation.generate",
            Arc::new(TextGeneration::new(client, prices)),
        );
        live.push(LiveOperation {
            operation: "text_generation.generate",
            provider: super::openai::NAME,
            upstream,
        });
    }
    let apis = [
        RestApi {
            settings: settings.searxng.as_ref(),
            operation: "web_search.search",
            provider: search::NAME,
            what: search::WHAT,
            scheme: None,
            make: || Box::new(SearxSearch),
        },
        RestApi {
            settings: settings.github.as_ref(),
            operation: "github.create_issue",
            provider: github::NAME,
            what: github::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(GitHubIssues),
        },
        RestApi {
            settings: settings.discord.as_ref(),
            operation: "discord.send_message",
            provider: discord::NAME,
            what: discord::WHAT,
            scheme: Some("Bot"),
            make: || Box::new(DiscordMessages),
        },
        RestApi {
            settings: settings.slack.as_ref(),
            operation: "chat.dm",
            provider: slack::NAME,
            what: slack::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(SlackDm),
        },
        RestApi {
            settings: settings.slack.as_ref(),
            operation: "chat.read",
            provider: slack::NAME,
            what: slack::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(SlackRead::default()),
        },
        RestApi {
            settings: settings.mastodon.as_ref(),
            operation: "mastodon.post",
            provider: mastodon::NAME,
            what: mastodon::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(MastodonPost),
        },
        RestApi {
            settings: settings.notion.as_ref(),
            operation: "notion.create_page",
            provider: notion::NAME,
            what: notion::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(NotionPage),
        },
        RestApi {
            settings: settings.x.as_ref(),
            operation: "x.post",
            provider: x::NAME,
            what: x::WHAT,
            scheme: Some("Bearer"),
            make: || Box::new(XPost),
        },
    ];
    for api in apis {
        let Some(configured) = api.settings else {
            continue;
        };
        let rest = Rest::new(configured.clone(), http.clone(), api.what, api.scheme);
        let upstream = rest.describe();
        providers.register_live(
            api.operation,
            Arc::new(RestProvider::new(rest, (api.make)())),
        );
        live.push(LiveOperation {
            operation: api.operation,
            provider: api.provider,
            upstream,
        });
    }
    if let Some((api, identifier)) = &settings.bluesky {
        let rest = Rest::new(api.clone(), http.clone(), bluesky::WHAT, None);
        let upstream = format!("{} ({identifier})", rest.describe());
        providers.register_live(
            "bluesky.post",
            Arc::new(RestProvider::new(
                rest,
                Box::new(BlueskyPost::new(identifier.clone())),
            )),
        );
        live.push(LiveOperation {
            operation: "bluesky.post",
            provider: bluesky::NAME,
            upstream,
        });
    }
    if let Some(reddit) = &settings.reddit {
        let rest = Rest::new(reddit.api.clone(), http.clone(), reddit::WHAT, None);
        let auth = Rest::new(reddit.auth.clone(), http.clone(), reddit::WHAT, None);
        let upstream = format!("{} (u/{})", rest.describe(), reddit.account.username);
        providers.register_live(
            "reddit.submit_post",
            Arc::new(RestProvider::new(
                rest,
                Box::new(RedditPost::new(auth, reddit.account.clone())),
            )),
        );
        live.push(LiveOperation {
            operation: "reddit.submit_post",
            provider: reddit::NAME,
            upstream,
        });
    }
    if let Some(twilio) = &settings.twilio {
        let api = Twilio::new(twilio.clone(), http.clone(), public_url);
        let upstream = api.describe();
        for (operation, kind) in [
            ("sms.send", TwilioOperation::Sms),
            ("sms.read", TwilioOperation::SmsRead),
            ("mms.send", TwilioOperation::Mms),
            ("voice_call.create", TwilioOperation::VoiceCall),
        ] {
            providers.register_live(operation, Arc::new(TwilioProvider::new(api.clone(), kind)));
            live.push(LiveOperation {
                operation,
                provider: super::twilio::NAME,
                upstream: upstream.clone(),
            });
        }
    }
    // Listing hosts turns delivery on; each organisation signs with its
    // own secret, the configured one standing in for those without.
    if !outbound.hosts.is_empty() {
        let hosts = outbound.hosts.clone();
        let upstream = hosts.describe();
        let keys = SigningKeys::new(settings.webhook_signing_secret.clone());
        providers.register_live(
            "notification.webhook",
            Arc::new(WebhookDelivery::new(http, hosts, keys)),
        );
        live.push(LiveOperation {
            operation: "notification.webhook",
            provider: super::webhook::NAME,
            upstream,
        });
    }
    Ok(live)
}
