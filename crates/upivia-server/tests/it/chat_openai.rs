//! Chat turns on an OpenAI-compatible model (a local fake that streams
//! its answers): text deltas as they come, a tool call assembled from its
//! pieces and made as a governed request, and every model call a service
//! request of the agent, its estimate held before the call and its token
//! cost settled after (or released when it fails).

use serde_json::{Value, json};
use upivia_server::config::Config;

use crate::fakes::{Canned, FakeHttp};
use crate::providers_text::openai;
use crate::support::*;

/// A turn's stream as (event, data) frames.
struct Streamed {
    status: u16,
    raw: String,
    frames: Vec<(String, Value)>,
}

impl Streamed {
    fn names(&self) -> Vec<&str> {
        self.frames.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn first(&self, name: &str) -> &Value {
        &self
            .frames
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} event in {:?}", self.names()))
            .1
    }

    fn all(&self, name: &str) -> Vec<&Value> {
        self.frames
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| d)
            .collect()
    }
}

async fn turn(s: &TestServer, body: Value) -> Streamed {
    let resp = s
        .http
        .post(format!("{}/api/v1/chat/turn", s.base))
        .bearer_auth(&s.pat)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let raw = resp.text().await.unwrap();
    let mut frames = Vec::new();
    if status == 200 {
        for block in raw.split("\n\n").filter(|b| !b.trim().is_empty()) {
            let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with(':')).collect();
            if lines.is_empty() {
                continue;
            }
            let name = lines[0].strip_prefix("event: ").expect("an event line");
            let data = lines[1].strip_prefix("data: ").expect("a data line");
            frames.push((name.to_owned(), serde_json::from_str(data).unwrap()));
        }
    }
    Streamed {
        status,
        raw,
        frames,
    }
}

async fn server(fake: &FakeHttp, extra: impl FnOnce(&mut Config)) -> TestServer {
    let settings = openai(&fake.url("/v1"));
    TestServer::start_with(move |c| {
        c.providers.openai = Some(settings);
        extra(c);
    })
    .await
}

async fn session(s: &TestServer, agent: &TestAgent) -> String {
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": agent.id, "model_id": null, "title": "test"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

fn text(content: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "llama3.2",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]})
}

fn call_piece(id: Option<&str>, name: Option<&str>, arguments: &str) -> Value {
    let mut call = json!({"index": 0, "function": {"arguments": arguments}});
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "llama3.2",
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": null}]})
}

fn finish(reason: &str) -> Value {
    json!({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"id": "chatcmpl-1", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}})
}

/// A reply that calls `email_send`, its name in one chunk and its
/// arguments in three.
fn email_call(arguments: [&str; 3]) -> Canned {
    Canned::sse(&[
        text("Let me "),
        text("send that."),
        call_piece(Some("call_abc"), Some("email_send"), ""),
        call_piece(None, None, arguments[0]),
        call_piece(None, None, arguments[1]),
        call_piece(None, None, arguments[2]),
        finish("tool_calls"),
        usage(120, 30),
    ])
}

const GOOD_ARGUMENTS: [&str; 3] = [
    r#"{"to": "ops@example.com", "#,
    r#""subject": "Hello", "#,
    r#""body": "Testing."}"#,
];

async fn request(s: &TestServer, agent: &TestAgent, id: &str) -> Value {
    let r = s
        .get(&format!("/api/v1/service-requests/{id}"), &agent.key)
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

#[tokio::test]
async fn a_turn_streams_the_model_makes_the_tool_call_governed_and_bills_each_model_call() {
    let fake = FakeHttp::start(vec![
        email_call(GOOD_ARGUMENTS),
        Canned::sse(&[text("Sent "), text("it."), finish("stop"), usage(200, 10)]),
    ])
    .await;
    let s = server(&fake, |_| {}).await;
    let agent = s.funded_agent("email", 1000).await;
    let before = s.balance().await;
    let id = session(&s, &agent).await;
    let t = turn(
        &s,
        json!({"sessionId": id, "message": "please email ops", "modelId": "meta/llama3.2"}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let names = t.names();
    assert_eq!(names.first(), Some(&"model"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(!names.contains(&"error"), "{}", t.raw);
    assert_eq!(t.first("model")["id"], "llama3.2");
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("message_delta") < at("tool_planned"));
    assert!(at("tool_planned") < at("tool_executing") && at("tool_executing") < at("tool_done"));
    assert!(at("tool_done") < at("message") && at("message") < at("usage"));
    // Each delta went out as it came, in both keys.
    let deltas: Vec<&str> = t
        .all("message_delta")
        .iter()
        .map(|d| {
            assert_eq!(d["delta"], d["content"]);
            d["delta"].as_str().unwrap()
        })
        .collect();
    assert_eq!(deltas, ["Let me ", "send that.", "Sent ", "it."]);
    assert_eq!(t.first("message")["content"], "Sent it.");

    // The tool call, assembled from its pieces, is a governed request.
    assert_eq!(t.first("tool_planned")["tool_name"], "email_send");
    assert_eq!(t.first("tool_planned")["tool_call_id"], "call_abc");
    let tool_done = t.first("tool_done");
    assert_eq!(tool_done["status"], "executed", "{tool_done}");
    let tool = request(&s, &agent, tool_done["request_id"].as_str().unwrap()).await;
    assert_eq!(tool["status"], "executed");
    assert_eq!(tool["service"], "email", "{tool}");
    let tool_cost = tool["cost_cents"].as_i64().unwrap();

    // Each model call is the agent's request: 120 × 0.01 + 30 × 0.1 = 4.2
    // → 5 cents, then 200 × 0.01 + 10 × 0.1 = 3 cents.
    let used = t.first("usage");
    assert_eq!(used["prompt_tokens"], 320, "{used}");
    assert_eq!(used["completion_tokens"], 40);
    assert_eq!(used["estimated"], false);
    assert_eq!(used["cost_cents"], 8);
    let model_calls: Vec<String> = used["model_request_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(model_calls.len(), 2, "{used}");
    for (call, cost) in model_calls.iter().zip([5, 3]) {
        let r = request(&s, &agent, call).await;
        assert_eq!(r["status"], "executed", "{r}");
        assert_eq!(r["service"], "text_generation");
        assert_eq!(r["operation"], "generate");
        assert_eq!(r["provider"], "openai_compatible");
        assert_eq!(r["cost_cents"], cost, "{r}");
        let estimate = r["estimated_cost_cents"].as_i64().unwrap();
        assert!(estimate >= 103, "1024 completion tokens are held: {r}");
    }
    let after = s.balance().await;
    assert_eq!(before - after, 8 + tool_cost, "{before} → {after}");
    assert_eq!(t.first("done")["balance_cents"], after);
    assert_eq!(t.first("done")["ok"], true);
    let audit = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await
        .body
        .to_string();
    for call in &model_calls {
        assert!(audit.contains(call.as_str()), "{call} is audited");
    }

    // The wire: streamed, with usage, the tools, and the conversation.
    let hits = fake.hits();
    assert_eq!(hits.len(), 2);
    let first = hits[0].json();
    assert_eq!(hits[0].uri, "/v1/chat/completions");
    assert_eq!(
        hits[0].header("authorization"),
        format!("Bearer {}", crate::providers_text::API_KEY)
    );
    assert_eq!(first["model"], "llama3.2", "the configured model goes up");
    assert_eq!(first["stream"], true);
    assert_eq!(first["stream_options"], json!({"include_usage": true}));
    assert_eq!(first["tool_choice"], "auto");
    assert_eq!(first["max_tokens"], 1024);
    let tool_names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "function");
            t["function"]["name"].as_str().unwrap()
        })
        .collect();
    assert!(tool_names.contains(&"email_send"), "{tool_names:?}");
    assert_eq!(first["messages"][0]["role"], "system");
    assert_eq!(
        first["messages"][1],
        json!({"role": "user", "content": "please email ops"})
    );
    let second = hits[1].json();
    let messages = second["messages"].as_array().unwrap();
    let assistant = &messages[2];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["tool_calls"][0]["id"], "call_abc");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "email_send");
    let sent_args: Value = serde_json::from_str(
        assistant["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        sent_args,
        json!({"to": "ops@example.com", "subject": "Hello", "body": "Testing."})
    );
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_abc");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_model_call_that_does_not_fit_the_budget_is_refused_before_the_upstream_sees_it() {
    let fake = FakeHttp::start(vec![Canned::sse(&[text("hi"), usage(1, 1)])]).await;
    let s = server(&fake, |_| {}).await;
    // 1024 completion tokens alone are 102.4 cents.
    s.credit(50).await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let t = turn(&s, json!({"sessionId": id, "message": "hello"})).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(t.names().last(), Some(&"done"));
    let error = t.first("error");
    assert_eq!(error["code"], "insufficient_balance", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("50 cents"),
        "{error}"
    );
    assert_eq!(t.first("done")["ok"], false);
    assert_eq!(t.first("done")["balance_cents"], 50);
    assert!(fake.hits().is_empty(), "the upstream was not called");
    // The refusal is on the record, as a blocked request of the agent.
    let blocked = request(&s, &agent, error["request_id"].as_str().unwrap()).await;
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["reason_code"], "insufficient_balance");

    // An agent's monthly cap stops it the same way.
    s.credit(1000).await;
    let capped = s.agent(json!({"monthly_budget_cents": 20})).await;
    let id = session(&s, &capped).await;
    let t = turn(&s, json!({"sessionId": id, "message": "hello"})).await;
    assert_eq!(t.first("error")["code"], "budget_exceeded", "{}", t.raw);
    assert!(fake.hits().is_empty());
    assert_eq!(s.balance().await, 1050);
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_upstream_failure_ends_the_turn_and_releases_the_hold() {
    let fake = FakeHttp::start(vec![Canned::json(
        500,
        json!({"error": {"message": "overloaded"}}),
    )])
    .await;
    let s = server(&fake, |_| {}).await;
    let agent = s.funded_agent("email", 1000).await;
    let id = session(&s, &agent).await;
    let t = turn(&s, json!({"sessionId": id, "message": "hello"})).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let names = t.names();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("error") < at("done"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"));
    let error = t.first("error");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(
        !message.contains(crate::providers_text::API_KEY) && !message.contains("127.0.0.1"),
        "{message}"
    );
    assert_eq!(t.first("done")["ok"], false);
    assert_eq!(t.first("done")["balance_cents"], 1000);
    assert_eq!(s.balance().await, 1000, "the reservation is released");
    let failed = request(&s, &agent, error["request_id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["reason_code"], "provider_unavailable");
    assert_eq!(failed["cost_cents"], 0);
    assert_eq!(t.first("usage")["cost_cents"], 0);
    s.ledger_ok().await;
}

#[tokio::test]
async fn malformed_tool_call_arguments_are_a_clear_error() {
    let fake = FakeHttp::start(vec![email_call([
        r#"{"to": "ops@example.com", "#,
        r#""subject": "#,
        r#""Hel"#,
    ])])
    .await;
    let s = server(&fake, |_| {}).await;
    let agent = s.funded_agent("email", 1000).await;
    let id = session(&s, &agent).await;
    let t = turn(&s, json!({"sessionId": id, "message": "please email ops"})).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let names = t.names();
    assert!(
        !names.contains(&"tool_planned"),
        "no call is made: {names:?}"
    );
    assert_eq!(names.last(), Some(&"done"));
    let message = t.first("error")["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("email_send") && message.contains("not valid JSON"),
        "{message}"
    );
    assert_eq!(s.balance().await, 1000, "an unusable answer is not charged");
    let failed = request(&s, &agent, t.first("error")["request_id"].as_str().unwrap()).await;
    assert_eq!(failed["reason_code"], "adapter_error", "{failed}");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_model_id_that_is_not_the_configured_model_runs_on_it_and_says_so() {
    let fake = FakeHttp::start(vec![Canned::sse(&[text("Hi.")])]).await;
    let s = server(&fake, |_| {}).await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let t = turn(
        &s,
        json!({"sessionId": id, "message": "hello", "modelId": "openai/gpt-4.1-mini"}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let model = t.first("model");
    assert_eq!(model["id"], "llama3.2", "{model}");
    assert_eq!(model["requested"], "openai/gpt-4.1-mini", "{model}");
    assert_eq!(model["substituted"], true, "{model}");
    let hits = fake.hits();
    assert_eq!(hits.len(), 1);
    let sent: Value = serde_json::from_slice(&hits[0].body).unwrap();
    assert_eq!(
        sent["model"], "llama3.2",
        "the configured model's prices hold"
    );

    let test_agent = s.agent(json!({"key_mode": "test"})).await;
    let id = session(&s, &test_agent).await;
    let t = turn(
        &s,
        json!({"sessionId": id, "message": "hello", "modelId": "anything"}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert_eq!(t.first("model")["id"], "sandbox");
    assert_eq!(t.first("usage")["cost_cents"], 0);
    assert_eq!(
        fake.hits().len(),
        1,
        "a test agent never reaches the endpoint"
    );
}

#[tokio::test]
async fn an_endpoint_that_reports_no_usage_is_charged_the_estimate() {
    let fake = FakeHttp::start(vec![Canned::sse(&[text("Hi.")])]).await;
    let s = server(&fake, |_| {}).await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let t = turn(&s, json!({"sessionId": id, "message": "hello"})).await;
    assert_eq!(t.first("message")["content"], "Hi.", "{}", t.raw);
    let used = t.first("usage");
    assert_eq!(used["estimated"], true, "{used}");
    let call = request(&s, &agent, used["model_request_ids"][0].as_str().unwrap()).await;
    let estimate = call["estimated_cost_cents"].as_i64().unwrap();
    assert!(estimate > 0);
    assert_eq!(call["cost_cents"], estimate, "{call}");
    assert_eq!(used["cost_cents"], estimate);
    assert_eq!(s.balance().await, 1000 - estimate);
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_model_call_cut_off_by_a_crash_is_left_to_an_operator_with_its_hold() {
    let fake = FakeHttp::start(vec![Canned::sse_stalled(&[text("Thinking")])]).await;
    let s = server(&fake, |_| {}).await;
    s.credit(1000).await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let body = json!({"sessionId": id, "message": "hello"});
    let streamed = {
        let http = s.http.clone();
        let url = format!("{}/api/v1/chat/turn", s.base);
        let pat = s.pat.clone();
        tokio::spawn(async move {
            let resp = http.post(url).bearer_auth(pat).json(&body).send().await;
            resp.unwrap().text().await.unwrap()
        })
    };
    // The call is under way: recover as a restart would.
    while fake.hits().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let stuck = s
        .column("SELECT id FROM service_requests WHERE status = 'executing'")
        .await;
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    let model_call = s
        .platform
        .stores
        .governance
        .request(&upivia_server::ids::RequestId::from(stuck[0].as_str()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(model_call.service, "text_generation");
    assert!(model_call.provider_started_at.is_some(), "noted as called");
    let held = model_call.estimated_cost.get();
    if on_postgres() {
        // A live node's requests are its own: make it one whose node died.
        s.column(
            "UPDATE service_requests SET node_id = NULL WHERE status = 'executing' RETURNING id",
        )
        .await;
    }
    let recovered = upivia_server::governance::recovery::recover(&s.platform)
        .await
        .unwrap();
    assert_eq!(recovered, 1);
    let r = request(&s, &agent, &model_call.id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason_code"], "outcome_unknown", "{r}");
    assert_eq!(s.balance().await, 1000 - held, "the estimate stays held");
    // The stalled stream times out; its late settlement changes nothing.
    let raw = streamed.await.unwrap();
    assert!(raw.contains("event: error"), "{raw}");
    assert!(
        raw.trim_end().ends_with('}') && raw.contains("event: done"),
        "{raw}"
    );
    assert_eq!(s.balance().await, 1000 - held);
    s.ledger_ok().await;
}
