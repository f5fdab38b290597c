//! `/mcp`: the MCP endpoint, driven as an MCP client drives it (JSON-RPC
//! over streamable HTTP, the `initialize` era and the 2026-07-28 per-
//! request era), checked against the same governance as the REST API.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestAgent, TestServer, email};

/// A minimal MCP client: what every client sends, nothing more.
struct Client<'a> {
    s: &'a TestServer,
    key: String,
    session: Option<String>,
    protocol: Option<String>,
    next_id: i64,
}

struct Answer {
    status: u16,
    body: Value,
    session: Option<String>,
}

impl<'a> Client<'a> {
    fn new(s: &'a TestServer, key: &str) -> Client<'a> {
        Client {
            s,
            key: key.to_owned(),
            session: None,
            protocol: None,
            next_id: 0,
        }
    }

    async fn post(&mut self, message: Value) -> Answer {
        let mut req = self
            .s
            .http
            .post(format!("{}/mcp", self.s.base))
            .bearer_auth(&self.key)
            .header("accept", "application/json, text/event-stream")
            .json(&message);
        if let Some(session) = &self.session {
            req = req.header("mcp-session-id", session);
        }
        if let Some(version) = &self.protocol {
            req = req.header("mcp-protocol-version", version);
            // The 2026-07-28 transport repeats the method and name in headers.
            if version.as_str() >= "2026-07-28" {
                if let Some(method) = message["method"].as_str() {
                    req = req.header("mcp-method", method);
                }
                if let Some(name) = message["params"]["name"].as_str() {
                    req = req.header("mcp-name", name);
                }
            }
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Answer {
            status,
            body,
            session,
        }
    }

    async fn initialize(&mut self, client_name: &str) -> Value {
        let a = self
            .post(json!({
                "jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": client_name, "version": "1.0"},
                },
            }))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        self.session = Some(a.session.expect("a session id on initialize"));
        self.protocol = Some(
            a.body["result"]["protocolVersion"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let note = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(note.status, 202);
        a.body["result"].clone()
    }

    async fn rpc(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let a = self
            .post(json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["id"], self.next_id);
        a.body
    }

    async fn tool_names(&mut self) -> Vec<String> {
        let r = self.rpc("tools/list", json!({})).await;
        r["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The call's result: (is_error, the STATUS line's word, the JSON).
    async fn call(&mut self, tool: &str, arguments: Value) -> (bool, String, Value) {
        let r = self
            .rpc("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        let result = &r["result"];
        assert!(result.is_object(), "{r}");
        let text = result["content"][0]["text"].as_str().unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        let word = first
            .strip_prefix("STATUS: ")
            .or_else(|| first.strip_prefix("ERROR: "))
            .unwrap_or_else(|| panic!("{text}"));
        let body: Value = serde_json::from_str(rest).unwrap();
        (result["isError"] == true, word.to_owned(), body)
    }
}

async fn agent_with(s: &TestServer, services: &[Value]) -> TestAgent {
    let agent = s.agent(json!({})).await;
    for binding in services {
        s.enable(&agent, binding.clone()).await;
    }
    agent
}

#[tokio::test]
async fn the_list_shows_only_what_the_bindings_enable_and_follows_them() {
    let s = TestServer::start().await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    let info = c.initialize("it-client").await;
    assert_eq!(info["serverInfo"]["name"], "upivia");
    assert!(info["capabilities"]["tools"].is_object(), "{info}");

    let names = c.tool_names().await;
    assert!(names.contains(&"email_send".to_owned()), "{names:?}");
    assert!(names.contains(&"platform_check_budget".to_owned()));
    assert!(names.contains(&"request_status".to_owned()));
    assert!(!names.iter().any(|n| n.starts_with("sms_")), "{names:?}");
    let r = c.rpc("tools/list", json!({})).await;
    let send = r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "email_send")
        .unwrap()
        .clone();
    assert_eq!(send["inputSchema"]["type"], "object");
    assert!(
        send["inputSchema"]["properties"]["to"].is_object(),
        "{send}"
    );
    assert!(send["description"].as_str().unwrap().contains("cents"));

    // A binding enabled or disabled shows on the next list.
    s.enable(&agent, json!({"service_id": "sms", "operation": "send"}))
        .await;
    let names = c.tool_names().await;
    assert!(names.contains(&"sms_send".to_owned()), "{names:?}");
    assert!(!names.contains(&"sms_read".to_owned()), "{names:?}");
    let r = s
        .send(
            Method::DELETE,
            &format!("/api/v1/agents/{}/services?service_id=email", agent.id),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let names = c.tool_names().await;
    assert!(!names.contains(&"email_send".to_owned()), "{names:?}");
}

#[tokio::test]
async fn a_call_is_a_governed_request_charged_and_audited_with_the_client() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;

    let before = s.balance().await;
    let (is_error, status, body) = c.call("email_send", email()).await;
    assert!(!is_error);
    assert_eq!(status, "executed", "{body}");
    let cost = body["cost_cents"].as_i64().unwrap();
    assert!(cost > 0);
    assert_eq!(s.balance().await, before - cost);
    let request_id = body["request_id"].as_str().unwrap().to_owned();

    // The same request as the REST API sees it.
    let r = s
        .get(
            &format!("/api/v1/service-requests/{request_id}"),
            &agent.key,
        )
        .await;
    assert_eq!(r.body["status"], "executed", "{r:?}");

    // Audited, with the MCP client's name.
    let r = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    let rows = r.body["logs"].as_array().unwrap_or_else(|| panic!("{r:?}"));
    let row = rows
        .iter()
        .find(|e| e["event_type"] == "service_request.executed")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(row["details"]["mcp_client"], "it-client", "{row}");

    // The budget check, free.
    let (_, status, body) = c.call("platform_check_budget", json!({})).await;
    assert_eq!(status, "executed", "{body}");
    assert_eq!(body["cost_cents"], 0);

    // request_status reads it back; another agent cannot.
    let (_, status, _) = c
        .call("request_status", json!({"request_id": request_id}))
        .await;
    assert_eq!(status, "executed");
    let other = s.agent(json!({})).await;
    let mut o = Client::new(&s, &other.key);
    o.initialize("other").await;
    let (is_error, code, _) = o
        .call("request_status", json!({"request_id": request_id}))
        .await;
    assert!(is_error);
    assert_eq!(code, "not_found");
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_tool_not_enabled_is_refused_at_call_time_and_unknown_ones_are_errors() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let before = s.balance().await;

    let (is_error, status, body) = c
        .call(
            "sms_send",
            json!({"to": "+15555550123", "from": "+15555550100", "body": "hi"}),
        )
        .await;
    assert!(!is_error, "a refusal is an answer");
    assert_eq!(status, "blocked", "{body}");
    assert_eq!(body["reason_code"], "service_not_enabled");
    assert_eq!(s.balance().await, before);

    let r = c
        .rpc(
            "tools/call",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[tokio::test]
async fn malformed_arguments_are_tool_errors_naming_the_field() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let (is_error, code, body) = c
        .call("email_send", json!({"to": 7, "subject": "x", "body": "y"}))
        .await;
    assert!(is_error);
    assert_eq!(code, "invalid_payload", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("to"),
        "{body}"
    );
}

#[tokio::test]
async fn an_approval_is_surfaced_then_decided_through_the_approvals_api() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = agent_with(
        &s,
        &[json!({"service_id": "email", "require_approval": true})],
    )
    .await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let (is_error, status, body) = c.call("email_send", email()).await;
    assert!(!is_error);
    assert_eq!(status, "approval_required", "{body}");
    let approval = body["approval_id"].as_str().unwrap().to_owned();
    assert!(body["expires_at"].is_string(), "{body}");
    let request_id = body["request_id"].as_str().unwrap().to_owned();

    let r = s
        .post(
            &format!("/api/v1/approvals/{approval}/approve"),
            &s.pat,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let (_, status, body) = c
        .call("request_status", json!({"request_id": request_id}))
        .await;
    assert_eq!(status, "executed", "{body}");
}

#[tokio::test]
async fn a_running_operation_answers_at_once_and_is_polled() {
    let s =
        TestServer::start_with(|c| c.voice_call_delay = std::time::Duration::from_millis(50)).await;
    s.credit(1_000).await;
    let agent = agent_with(&s, &[json!({"service_id": "voice_call"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let (_, status, body) = c
        .call(
            "voice_call_create",
            json!({"to": "+15555550123", "from": "+15555550100", "say": "hello"}),
        )
        .await;
    assert_eq!(status, "running", "{body}");
    let request_id = body["request_id"].as_str().unwrap().to_owned();
    let mut last = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        s.tick_workers().await;
        let (_, status, _) = c
            .call("request_status", json!({"request_id": request_id}))
            .await;
        last = status;
        if last != "running" {
            break;
        }
    }
    assert_eq!(last, "executed");
}

#[tokio::test]
async fn a_call_sent_again_in_its_session_is_answered_once() {
    let s = TestServer::start().await;
    s.credit(1_000).await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let message = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": {"name": "email_send", "arguments": email()}});
    let first = c.post(message.clone()).await;
    let again = c.post(message.clone()).await;
    let first = &first.body["result"]["structuredContent"];
    let again = &again.body["result"]["structuredContent"];
    assert_eq!(first["status"], "executed", "{first}");
    assert_eq!(first["request_id"], again["request_id"]);

    // Another session's request 41 is another request.
    let mut other = Client::new(&s, &agent.key);
    other.initialize("it-client").await;
    let third = other.post(message).await;
    let third = &third.body["result"]["structuredContent"];
    assert_eq!(third["status"], "executed", "{third}");
    assert_ne!(third["request_id"], first["request_id"]);
}

#[tokio::test]
async fn memories_are_written_and_searched_through_tools() {
    let s = TestServer::start().await;
    let agent = agent_with(&s, &[]).await;
    let mut c = Client::new(&s, &agent.key);
    c.initialize("it-client").await;
    let (is_error, status, body) = c
        .call(
            "memory_create",
            json!({"content": "The billing database fails over to eu-west", "tags": ["ops"]}),
        )
        .await;
    assert!(!is_error, "{body}");
    assert_eq!(status, "created");
    let (_, status, body) = c
        .call("memory_search", json!({"query": "billing failover"}))
        .await;
    assert_eq!(status, "ok");
    assert_eq!(body["memories"].as_array().unwrap().len(), 1, "{body}");
    let (is_error, code, _) = c.call("memory_create", json!({"tags": []})).await;
    assert!(is_error);
    assert_eq!(code, "invalid_payload");
}

#[tokio::test]
async fn the_2026_protocol_is_served_without_a_session() {
    let s = TestServer::start().await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let mut c = Client::new(&s, &agent.key);
    c.protocol = Some("2026-07-28".into());
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "modern", "version": "2"},
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let r = c.rpc("tools/list", json!({"_meta": meta})).await;
    let tools = r["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"));
    assert!(tools.iter().any(|t| t["name"] == "email_send"), "{r}");
    let r = c
        .rpc(
            "tools/call",
            json!({"_meta": meta, "name": "platform_check_budget", "arguments": {}}),
        )
        .await;
    let text = r["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"));
    assert!(text.starts_with("STATUS: executed\n"), "{text}");

    // Without a session a call has no key unless it brings one in _meta:
    // then one sent twice (any request id) is answered once.
    s.credit(100).await;
    let mut keyed = meta.clone();
    keyed["upivia/idempotencyKey"] = json!("send-report-1");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = c
            .rpc(
                "tools/call",
                json!({"_meta": keyed, "name": "email_send", "arguments": email()}),
            )
            .await;
        let body = &r["result"]["structuredContent"];
        assert_eq!(body["status"], "executed", "{r}");
        ids.push(body["request_id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    let mut bad = meta.clone();
    bad["upivia/idempotencyKey"] = json!(7);
    let r = c
        .rpc(
            "tools/call",
            json!({"_meta": bad, "name": "email_send", "arguments": email()}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");

    // Audited with the name the request's _meta gives.
    let r = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    let logs = r.body["logs"].as_array().unwrap();
    assert!(
        logs.iter().any(|e| e["details"]["mcp_client"] == "modern"),
        "{logs:?}"
    );
}

#[tokio::test]
async fn keys_hosts_and_sessions_are_checked() {
    let s = TestServer::start().await;
    let agent = agent_with(&s, &[json!({"service_id": "email"})]).await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "x", "version": "1"}}});

    // No key, a bad key, a user's PAT.
    for key in [
        None,
        Some("agent_key_live_0000000000000000"),
        Some(s.pat.as_str()),
    ] {
        let mut req = s
            .http
            .post(format!("{}/mcp", s.base))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let want = if key == Some(s.pat.as_str()) {
            403
        } else {
            401
        };
        assert_eq!(status, want);
        if status == 401 {
            let challenge = r.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        }
    }

    // A Host or Origin that is not the server's.
    let r = s
        .http
        .post(format!("{}/mcp", s.base))
        .bearer_auth(&agent.key)
        .header("accept", "application/json, text/event-stream")
        .header("host", "evil.example")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .http
        .post(format!("{}/mcp", s.base))
        .bearer_auth(&agent.key)
        .header("accept", "application/json, text/event-stream")
        .header("origin", "https://evil.example")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // One agent's session id is no use with another's key.
    let mut c = Client::new(&s, &agent.key);
    c.initialize("x").await;
    let other = s.agent(json!({})).await;
    let mut o = Client::new(&s, &other.key);
    o.session = c.session.clone();
    o.protocol = c.protocol.clone();
    let a = o
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(a.status, 404, "{}", a.body);

    // GET opens no stream: nothing is pushed in stateless mode.
    let r = s
        .http
        .get(format!("{}/mcp", s.base))
        .bearer_auth(&agent.key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    // Counted by tool and outcome.
    let mut c = Client::new(&s, &agent.key);
    c.initialize("x").await;
    c.call("platform_check_budget", json!({})).await;
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "upivia_mcp_tool_calls_total{tool=\"platform_check_budget\",outcome=\"executed\"}"
        ),
        "{metrics}"
    );
}
