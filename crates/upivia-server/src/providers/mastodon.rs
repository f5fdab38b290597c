//! `mastodon.post` on a Mastodon server's API: `POST {base}/api/v1/statuses`
//! with the account's access token and the request id as
//! `Idempotency-Key`, which Mastodon honours, so a retried post is one post.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::rest::{Call, Rest, RestOperation, text};
use super::{ProviderCall, ProviderError};

pub const NAME: &str = "mastodon";
pub const WHAT: &str = "the Mastodon API";

/// Mastodon remembers an `Idempotency-Key` for an hour; a few minutes
/// are left for the clocks of the two machines.
const IDEMPOTENCY_WINDOW: std::time::Duration = std::time::Duration::from_secs(55 * 60);

pub struct MastodonPost;

#[async_trait]
impl RestOperation for MastodonPost {
    fn name(&self) -> &'static str {
        NAME
    }

    fn replay_window(&self) -> Option<std::time::Duration> {
        Some(IDEMPOTENCY_WINDOW)
    }

    async fn run(&self, api: &Rest, call: &ProviderCall<'_>) -> Result<Value, ProviderError> {
        let mut body = Map::new();
        for key in [
            "status",
            "visibility",
            "spoiler_text",
            "sensitive",
            "language",
        ] {
            if let Some(v) = call.payload.get(key).filter(|v| !v.is_null()) {
                body.insert(key.to_owned(), v.clone());
            }
        }
        let body = Value::Object(body);
        let mut request = Call::post("/api/v1/statuses", &body);
        request.headers = vec![("idempotency-key", call.request_id)];
        let status = api.send(request).await?;
        Ok(json!({
            "id": text(&status, "id", WHAT)?,
            "uri": text(&status, "uri", WHAT)?,
            "url": status["url"].as_str().unwrap_or(text(&status, "uri", WHAT)?),
            "visibility": text(&status, "visibility", WHAT)?,
            "content": status["content"].as_str().unwrap_or_default(),
            "created_at": text(&status, "created_at", WHAT)?,
        }))
    }
}
