//! `text_generation.generate` on any OpenAI-compatible chat-completions
//! endpoint (OpenAI, OpenRouter, vLLM, llama.cpp, Ollama's `/v1`).
//!
//! [`OpenAiClient`] is the reusable part: it turns a [`ChatRequest`] into
//! the upstream body and reads a completion back; [`TextGeneration`] is the
//! provider around it, which prices tokens.
//!
//! Money: the estimate is an upper bound, every prompt byte counted as a
//! token (a byte-level BPE token covers at least one byte) plus a framing
//! allowance per message, and `max_tokens` of completion, which is always
//! sent so the upstream enforces it. The actual cost comes from the
//! answer's `usage`, at the configured integer prices in microcents per
//! token, rounded up to a whole cent and never above the estimate.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::hosts::Reach;
use super::http::{HttpClient, Retry};
use super::{Execution, PollStatus, Provider, ProviderCall, ProviderError, ProviderPoll};
use crate::catalog::OperationSpec;
use crate::catalog::builtin::DEFAULT_MAX_TOKENS;
use crate::config::OpenAiSettings;
use crate::money::Cents;

/// The name requests report as their `provider`.
pub const NAME: &str = "openai_compatible";
/// Chat templates wrap each message in role markers the upstream bills.
pub const TOKENS_PER_MESSAGE: u64 = 8;
/// Template text around the whole conversation (BOS, the reply's header).
pub const TOKENS_PER_REQUEST: u64 = 32;
const MICROCENTS_PER_CENT: u128 = 1_000_000;
/// Sampling parameters passed through as given. Others (`n`, `stream`,
/// `tools`, ...) are not: they would change what a call costs or how its
/// answer reads.
const PASSTHROUGH: [&str; 5] = [
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
];
const UPSTREAM: &str = "the text generation upstream";

#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// One chat completion to ask for.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u64,
    pub temperature: Option<f64>,
    pub response_format: Option<Value>,
    /// Further sampling parameters, sent as they are.
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// From a `text_generation.generate` payload: `prompt` (one user
    /// message) or `messages`.
    pub fn from_payload(payload: &Value) -> Result<ChatRequest, ProviderError> {
        let invalid = |m: &str| ProviderError::Adapter(format!("text_generation.generate: {m}"));
        let map = payload
            .as_object()
            .ok_or_else(|| invalid("the payload must be a JSON object"))?;
        let present = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
        let messages = match (present("prompt"), present("messages")) {
            (true, false) => {
                let prompt = map["prompt"]
                    .as_str()
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| invalid("`prompt` must be a non-empty string"))?;
                vec![ChatMessage {
                    role: "user".into(),
                    content: prompt.to_owned(),
                }]
            }
            (false, true) => {
                #[derive(Deserialize)]
                struct Raw {
                    role: String,
                    content: String,
                }
                let raw: Vec<Raw> = serde_json::from_value(map["messages"].clone())
                    .map_err(|_| invalid("`messages` must be a list of {role, content} strings"))?;
                if raw.is_empty() {
                    return Err(invalid("`messages` must not be empty"));
                }
                if let Some(bad) = raw
                    .iter()
                    .find(|m| !matches!(m.role.as_str(), "system" | "user" | "assistant"))
                {
                    return Err(invalid(&format!(
                        "a message's role must be system, user or assistant, not {:?}",
                        bad.role
                    )));
                }
                raw.into_iter()
                    .map(|m| ChatMessage {
                        role: m.role,
                        content: m.content,
                    })
                    .collect()
            }
            _ => return Err(invalid("give exactly one of `prompt` or `messages`")),
        };
        let max_tokens = match map.get("max_tokens").filter(|v| !v.is_null()) {
            None => DEFAULT_MAX_TOKENS,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=32_000).contains(n))
                .ok_or_else(|| invalid("`max_tokens` must be an integer from 1 to 32000"))?,
        };
        let temperature = match map.get("temperature").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|t| (0.0..=2.0).contains(t))
                    .ok_or_else(|| invalid("`temperature` must be a number from 0 to 2"))?,
            ),
        };
        let response_format = map.get("response_format").filter(|v| !v.is_null()).cloned();
        let extra = PASSTHROUGH
            .iter()
            .filter_map(|k| {
                map.get(*k)
                    .filter(|v| !v.is_null())
                    .map(|v| ((*k).to_owned(), v.clone()))
            })
            .collect();
        Ok(ChatRequest {
            messages,
            max_tokens,
            temperature,
            response_format,
            extra,
        })
    }

    /// Most tokens the prompt can be: one per byte, plus framing.
    pub fn prompt_token_bound(&self) -> u64 {
        let bytes: u64 = self
            .messages
            .iter()
            .map(|m| m.content.len() as u64)
            .fold(0, u64::saturating_add);
        let framing = TOKENS_PER_MESSAGE.saturating_mul(self.messages.len() as u64);
        bytes
            .saturating_add(framing)
            .saturating_add(TOKENS_PER_REQUEST)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// What the upstream answered.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatCompletion {
    pub id: Option<String>,
    pub model: Option<String>,
    pub text: String,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

/// A client of one OpenAI-compatible endpoint and model.
#[derive(Clone)]
pub struct OpenAiClient {
    http: HttpClient,
    endpoint: url::Url,
    api_key: Option<SecretString>,
    model: String,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("model", &self.model)
            .finish()
    }
}

impl OpenAiClient {
    pub fn new(settings: &OpenAiSettings, http: HttpClient) -> Result<OpenAiClient, String> {
        let endpoint = url::Url::parse(&format!(
            "{}/chat/completions",
            settings.base_url.as_str().trim_end_matches('/')
        ))
        .map_err(|e| format!("UPIVIA_OPENAI_BASE_URL: {e}"))?;
        Ok(OpenAiClient {
            http,
            endpoint,
            api_key: settings.api_key.clone(),
            model: settings.model.clone(),
        })
    }

    pub fn endpoint(&self) -> &url::Url {
        &self.endpoint
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// How long one call may wait for an answer (the provider timeout).
    pub fn timeout(&self) -> std::time::Duration {
        self.http.timeout()
    }

    /// The upstream request body; `stream` asks for server-sent events.
    pub fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = request.extra.clone();
        body.insert("model".into(), json!(self.model));
        body.insert(
            "messages".into(),
            request
                .messages
                .iter()
                .map(|m| json!({"role": m.role, "content": m.content}))
                .collect(),
        );
        body.insert("max_tokens".into(), json!(request.max_tokens));
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(format) = &request.response_format {
            body.insert("response_format".into(), format.clone());
        }
        body.insert("stream".into(), json!(stream));
        Value::Object(body)
    }

    /// A POST to the endpoint with the body and credentials set, for
    /// callers that read the answer themselves (streaming).
    pub fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .client(Reach::Trusted)
            .post(self.endpoint.clone())
            .json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.expose_secret());
        }
        req
    }

    /// One completion, not streamed. Rate limits are waited out within
    /// the timeout; a 5xx is not retried (the tokens may have been spent).
    pub async fn complete(&self, request: &ChatRequest) -> Result<ChatCompletion, ProviderError> {
        let body = self.body(request, false);
        let reply = self
            .http
            .send(Reach::Trusted, UPSTREAM, Retry::RateLimited, |_, _| {
                self.request(&body)
            })
            .await?;
        parse_completion(&reply.body(UPSTREAM).await?)
    }
}

fn parse_completion(body: &[u8]) -> Result<ChatCompletion, ProviderError> {
    let malformed =
        |why: &str| ProviderError::Adapter(format!("{UPSTREAM} answered malformed JSON: {why}"));
    #[derive(Deserialize)]
    struct Answer {
        id: Option<String>,
        model: Option<String>,
        choices: Vec<Choice>,
        usage: Option<RawUsage>,
    }
    #[derive(Deserialize)]
    struct Choice {
        message: Option<ChoiceMessage>,
        finish_reason: Option<String>,
    }
    #[derive(Deserialize)]
    struct ChoiceMessage {
        content: Option<String>,
    }
    #[derive(Deserialize)]
    struct RawUsage {
        prompt_tokens: u64,
        completion_tokens: u64,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| malformed(&e.to_string()))?;
    let choice = answer
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no choices"))?;
    let text = choice
        .message
        .and_then(|m| m.content)
        .ok_or_else(|| malformed("the first choice has no text content"))?;
    // Without usage the cost cannot be known; charging the estimate
    // instead would bill the agent for what it may not have used.
    let usage = answer
        .usage
        .ok_or_else(|| malformed("no usage token counts"))?;
    Ok(ChatCompletion {
        id: answer.id,
        model: answer.model,
        text,
        finish_reason: choice.finish_reason,
        usage: Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        },
    })
}

/// Integer prices of one model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prices {
    pub input_microcents_per_token: u64,
    pub output_microcents_per_token: u64,
}

impl Prices {
    /// The configured prices of the endpoint's model.
    pub fn of(settings: &OpenAiSettings) -> Prices {
        Prices {
            input_microcents_per_token: settings.price_input_microcents_per_token,
            output_microcents_per_token: settings.price_output_microcents_per_token,
        }
    }

    /// Whole cents, rounded up; saturates rather than wraps.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> Cents {
        // Each product fits in u128; their sum may not.
        let microcents = (u128::from(prompt_tokens) * u128::from(self.input_microcents_per_token))
            .saturating_add(
                u128::from(completion_tokens) * u128::from(self.output_microcents_per_token),
            );
        let cents = microcents.div_ceil(MICROCENTS_PER_CENT);
        Cents::new(i64::try_from(cents).unwrap_or(i64::MAX))
    }
}

/// The `text_generation.generate` provider.
#[derive(Debug)]
pub struct TextGeneration {
    client: OpenAiClient,
    prices: Prices,
}

impl TextGeneration {
    pub fn new(client: OpenAiClient, prices: Prices) -> Self {
        TextGeneration { client, prices }
    }

    fn bound(&self, request: &ChatRequest) -> Cents {
        self.prices
            .cost(request.prompt_token_bound(), request.max_tokens)
    }
}

#[async_trait]
impl Provider for TextGeneration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn estimate(&self, _operation: &OperationSpec, payload: &Value) -> Cents {
        match ChatRequest::from_payload(payload) {
            Ok(request) => self.bound(&request),
            // It will not execute; what it holds is released.
            Err(_) => self.prices.cost(TOKENS_PER_REQUEST, DEFAULT_MAX_TOKENS),
        }
    }

    async fn execute(&self, call: ProviderCall<'_>) -> Result<Execution, ProviderError> {
        let request = ChatRequest::from_payload(call.payload)?;
        let estimate = self.bound(&request);
        let completion = self.client.complete(&request).await?;
        let usage = completion.usage;
        let mut cost = self
            .prices
            .cost(usage.prompt_tokens, usage.completion_tokens);
        if cost > estimate {
            // The store would cap the charge anyway; say so where it shows.
            tracing::warn!(
                request_id = call.request_id,
                prompt_tokens = usage.prompt_tokens,
                completion_tokens = usage.completion_tokens,
                "the upstream billed more tokens than the estimate allowed; charging the estimate"
            );
            cost = estimate;
        }
        let finish_reason = match completion.finish_reason.as_deref() {
            Some("length") => "length",
            _ => "stop",
        };
        Ok(Execution::Completed {
            result: json!({
                "id": completion.id.unwrap_or_else(|| format!("gen_{}", call.request_id)),
                "model": completion.model.unwrap_or_else(|| self.client.model().to_owned()),
                "text": completion.text,
                "finish_reason": finish_reason,
                "usage": {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.prompt_tokens.saturating_add(usage.completion_tokens),
                },
            }),
            actual_cost: cost,
        })
    }

    async fn poll(&self, poll: ProviderPoll<'_>) -> Result<PollStatus, ProviderError> {
        Err(ProviderError::Adapter(format!(
            "{} completes synchronously; there is nothing to poll",
            poll.operation.full_name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_round_up_to_whole_cents_without_floats() {
        let p = Prices {
            input_microcents_per_token: 15,
            output_microcents_per_token: 60,
        };
        assert_eq!(p.cost(0, 0), Cents::ZERO);
        assert_eq!(p.cost(1, 0), Cents::new(1));
        // 1M input tokens at $0.15/M is 15 cents.
        assert_eq!(p.cost(1_000_000, 0), Cents::new(15));
        assert_eq!(p.cost(1_000_000, 1_000_000), Cents::new(75));
        let free = Prices {
            input_microcents_per_token: 0,
            output_microcents_per_token: 0,
        };
        assert_eq!(free.cost(u64::MAX, u64::MAX), Cents::ZERO);
        let dear = Prices {
            input_microcents_per_token: u64::MAX,
            output_microcents_per_token: u64::MAX,
        };
        assert_eq!(dear.cost(u64::MAX, u64::MAX), Cents::new(i64::MAX));
    }

    #[test]
    fn the_prompt_bound_counts_bytes_and_framing() {
        let r = ChatRequest::from_payload(&json!({"prompt": "héllo"})).unwrap();
        assert_eq!(r.prompt_token_bound(), 6 + 8 + 32);
        assert_eq!(r.max_tokens, DEFAULT_MAX_TOKENS);
        let r = ChatRequest::from_payload(&json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi", "name": "ignored"},
        ], "max_tokens": 5, "top_p": 0.5, "n": 9, "stream": true}))
        .unwrap();
        assert_eq!(r.prompt_token_bound(), 10 + 16 + 32);
        assert_eq!(r.extra, json!({"top_p": 0.5}).as_object().unwrap().clone());
    }

    #[test]
    fn payloads_the_upstream_would_refuse_are_refused() {
        for bad in [
            json!({}),
            json!({"prompt": "a", "messages": [{"role": "user", "content": "a"}]}),
            json!({"prompt": "  "}),
            json!({"messages": []}),
            json!({"messages": [{"role": "tool", "content": "a"}]}),
            json!({"prompt": "a", "max_tokens": 0}),
            json!({"prompt": "a", "temperature": 3}),
            json!("a string"),
        ] {
            assert!(ChatRequest::from_payload(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn completions_without_text_or_usage_are_malformed() {
        let ok = br#"{"id":"c1","model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
        let parsed = parse_completion(ok).unwrap();
        assert_eq!(parsed.text, "hi");
        assert_eq!(parsed.usage.completion_tokens, 1);
        for bad in [
            &b"not json"[..],
            br#"{"choices":[]}"#,
            br#"{"choices":[{"message":{"content":null}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#,
            br#"{"choices":[{"message":{"content":"hi"}}]}"#,
        ] {
            assert!(
                matches!(parse_completion(bad), Err(ProviderError::Adapter(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
