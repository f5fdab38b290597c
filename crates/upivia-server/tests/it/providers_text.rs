//! `text_generation.generate` on a real OpenAI-compatible upstream (a local
//! fake): the wire request, the token-priced settlement, each error
//! mapping, rate-limit retries, and test keys staying on the sandbox.

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use upivia_server::config::{Config, OpenAiSettings};

use crate::fakes::{Canned, FakeHttp, closed_port};
use crate::support::{TestAgent, TestServer};

pub const API_KEY: &str = "sk-test-0123456789abcdef-secret";

/// 0.01 cent per prompt token, 0.1 cent per completion token.
pub fn openai(base_url: &str) -> OpenAiSettings {
    OpenAiSettings::new(
        base_url,
        Some(SecretString::from(API_KEY)),
        Some("llama3.2"),
        Some(10_000),
        Some(100_000),
    )
    .unwrap()
}

pub fn completion(prompt_tokens: u64, completion_tokens: u64) -> Canned {
    Canned::json(
        200,
        json!({
            "id": "chatcmpl-42",
            "object": "chat.completion",
            "model": "llama3.2",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        }),
    )
}

async fn server_with(fake: &FakeHttp, extra: impl FnOnce(&mut Config)) -> TestServer {
    let settings = openai(&fake.url("/v1"));
    TestServer::start_with(move |c| {
        c.providers.openai = Some(settings);
        extra(c);
    })
    .await
}

pub async fn test_agent(s: &TestServer, service: &str) -> TestAgent {
    let agent = s.agent(json!({"key_mode": "test"})).await;
    assert!(agent.key.starts_with("agent_key_test_"), "{}", agent.key);
    s.enable(&agent, json!({"service_id": service})).await;
    agent
}

fn payload() -> Value {
    json!({
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Say hi"},
        ],
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "n": 3,
    })
}

#[tokio::test]
async fn live_text_generation_calls_the_upstream_and_settles_the_token_cost() {
    let fake = FakeHttp::start(vec![completion(10, 20)]).await;
    let s = server_with(&fake, |_| {}).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    // Bound: 14 prompt bytes + 2×8 + 32 framing = 62 tokens at 0.01 cent,
    // plus 50 completion tokens at 0.1 cent = 5.62 → 6 cents.
    assert_eq!(r.body["estimated_cost_cents"], 6);
    // Used: 10 × 0.01 + 20 × 0.1 = 2.1 → 3 cents.
    assert_eq!(r.body["cost_cents"], 3);
    assert_eq!(r.body["provider"], "openai_compatible");
    let result = &r.body["result"];
    assert_eq!(result["text"], "Hi there.");
    assert_eq!(result["id"], "chatcmpl-42");
    assert_eq!(result["model"], "llama3.2");
    assert_eq!(result["finish_reason"], "stop");
    assert_eq!(
        result["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30})
    );
    assert!(result.get("sandbox").is_none(), "{result}");
    assert_eq!(s.balance().await, 97);

    let hits = fake.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.method, "POST");
    assert_eq!(hit.uri, "/v1/chat/completions");
    assert_eq!(hit.header("authorization"), format!("Bearer {API_KEY}"));
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("upivia/"), "{hit:?}");
    assert_eq!(
        hit.json(),
        json!({
            "model": "llama3.2",
            "messages": [
                {"role": "system", "content": "Be brief"},
                {"role": "user", "content": "Say hi"},
            ],
            "max_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "stream": false,
        }),
        "`n` is not passed through: it would multiply the cost"
    );
    let usage = s.get("/api/v1/usage", &s.pat).await;
    assert_eq!(usage.body["total_cents"], 3, "{usage:?}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_prompt_becomes_one_user_message_and_the_default_max_tokens_is_sent() {
    let fake = FakeHttp::start(vec![completion(3, 1)]).await;
    let s = server_with(&fake, |_| {}).await;
    // 1024 completion tokens at 0.1 cent bound the cost at 103 cents.
    let agent = s.funded_agent("text_generation", 200).await;
    let r = s
        .request(
            &agent,
            "text_generation",
            "generate",
            json!({"prompt": "Hello"}),
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    let sent = fake.hits()[0].json();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hello"}])
    );
    assert_eq!(sent["max_tokens"], 1024);
}

#[tokio::test]
async fn upstream_failures_map_to_reason_codes_and_charge_nothing() {
    let fake = FakeHttp::start(vec![]).await;
    let s = server_with(&fake, |_| {}).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let no_usage = Canned::json(
        200,
        json!({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}),
    );
    let cases = [
        (
            Canned::json(500, json!({"error": {"message": "overloaded"}})),
            "provider_unavailable",
            "HTTP 500",
        ),
        (
            Canned::json(503, json!({})),
            "provider_unavailable",
            "HTTP 503",
        ),
        (
            Canned::json(
                400,
                json!({"error": {"message": "model 'llama3.2' not found"}}),
            ),
            "adapter_error",
            "not found",
        ),
        (
            Canned::json(401, json!({"error": {"message": "bad key"}})),
            "adapter_error",
            "HTTP 401",
        ),
        (
            Canned::text(200, "<html>not json</html>"),
            "adapter_error",
            "malformed",
        ),
        (
            Canned::json(200, json!({"choices": []})),
            "adapter_error",
            "no choices",
        ),
        (no_usage, "adapter_error", "usage"),
        // Reading stops past 1 MiB.
        (
            Canned::text(200, &"x".repeat(2 << 20)),
            "adapter_error",
            "more than 1048576 bytes",
        ),
    ];
    for (i, (canned, reason, says)) in cases.into_iter().enumerate() {
        fake.push(canned);
        let r = s
            .request(&agent, "text_generation", "generate", payload())
            .await;
        assert_eq!(r.body["status"], "failed", "case {i}: {r:?}");
        assert_eq!(r.body["reason_code"], reason, "case {i}: {r:?}");
        let message = r.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "case {i}: {message}");
        assert_eq!(r.body["cost_cents"], 0);
        // A 5xx is not retried: the upstream may have spent the tokens.
        assert_eq!(fake.hits().len(), i + 1, "case {i}");
        assert_eq!(s.balance().await, 100, "case {i}");
    }
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable_and_charges_nothing() {
    let port = closed_port().await;
    let settings = openai(&format!("http://127.0.0.1:{port}/v1"));
    let s = TestServer::start_with(move |c| c.providers.openai = Some(settings)).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert_eq!(s.balance().await, 100);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_succeeds() {
    let fake = FakeHttp::start(vec![
        Canned::json(429, json!({"error": {"message": "slow down"}}))
            .with_header("retry-after", "1"),
        completion(10, 20),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["cost_cents"], 3);
    let hits = fake.hits();
    assert_eq!(hits.len(), 2);
    let waited = hits[1].at - hits[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    assert_eq!(s.balance().await, 97);
}

#[tokio::test]
async fn a_429_asking_for_longer_than_the_timeout_fails_at_once() {
    let fake = FakeHttp::start(vec![
        Canned::json(429, json!({})).with_header("retry-after", "30"),
    ])
    .await;
    let s = server_with(&fake, |_| {}).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let started = Instant::now();
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["reason_code"], "provider_unavailable", "{r:?}");
    assert!(r.body["message"].as_str().unwrap().contains("429"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "it waited");
    assert_eq!(fake.hits().len(), 1);
    assert_eq!(s.balance().await, 100);
}

#[tokio::test]
async fn test_keys_get_the_sandbox_even_with_a_live_provider() {
    let fake = FakeHttp::start(vec![completion(10, 20)]).await;
    let s = server_with(&fake, |_| {}).await;
    s.credit(100).await;
    let agent = test_agent(&s, "text_generation").await;
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["provider"], "sandbox");
    assert_eq!(r.body["result"]["sandbox"], true);
    assert!(fake.hits().is_empty(), "a test key reached the upstream");
}

#[tokio::test]
async fn the_catalog_names_each_operations_provider() {
    let fake = FakeHttp::start(vec![]).await;
    let s = server_with(&fake, |_| {}).await;
    let r = s
        .send(reqwest::Method::GET, "/api/v1/services", None, None)
        .await;
    assert_eq!(r.status, 200);
    let mut providers = std::collections::BTreeMap::new();
    for service in r.body["services"].as_array().unwrap() {
        for op in service["operations"].as_array().unwrap() {
            providers.insert(
                op["full_name"].as_str().unwrap().to_owned(),
                op["provider"].as_str().unwrap().to_owned(),
            );
        }
    }
    assert_eq!(providers["text_generation.generate"], "openai_compatible");
    assert_eq!(providers["email.send"], "sandbox");
    assert_eq!(providers["notification.webhook"], "sandbox");
    // The platform's own operations are carried out by the server.
    assert_eq!(providers["platform.check_budget"], "platform");
    assert_eq!(providers["platform.register_service"], "platform");
    assert_eq!(providers["workflow.run"], "platform");
    assert_eq!(providers["knowledge.search"], "platform");
    assert_eq!(providers.len(), 23);
}

#[tokio::test]
async fn an_upstream_that_bills_past_the_estimate_is_charged_the_estimate() {
    let fake = FakeHttp::start(vec![completion(5_000, 5_000)]).await;
    let s = server_with(&fake, |_| {}).await;
    let agent = s.funded_agent("text_generation", 100).await;
    let r = s
        .request(&agent, "text_generation", "generate", payload())
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["estimated_cost_cents"], 6);
    // 5000 × 0.01 + 5000 × 0.1 = 550 cents used, but only 6 were held.
    assert_eq!(r.body["cost_cents"], 6);
    assert_eq!(r.body["result"]["usage"]["total_tokens"], 10_000);
    assert_eq!(s.balance().await, 94);
    s.ledger_ok().await;
}
