//! `discord.send_message` on the Discord API as a bot:
//! `POST {base}/channels/{id}/messages` with `Authorization: Bot <token>`.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "discord";
pub const WHAT: &str = "the Discord API";

pub struct DiscordMessages;

#[async_trait]
impl RestOperation for DiscordMessages {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        // The catalog's pattern allows digits only, so the path is safe.
        let channel = p["channel_id"]
            .as_str()
            .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ProviderError::Adapter("discord.send_message: `channel_id` is a snowflake".into())
            })?;
        let body = json!({
            "content": p["content"],
            "tts": p["tts"].as_bool().unwrap_or(false),
            // Agents' text must not ping @everyone or roles by surprise.
            "allowed_mentions": {"parse": ["users"]},
        });
        let sent = api
            .send(Call::post(format!("/channels/{channel}/messages"), &body))
            .await?;
        Ok(json!({
            "id": text(&sent, "id", WHAT)?,
            "channel_id": text(&sent, "channel_id", WHAT)?,
            "content": sent["content"].as_str().unwrap_or_default(),
            "timestamp": text(&sent, "timestamp", WHAT)?,
        }))
    }
}
