//! Slack on the Web API as a bot. `chat.dm`: `conversations.open` with the
//! user, then `chat.postMessage` to that conversation; `chat.read`:
//! `conversations.history` (a `#name` found once with
//! `conversations.list`). Slack answers 200
//! with `{ok: false, error}` for refusals; those are adapter errors, and
//! `ratelimited` or `fatal_error` say the upstream is unavailable.

use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Mutex;

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
/// A channel given as `#name` is found by a paged walk of
/// `conversations.list` once, then its id is kept; a kept id Slack no
/// longer knows (the channel was renamed or deleted) is looked up again.
#[derive(Default)]
pub struct SlackRead {
    ids: Mutex<HashMap<String, String>>,
}

/// At most this many pages of 200 channels are walked for one name.
const MAX_LIST_PAGES: usize = 25;

impl SlackRead {
    async fn channel_id(&self, api: &Rest, name: &str) -> Result<String, ProviderError> {
        if let Some(id) = self.ids.lock().await.get(name) {
            return Ok(id.clone());
        }
        let mut cursor = String::new();
        for _ in 0..MAX_LIST_PAGES {
            let page = method(
                api,
                "conversations.list",
                &json!({"types": "public_channel,private_channel", "exclude_archived": true,
                        "limit": 200, "cursor": cursor}),
            )
            .await?;
            let found = page["channels"].as_array().and_then(|all| {
                all.iter()
                    .find(|c| c["name"].as_str() == Some(name))
                    .and_then(|c| c["id"].as_str())
            });
            if let Some(id) = found {
                self.ids.lock().await.insert(name.to_owned(), id.to_owned());
                return Ok(id.to_owned());
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if cursor.is_empty() {
                break;
            }
        }
        Err(ProviderError::Adapter(format!(
            "chat.read: the bot sees no channel named #{name} (invite it, or give the channel's id)"
        )))
    }

    async fn history(
        &self,
        api: &Rest,
        channel: &str,
        oldest: &str,
        limit: u64,
    ) -> Result<(String, Value), ProviderError> {
        let Some(name) = channel.strip_prefix('#') else {
            let body = json!({"channel": channel, "oldest": oldest, "limit": limit});
            return Ok((
                channel.to_owned(),
                method(api, "conversations.history", &body).await?,
            ));
        };
        for attempt in 0..2 {
            let id = self.channel_id(api, name).await?;
            let body = json!({"channel": id, "oldest": oldest, "limit": limit});
            match method(api, "conversations.history", &body).await {
                Ok(history) => return Ok((id, history)),
                Err(ProviderError::Adapter(m))
                    if attempt == 0 && m.ends_with("channel_not_found") =>
                {
                    self.ids.lock().await.remove(name);
                }
                Err(e) => return Err(e),
            }
        }
        Err(ProviderError::Adapter(format!(
            "chat.read: #{name} was not found"
        )))
    }
}

#[async_trait]
impl RestOperation for SlackRead {
    fn name(&self) -> &'static str {
        NAME
    }

    fn has_side_effects(&self) -> bool {
        false
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let channel = p["channel"]
            .as_str()
            .ok_or_else(|| ProviderError::Adapter("chat.read: `channel` is required".into()))?;
        let start = window::since(p["since"].as_str().unwrap_or("24h"), call.now)
            .map_err(|why| ProviderError::Adapter(format!("chat.read: {why}")))?;
        let limit = p["limit"].as_u64().unwrap_or(50);
        let oldest = format!("{}.000000", start.unix_timestamp());
        let (id, history) = self.history(api, channel, &oldest, limit).await?;
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
            "channel_id": id,
            "since": timestamp(start),
            "has_more": history["has_more"].as_bool().unwrap_or(false),
            "messages": messages,
        }))
    }
}
