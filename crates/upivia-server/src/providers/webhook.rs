//! `notification.webhook`: the request rules both the sandbox and real
//! delivery enforce ([`WebhookRequest::parse`]), and [`WebhookDelivery`],
//! which sends it: to allow-listed hosts only (see `hosts.rs` for the SSRF
//! guard), signed the Standard Webhooks way, retrying 429 and 5xx answers
//! with backoff within the provider timeout. Every attempt carries the same
//! `webhook-id`, so a receiver can drop duplicates.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use url::Url;

use super::hosts::{AllowList, Reach};
use super::http::{HttpClient, Retry};
use super::signing::{SigningKeys, sign};
use super::{
    Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll, list_price,
    timestamp,
};
use crate::catalog::OperationSpec;
use crate::money::Cents;

/// The name requests report as their `provider`.
pub const NAME: &str = "webhook";
pub const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 50;
const MAX_HEADER_VALUE: usize = 8192;
/// Set by the HTTP client from the request itself, or by the signature;
/// letting a payload set them would allow request smuggling, confuse the
/// receiver or forge a signature.
const RESERVED_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// A checked `notification.webhook` payload.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    pub url: Url,
    pub method: &'static str,
    pub headers: Vec<(String, String)>,
    /// The JSON body as sent; `None` sends an empty body.
    pub body: Option<Vec<u8>>,
    pub reach: Reach,
}

fn invalid(message: impl std::fmt::Display) -> ProviderError {
    ProviderError::Adapter(format!("notification.webhook: {message}"))
}

/// An HTTP token (RFC 9110 §5.6.2).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl WebhookRequest {
    pub fn parse(
        map: &Map<String, Value>,
        hosts: &AllowList,
    ) -> Result<WebhookRequest, ProviderError> {
        let get = |k: &str| map.get(k).filter(|v| !v.is_null());
        let raw = get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("`url` is required"))?;
        if raw.len() > 2048 {
            return Err(invalid("`url` is longer than 2048 characters"));
        }
        let url = Url::parse(raw).map_err(|e| invalid(format_args!("`url` is not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "`url` must not carry credentials; send them in `headers` instead",
            ));
        }
        let reach = hosts.check(&url).map_err(invalid)?;
        let method = match get("method").map(|m| m.as_str()) {
            None => "POST",
            Some(Some("POST")) => "POST",
            Some(Some("PUT")) => "PUT",
            Some(Some("PATCH")) => "PATCH",
            Some(other) => {
                return Err(invalid(format_args!(
                    "`method` must be POST, PUT or PATCH, not {}",
                    other.map_or("a non-string".to_owned(), |m| format!("{m:?}"))
                )));
            }
        };
        let mut headers = Vec::new();
        if let Some(given) = get("headers") {
            let given = given
                .as_object()
                .ok_or_else(|| invalid("`headers` must be an object"))?;
            if given.len() > MAX_HEADERS {
                return Err(invalid(format_args!("at most {MAX_HEADERS} headers")));
            }
            for (name, value) in given {
                if !is_header_name(name) {
                    return Err(invalid(format_args!("{name:?} is not a valid header name")));
                }
                if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    return Err(invalid(format_args!(
                        "header {name:?} is set by the platform and cannot be overridden"
                    )));
                }
                let Some(value) = value.as_str() else {
                    return Err(invalid(format_args!("header {name:?} must be a string")));
                };
                if value.contains(['\r', '\n', '\0']) || value.len() > MAX_HEADER_VALUE {
                    return Err(invalid(format_args!(
                        "header {name:?} must be one line of at most {MAX_HEADER_VALUE} bytes"
                    )));
                }
                headers.push((name.clone(), value.to_owned()));
            }
        }
        let body = match get("body") {
            None => None,
            Some(body) => {
                let bytes = serde_json::to_vec(body)
                    .map_err(|e| invalid(format_args!("`body` cannot be serialised: {e}")))?;
                if bytes.len() > MAX_BODY_BYTES {
                    return Err(invalid(format_args!(
                        "`body` is {} bytes as JSON; the limit is {MAX_BODY_BYTES}",
                        bytes.len()
                    )));
                }
                Some(bytes)
            }
        };
        Ok(WebhookRequest {
            url,
            method,
            headers,
            body,
            reach,
        })
    }
}

/// The delivery id of a request: stable across attempts and replays.
pub fn delivery_id(request_id: &str) -> String {
    format!(
        "whd_{}",
        request_id.strip_prefix("req_").unwrap_or(request_id)
    )
}

/// Real delivery.
pub struct WebhookDelivery {
    http: HttpClient,
    hosts: AllowList,
    keys: SigningKeys,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("hosts", &self.hosts.describe())
            .finish_non_exhaustive()
    }
}

impl WebhookDelivery {
    pub fn new(http: HttpClient, hosts: AllowList, keys: SigningKeys) -> Self {
        WebhookDelivery { http, hosts, keys }
    }
}

#[async_trait]
impl Provider for WebhookDelivery {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, operation: &OperationSpec, _payload: &Value) -> Cents {
        list_price(operation)
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let map = call
            .payload
            .as_object()
            .ok_or_else(|| invalid("the payload must be a JSON object"))?;
        let request = WebhookRequest::parse(map, &self.hosts)?;
        let key = self.keys.key_for(&call).await?;
        let id = delivery_id(call.request_id);
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| invalid(format_args!("bad method: {e}")))?;
        let body = request.body.clone().unwrap_or_default();
        let started = Instant::now();
        let start_secs = call.now.unix_timestamp();
        let mut log = Vec::new();
        let sent = self
            .http
            .send_logged(
                request.reach,
                "the webhook receiver",
                Retry::RateLimitedAndServerErrors,
                |client, _attempt| {
                    // Each attempt is signed at its own time, as receivers
                    // check the timestamp's freshness.
                    let elapsed = i64::try_from(started.elapsed().as_secs()).unwrap_or(0);
                    let ts = start_secs.saturating_add(elapsed);
                    let mut req = client.request(method.clone(), request.url.clone());
                    let mut has_content_type = false;
                    for (name, value) in &request.headers {
                        has_content_type |= name.eq_ignore_ascii_case("content-type");
                        req = req.header(name.as_str(), value.as_str());
                    }
                    if request.body.is_some() && !has_content_type {
                        req = req.header(reqwest::header::CONTENT_TYPE, "application/json");
                    }
                    req.header("webhook-id", id.as_str())
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", sign(key.key(), &id, ts, &body))
                        .body(body.clone())
                },
                &mut log,
            )
            .await;
        let attempt_log: Vec<Value> = log.iter().map(|a| a.to_json()).collect();
        // A failed delivery tells every attempt in its message, which the
        // audit event carries.
        let reply = sent.map_err(|error| {
            let tried: Vec<String> = log
                .iter()
                .map(|a| match (a.status, &a.error) {
                    (Some(code), _) => format!("#{} HTTP {code} at {} ms", a.attempt, a.after_ms),
                    (None, _) => format!("#{} no answer at {} ms", a.attempt, a.after_ms),
                })
                .collect();
            let tried = if tried.is_empty() {
                String::new()
            } else {
                format!(" [attempts: {}]", tried.join(", "))
            };
            match error {
                ProviderError::Unavailable(m) => ProviderError::Unavailable(format!("{m}{tried}")),
                ProviderError::Adapter(m) => ProviderError::Adapter(format!("{m}{tried}")),
            }
        })?;
        Ok(Execution::Completed {
            result: json!({
                "delivery_id": id,
                "url": request.url.as_str(),
                "method": request.method,
                "status_code": reply.status,
                "attempts": reply.attempts,
                "attempt_log": attempt_log,
                "delivered_at": timestamp(call.now + started.elapsed()),
            }),
            actual_cost: list_price(call.operation),
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(ProviderError::Adapter(format!(
            "{} completes synchronously; there is nothing to poll",
            poll.operation.full_name()
        )))
    }
}
