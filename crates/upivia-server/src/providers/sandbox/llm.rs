//! Sandbox `text_generation.generate` and `web_search.search`: canned but
//! deterministic answers derived from the prompt or query, with token usage
//! metered the way the real provider bills it.

use serde_json::{Value, json};

use super::{Ctx, Input, slug, truncate_chars, unit_price};
use crate::catalog::OperationSpec;
use crate::catalog::builtin::{DEFAULT_MAX_TOKENS, DEFAULT_MODEL, TOKENS_PER_UNIT};
use crate::money::Cents;
use crate::providers::{Execution, ProviderError};

/// The usual rule of thumb for English text; the estimate and the
/// settlement use the same rule, which is what keeps settlement ≤ estimate.
const CHARS_PER_TOKEN: u64 = 4;
/// Chat formats wrap each message in role markers; upstreams bill them.
const TOKENS_PER_MESSAGE: u64 = 4;
const MAX_TOKENS_LIMIT: u64 = 32_000;
const MAX_PROMPT_CHARS: usize = 400_000;
const MAX_MESSAGES: usize = 500;

const SENTENCES: [&str; 6] = [
    "This text was generated deterministically for testing; no model was called.",
    "The same request and prompt always produce this same answer.",
    "Token usage is counted at about four characters per token.",
    "Configure a real provider to get real completions.",
    "Only the opening words of the prompt shape this reply.",
    "Agents can rely on the shape of this result, not on its wording.",
];

struct TextRequest<'a> {
    model: &'a str,
    /// What the reply talks about: the last user message, or the prompt.
    topic: &'a str,
    prompt_tokens: u64,
    max_tokens: u64,
    json_object: bool,
}

fn parse<'a>(input: &Input<'a>) -> Result<TextRequest<'a>, ProviderError> {
    let (topic, prompt_tokens, all_text_mentions_json) =
        match (input.has("prompt"), input.has("messages")) {
            (true, false) => {
                let prompt = input.text("prompt", 1, MAX_PROMPT_CHARS)?;
                (
                    prompt,
                    tokens(prompt.chars().count()),
                    mentions_json(prompt),
                )
            }
            (false, true) => parse_messages(input)?,
            _ => return Err(input.invalid("give exactly one of `prompt` or `messages`")),
        };

    let model = input.opt_text("model", 100)?.unwrap_or(DEFAULT_MODEL);
    if !is_model_id(model) {
        return Err(input.invalid(format_args!(
            "`model` must be `vendor/model`, for example `{DEFAULT_MODEL}`; got {model:?}"
        )));
    }
    let max_tokens = input
        .opt_int("max_tokens", 1, MAX_TOKENS_LIMIT)?
        .unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(t) = input.get("temperature")
        && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
    {
        return Err(input.invalid("`temperature` must be a number from 0 to 2"));
    }
    let json_object = match input.opt_object("response_format")? {
        None => false,
        Some(format) => match format.get("type").and_then(Value::as_str) {
            Some("text") => false,
            Some("json_object") => true,
            _ => {
                return Err(
                    input.invalid("`response_format.type` must be \"text\" or \"json_object\"")
                );
            }
        },
    };
    // OpenAI-compatible upstreams refuse JSON mode unless the prompt asks for
    // JSON, because the model would otherwise emit whitespace until the limit.
    if json_object && !all_text_mentions_json {
        return Err(input.invalid(
            "`response_format` json_object requires the prompt or messages to mention JSON",
        ));
    }
    Ok(TextRequest {
        model,
        topic,
        prompt_tokens,
        max_tokens,
        json_object,
    })
}

/// The topic, the prompt tokens and whether any message mentions JSON.
fn parse_messages<'a>(input: &Input<'a>) -> Result<(&'a str, u64, bool), ProviderError> {
    let messages = input.opt_array("messages", MAX_MESSAGES)?;
    if messages.is_empty() {
        return Err(input.invalid("`messages` must not be empty"));
    }
    let mut chars = 0usize;
    let mut json = false;
    let mut topic = "";
    let mut topic_is_user = false;
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        let Some(content) = message.get("content").and_then(Value::as_str) else {
            return Err(input.invalid(format_args!("`messages[{i}].content` must be a string")));
        };
        match role {
            Some("system" | "user" | "assistant") => {}
            _ => {
                return Err(input.invalid(format_args!(
                    "`messages[{i}].role` must be \"system\", \"user\" or \"assistant\""
                )));
            }
        }
        chars = chars.saturating_add(content.chars().count());
        if chars > MAX_PROMPT_CHARS {
            return Err(input.invalid(format_args!(
                "the messages exceed {MAX_PROMPT_CHARS} characters"
            )));
        }
        json |= mentions_json(content);
        let is_user = role == Some("user");
        if is_user || !topic_is_user {
            topic = content;
            topic_is_user = is_user;
        }
    }
    let overhead = TOKENS_PER_MESSAGE.saturating_mul(messages.len() as u64);
    Ok((topic, tokens(chars).saturating_add(overhead), json))
}

fn mentions_json(s: &str) -> bool {
    s.to_ascii_lowercase().contains("json")
}

/// Tokens for `chars` characters: rounded up, at least 1.
fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(CHARS_PER_TOKEN).max(1)
}

/// `vendor/model`: a lowercase vendor, one slash, a model name.
fn is_model_id(s: &str) -> bool {
    let Some((vendor, name)) = s.split_once('/') else {
        return false;
    };
    let vendor_ok = vendor.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && vendor
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    vendor_ok && name_ok
}

/// What `tokens` cost: the unit price per started [`TOKENS_PER_UNIT`].
fn price(op: &OperationSpec, tokens: u64) -> Cents {
    unit_price(op, tokens.div_ceil(TOKENS_PER_UNIT).max(1))
}

/// The most the call can cost: every prompt token plus `max_tokens` of
/// completion. An unreadable payload never executes, so one unit will do.
pub(super) fn estimate(op: &OperationSpec, input: &Input<'_>) -> Cents {
    match parse(input) {
        Ok(request) => price(op, request.prompt_tokens.saturating_add(request.max_tokens)),
        Err(_) => unit_price(op, 1),
    }
}

pub(super) fn generate(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let request = parse(input)?;
    let seed = ctx.seed("text");
    let reply = compose(&request, seed);
    // The completion may not exceed max_tokens, as upstreams cut it there.
    let limit =
        usize::try_from(request.max_tokens.saturating_mul(CHARS_PER_TOKEN)).unwrap_or(usize::MAX);
    let (text, truncated) = if request.json_object {
        fit_json(&reply, limit)
    } else {
        let cut = truncate_chars(&reply, limit);
        (cut.to_owned(), cut.len() < reply.len())
    };
    let completion_tokens = tokens(text.chars().count()).min(request.max_tokens);
    let total_tokens = request.prompt_tokens.saturating_add(completion_tokens);
    let result = json!({
        "id": ctx.id("gen"),
        "model": request.model,
        "text": text,
        "finish_reason": if truncated { "length" } else { "stop" },
        "usage": {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": total_tokens,
        },
    });
    ctx.done_at(result, price(ctx.op, total_tokens))
}

fn compose(request: &TextRequest<'_>, seed: u64) -> String {
    let opening: Vec<&str> = request.topic.split_whitespace().take(12).collect();
    let opening = truncate_chars(&opening.join(" "), 120).to_owned();
    let mut text = format!("Sandbox completion by {} for \"{opening}\".", request.model);
    let count = 2 + seed % 4;
    for i in 0..count {
        let pick = (seed >> (8 * i)) % SENTENCES.len() as u64;
        text.push(' ');
        text.push_str(SENTENCES[pick as usize]);
    }
    text
}

/// `{"reply": ...}` shortened until it fits `limit` characters, so JSON mode
/// always yields parseable JSON even when cut by `max_tokens`.
fn fit_json(reply: &str, limit: usize) -> (String, bool) {
    let mut kept = truncate_chars(reply, limit).to_owned();
    loop {
        let text = json!({ "reply": kept }).to_string();
        if text.chars().count() <= limit {
            return (text, kept.len() < reply.len());
        }
        if kept.pop().is_none() {
            return ("{}".to_owned(), true);
        }
    }
}

const SEARCH_SITES: [&str; 6] = ["docs", "blog", "news", "wiki", "forum", "guide"];

pub(super) fn search(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let query = input.text("query", 1, 400)?;
    let count = input.opt_int("num_results", 1, 20)?.unwrap_or(5);
    let mut path = slug(query, '-', 60);
    if path.is_empty() {
        // Non-ASCII queries still get a stable, URL-safe path.
        path = hex::encode(&ctx.digest("path")[..6]);
    }
    let shown = truncate_chars(query, 80);
    let results: Vec<Value> = (1..=count)
        .map(|position| {
            let site = SEARCH_SITES[(ctx.seed(&position.to_string()) % 6) as usize];
            json!({
                "position": position,
                "title": format!("{shown} | sandbox {site} result {position}"),
                "url": format!("https://{site}.example.com/{path}/{position}"),
                "snippet": format!(
                    "Deterministic sandbox result {position} of {count} for \"{shown}\". \
                     A real search provider returns live pages here."
                ),
            })
        })
        .collect();
    ctx.done(json!({ "query": query, "results": results }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::providers::sandbox::tests::{completed, estimate, run, run_as, spec};
    use crate::providers::{Execution, ProviderError};

    fn text_of(exec: &Execution) -> String {
        completed(exec).0["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn estimate_bounds_actual_cost_for_many_shapes() {
        let mut payloads = Vec::new();
        for chars in [1usize, 3, 4, 5, 999, 3_999, 4_000, 4_001, 40_000, 399_999] {
            for max_tokens in [None, Some(1), Some(7), Some(1000), Some(3000), Some(32_000)] {
                let mut p = json!({"prompt": "x".repeat(chars)});
                if let Some(m) = max_tokens {
                    p["max_tokens"] = json!(m);
                }
                payloads.push(p);
            }
        }
        payloads.push(json!({"messages": [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "y".repeat(10_000)},
        ], "response_format": {"type": "json_object"}, "max_tokens": 5}));
        for payload in payloads {
            let estimated = estimate("text_generation", "generate", &payload);
            let exec = run("text_generation", "generate", payload.clone())
                .await
                .unwrap_or_else(|e| panic!("{e} for {payload}"));
            let (result, actual) = completed(&exec);
            assert!(actual <= estimated, "{actual} > {estimated}");
            assert!(actual.get() >= 1);
            let usage = &result["usage"];
            let max = payload["max_tokens"].as_u64().unwrap_or(1024);
            assert!(usage["completion_tokens"].as_u64().unwrap_or(u64::MAX) <= max);
            assert_eq!(
                usage["total_tokens"].as_u64(),
                Some(
                    usage["prompt_tokens"].as_u64().unwrap_or(0)
                        + usage["completion_tokens"].as_u64().unwrap_or(0)
                )
            );
        }
    }

    #[tokio::test]
    async fn settlement_is_typically_below_the_estimate() {
        let payload = json!({"prompt": "Summarise the incident report in two sentences."});
        // 12 prompt tokens + 1024 max tokens: two started thousands.
        assert_eq!(estimate("text_generation", "generate", &payload).get(), 2);
        let exec = run("text_generation", "generate", payload).await.unwrap();
        assert_eq!(completed(&exec).1.get(), 1);
    }

    #[tokio::test]
    async fn estimate_follows_prompt_length_and_max_tokens() {
        let e = |p| estimate("text_generation", "generate", &p).get();
        assert_eq!(e(json!({"prompt": "hi", "max_tokens": 998})), 1);
        assert_eq!(e(json!({"prompt": "hi", "max_tokens": 999})), 1);
        assert_eq!(e(json!({"prompt": "hi", "max_tokens": 1000})), 2);
        assert_eq!(e(json!({"prompt": "x".repeat(8000), "max_tokens": 1})), 3);
        assert_eq!(e(json!({"prompt": "hi", "max_tokens": 32_000})), 33);
        // Unreadable payloads still estimate without panicking.
        assert_eq!(e(json!({"max_tokens": "lots"})), 1);
    }

    #[tokio::test]
    async fn reply_depends_on_prompt_and_request() {
        let a = run(
            "text_generation",
            "generate",
            json!({"prompt": "Tell me about otters"}),
        )
        .await
        .unwrap();
        let b = run(
            "text_generation",
            "generate",
            json!({"prompt": "Tell me about ferns"}),
        )
        .await
        .unwrap();
        assert!(text_of(&a).contains("Tell me about otters"));
        assert_ne!(text_of(&a), text_of(&b));
        let c = run_as(
            "req_other",
            "text_generation",
            "generate",
            json!({"prompt": "Tell me about otters"}),
        )
        .await
        .unwrap();
        assert_ne!(completed(&a).0["id"], completed(&c).0["id"]);
    }

    #[tokio::test]
    async fn short_max_tokens_cuts_the_reply() {
        let exec = run(
            "text_generation",
            "generate",
            json!({"prompt": "hello", "max_tokens": 3}),
        )
        .await
        .unwrap();
        let (result, _) = completed(&exec);
        assert_eq!(result["finish_reason"], "length");
        assert_eq!(result["usage"]["completion_tokens"], 3);
        assert!(text_of(&exec).chars().count() <= 12);
    }

    #[tokio::test]
    async fn json_mode_yields_parseable_json_even_when_cut() {
        for max_tokens in [1, 4, 10, 30, 1024] {
            let exec = run(
                "text_generation",
                "generate",
                json!({
                    "messages": [{"role": "user", "content": "Reply in JSON: \"quoted\" text"}],
                    "response_format": {"type": "json_object"},
                    "max_tokens": max_tokens,
                }),
            )
            .await
            .unwrap();
            let text = text_of(&exec);
            let parsed: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{e}: {text:?} at max_tokens {max_tokens}"));
            assert!(parsed.is_object());
        }
    }

    #[tokio::test]
    async fn refuses_what_the_upstream_refuses() {
        let cases = [
            json!({}),
            json!({"prompt": "a", "messages": [{"role": "user", "content": "a"}]}),
            json!({"prompt": "   "}),
            json!({"messages": []}),
            json!({"messages": [{"role": "tool", "content": "a"}]}),
            json!({"messages": [{"role": "user"}]}),
            json!({"prompt": "a", "model": "gpt-4o"}),
            json!({"prompt": "a", "model": "openai/"}),
            json!({"prompt": "a", "max_tokens": 0}),
            json!({"prompt": "a", "max_tokens": 32_001}),
            json!({"prompt": "a", "max_tokens": 1.5}),
            json!({"prompt": "a", "temperature": 3}),
            json!({"prompt": "a", "response_format": {"type": "xml"}}),
            json!({"prompt": "no mention", "response_format": {"type": "json_object"}}),
        ];
        for payload in cases {
            let err = run("text_generation", "generate", payload.clone()).await;
            assert!(
                matches!(err, Err(ProviderError::Adapter(_))),
                "{payload} gave {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn topic_is_the_last_user_message() {
        let exec = run(
            "text_generation",
            "generate",
            json!({"messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "second question"},
                {"role": "assistant", "content": "pending"},
            ]}),
        )
        .await
        .unwrap();
        assert!(text_of(&exec).contains("\"second question\""));
        // 59 characters in all: 15 tokens, plus 4 for each of the 5 messages.
        assert_eq!(completed(&exec).0["usage"]["prompt_tokens"], 35);
    }

    #[tokio::test]
    async fn search_returns_the_requested_number_of_results() {
        let exec = run(
            "web_search",
            "search",
            json!({"query": "Rust async runtimes", "num_results": 7}),
        )
        .await
        .unwrap();
        let (result, cost) = completed(&exec);
        let results = result["results"].as_array().unwrap();
        assert_eq!(results.len(), 7);
        assert_eq!(cost, spec("web_search", "search").base_price_cents);
        assert!(
            results[0]["url"]
                .as_str()
                .unwrap()
                .contains("/rust-async-runtimes/1")
        );
        let default = run("web_search", "search", json!({"query": "ünïcödé"}))
            .await
            .unwrap();
        assert_eq!(
            completed(&default).0["results"].as_array().unwrap().len(),
            5
        );
        for bad in [
            json!({"query": ""}),
            json!({"query": "q", "num_results": 21}),
            json!({"query": 7}),
        ] {
            assert!(matches!(
                run("web_search", "search", bad).await,
                Err(ProviderError::Adapter(_))
            ));
        }
    }
}
