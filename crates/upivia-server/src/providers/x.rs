//! `x.post` on the X API v2: `POST {base}/2/tweets` with an OAuth 2.0
//! user-context token (scope `tweet.write`). The answer carries only the
//! id and text; the link is built from the id, and the time is when it was
//! accepted.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, RestOperation, field, text};
use super::{ProviderCall, ProviderError, timestamp};

pub const NAME: &str = "x";
pub const WHAT: &str = "the X API";

pub struct XPost;

#[async_trait]
impl RestOperation for XPost {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let p = call.payload;
        let mut body = json!({"text": p["text"]});
        if let Some(reply_to) = p["reply_to_id"].as_str() {
            body["reply"] = json!({"in_reply_to_tweet_id": reply_to});
        }
        let answer = api.send(Call::post("/2/tweets", &body)).await?;
        let data = field(&answer, "data", WHAT)?;
        let id = text(data, "id", WHAT)?;
        Ok(json!({
            "id": id,
            "text": data["text"].as_str().unwrap_or_default(),
            "url": format!("https://x.com/i/web/status/{id}"),
            "created_at": timestamp(call.now),
        }))
    }
}
