//! Registers the real providers the configuration names, beside the
//! sandbox. An operation whose provider is not configured stays on the
//! sandbox for every key; test keys stay on it regardless.

use std::sync::Arc;

use super::email::SmtpProvider;
use super::openai::{OpenAiClient, Prices, TextGeneration};
use super::signing::SigningKeys;
use super::webhook::WebhookDelivery;
use super::{Outbound, Provider, Providers};
use crate::config::ProviderSettings;

/// One live operation, for the start-up log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveOperation {
    pub operation: &'static str,
    pub provider: &'static str,
    /// Where it goes, without credentials.
    pub upstream: String,
}

/// Adds a live provider for each configured one; the client's timeout
/// bounds every call, retries included.
pub fn register_live(
    settings: &ProviderSettings,
    outbound: &Outbound,
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
