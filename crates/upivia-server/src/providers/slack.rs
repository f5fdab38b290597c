//! `chat.dm` on the Slack Web API as a bot: `conversations.open` with the
//! user, then `chat.postMessage` to that conversation. Slack answers 200
//! with `{ok: false, error}` for refusals; those are adapter errors, and
//! `ratelimited` or `fatal_error` say the upstream is unavailable.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "slack";
pub const WHAT: &str = "the Slack API";

pub struct SlackDm;

/// One Web API method; Slack's `{ok: false}` becomes the error.
async fn method(api: &Rest, name: &str, body: &Value) -> Result<Value, ProviderError> {
    let answer = api.send(Call::post(format!("/{name}"), body)).await?;
    if answer["ok"] == true {
        return Ok(answer);
    }
    let error = answer["error"].as_str().unwrap_or("no error given");
    let message = format!("{WHAT} refused {name}: {error}");
    Err(match error {
        "ratelimited"
        | "fatal_error"
        | "internal_error"
        | "service_unavailable"
        | "request_timeout" => ProviderError::Unavailable(message),
        _ => ProviderError::Adapter(message),
    })
}

#[async_trait]
impl RestOperation for SlackDm {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let user = p["user_id"]
            .as_str()
            .ok_or_else(|| ProviderError::Adapter("chat.dm: `user_id` is required".into()))?;
        let opened = method(api, "conversations.open", &json!({"users": user})).await?;
        let channel = opened["channel"]["id"].as_str().ok_or_else(|| {
            ProviderError::Adapter(format!("{WHAT} opened no conversation with {user}"))
        })?;
        let mut message = json!({"channel": channel, "text": p["text"]});
        if let Some(blocks) = p.get("blocks").filter(|b| !b.is_null()) {
            message["blocks"] = blocks.clone();
        }
        let posted = method(api, "chat.postMessage", &message).await?;
        Ok(json!({
            "ok": true,
            "channel": text(&posted, "channel", WHAT)?,
            "ts": text(&posted, "ts", WHAT)?,
            "user_id": user,
        }))
    }
}
