//! Slack on the Web API as a bot. `chat.dm`: `conversations.open` with the
//! user, then `chat.postMessage` to that conversation; `chat.read`:
//! `conversations.history`. Slack answers 200
//! with `{ok: false, error}` for refusals; those are adapter errors, and
//! `ratelimited` or `fatal_error` say the upstream is unavailable.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError, timestamp, window};

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

/// `chat.read`: `conversations.history` of a channel since a point in time.
/// The channel is given by id; a `#name` would take a paged walk of
/// `conversations.list` per call, so live reads ask for the id instead.
pub struct SlackRead;

#[async_trait]
impl RestOperation for SlackRead {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let channel = p["channel"]
            .as_str()
            .ok_or_else(|| ProviderError::Adapter("chat.read: `channel` is required".into()))?;
        if channel.starts_with('#') {
            return Err(ProviderError::Adapter(format!(
                "chat.read: give the channel's id (C…) rather than {channel}; live reads do not \
                 look names up"
            )));
        }
        let start = window::since(p["since"].as_str().unwrap_or("24h"), call.now)
            .map_err(|why| ProviderError::Adapter(format!("chat.read: {why}")))?;
        let limit = p["limit"].as_u64().unwrap_or(50);
        let oldest = format!("{}.000000", start.unix_timestamp());
        let history = method(
            api,
            "conversations.history",
            &json!({"channel": channel, "oldest": oldest, "limit": limit}),
        )
        .await?;
        let messages: Vec<Value> = history["messages"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|m| {
                        Some(json!({
                            "ts": m["ts"].as_str()?,
                            "user": m["user"].as_str().or(m["bot_id"].as_str()).unwrap_or(""),
                            "text": m["text"].as_str().unwrap_or(""),
                        }))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(json!({
            "channel": channel,
            "since": timestamp(start),
            "has_more": history["has_more"].as_bool().unwrap_or(false),
            "messages": messages,
        }))
    }
}
