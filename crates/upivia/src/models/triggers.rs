//! Triggers (API.md §1.12, §2.13).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::JsonMap;

/// A trigger row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Trigger id.
    pub id: String,
    /// The agent the fire runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// `cron` or `webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `service.operation`, e.g. `email.send`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Cron string, or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expr: Option<String>,
    /// Payload with `{{name}}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_template: Option<Value>,
    /// Disabled triggers do not fire.
    #[serde(default)]
    pub disabled: bool,
    /// URL to POST fires to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_url: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Reply of `POST /api/v1/triggers`. The signing `secret` appears here
/// only; `Debug` leaves it out, so a logged reply does not leak it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedTrigger {
    /// The new trigger.
    pub trigger: Trigger,
    /// The HMAC signing secret; it cannot be read again.
    pub secret: String,
    /// Fire URL, for webhook triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_url: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl std::fmt::Debug for CreatedTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTrigger")
            .field("trigger", &self.trigger)
            .field("secret", &"<redacted>")
            .field("fire_url", &self.fire_url)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Reply of a trigger fire (always HTTP 202, even when the dispatch that
/// followed was refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FireResult {
    /// The fire was accepted.
    pub accepted: bool,
    /// Outcome of the service request the fire produced (`executed`,
    /// `blocked`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_status: Option<String>,
    /// Why the dispatch was refused, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// The service request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Keys this SDK does not know.
    #[serde(flatten)]
    pub extra: JsonMap,
}
