//! `chat.dm` on the Slack Web API as a bot: `conversations.open` with the
//! user, then `chat.postMessage` to that conversation. Slack answers 200
//! with `{ok: false, error}` for refusals; those are adapter errors, and
//! `ratelimited` or `fatal_error` say the upstream is unavailable.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::rest::{Call, Rest, text};
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
};
use crate::catalog::OperationSpec;
use crate::money::Cents;

pub const NAME: &str = "slack";
pub const WHAT: &str = "the Slack API";

pub struct SlackDm {
    api: Rest,
}

impl SlackDm {
    pub fn new(api: Rest) -> SlackDm {
        SlackDm { api }
    }

    async fn method(&self, name: &str, body: &Value) -> Result<Value, ProviderError> {
        let answer = self.api.send(Call::post(format!("/{name}"), body)).await?;
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
}

#[async_trait]
impl Provider for SlackDm {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let p = call.payload;
        let user = p["user_id"]
            .as_str()
            .ok_or_else(|| ProviderError::Adapter("chat.dm: `user_id` is required".into()))?;
        let opened = self
            .method("conversations.open", &json!({"users": user}))
            .await?;
        let channel = opened["channel"]["id"].as_str().ok_or_else(|| {
            ProviderError::Adapter(format!("{WHAT} opened no conversation with {user}"))
        })?;
        let mut message = json!({"channel": channel, "text": p["text"]});
        if let Some(blocks) = p.get("blocks").filter(|b| !b.is_null()) {
            message["blocks"] = blocks.clone();
        }
        let posted = self.method("chat.postMessage", &message).await?;
        Ok(Execution::Completed {
            result: json!({
                "ok": true,
                "channel": text(&posted, "channel", WHAT)?,
                "ts": text(&posted, "ts", WHAT)?,
                "user_id": user,
            }),
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(super::synchronous(poll))
    }
}
