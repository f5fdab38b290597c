//! `discord.send_message` on the Discord API as a bot:
//! `POST {base}/channels/{id}/messages` with `Authorization: Bot <token>`.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, text};
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
};
use crate::catalog::OperationSpec;
use crate::money::Cents;

pub const NAME: &str = "discord";
pub const WHAT: &str = "the Discord API";

pub struct DiscordMessages {
    api: Rest,
}

impl DiscordMessages {
    pub fn new(api: Rest) -> DiscordMessages {
        DiscordMessages { api }
    }
}

#[async_trait]
impl Provider for DiscordMessages {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
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
        let sent = self
            .api
            .send(Call::post(format!("/channels/{channel}/messages"), &body))
            .await?;
        Ok(Execution::Completed {
            result: json!({
                "id": text(&sent, "id", WHAT)?,
                "channel_id": text(&sent, "channel_id", WHAT)?,
                "content": sent["content"].as_str().unwrap_or_default(),
                "timestamp": text(&sent, "timestamp", WHAT)?,
            }),
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(super::synchronous(poll))
    }
}
