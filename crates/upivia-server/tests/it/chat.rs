//! Chat sessions and turns (API.md §1.11, §2.12) over HTTP: the event
//! stream byte for byte, tool calls as governed requests (charged,
//! audited, refused, parked for approval), pauses resumed once, and
//! local tools handed to the client. The sandbox model answers.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::*;

/// A turn's raw stream and its frames as (event, data).
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
}

/// Splits a stream into frames, checking each as §1.11 pins it: an
/// `event:` line, one `data:` line holding a JSON object, a blank line.
fn frames(raw: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in raw.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with(':')).collect();
        if lines.is_empty() {
            continue; // a keep-alive comment
        }
        assert_eq!(lines.len(), 2, "frame {block:?}");
        let name = lines[0]
            .strip_prefix("event: ")
            .unwrap_or_else(|| panic!("no event line in {block:?}"));
        let data = lines[1]
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("no data line in {block:?}"));
        let value: Value = serde_json::from_str(data).expect("data is JSON");
        assert!(value.is_object(), "data is an object: {block:?}");
        out.push((name.to_owned(), value));
    }
    out
}

async fn turn(s: &TestServer, token: &str, body: Value) -> Streamed {
    let resp = s
        .http
        .post(format!("{}/api/v1/chat/turn", s.base))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let raw = resp.text().await.unwrap();
    let frames = if status == 200 {
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        frames(&raw)
    } else {
        Vec::new()
    };
    Streamed {
        status,
        raw,
        frames,
    }
}

async fn session(s: &TestServer, agent: &TestAgent) -> String {
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": agent.id, "model_id": null, "title": "Upivia TUI · test"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

fn send_email_message() -> String {
    format!("please send an email {}", email())
}

/// A funded agent whose email needs approval, and a turn of a new session
/// that asked it to send one: the session and the (paused) turn.
async fn paused_on_approval(s: &TestServer) -> (String, Streamed) {
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(
        &agent,
        json!({"service_id": "email", "require_approval": true}),
    )
    .await;
    let id = session(s, &agent).await;
    let t = turn(
        s,
        &s.pat,
        json!({"sessionId": id, "message": send_email_message()}),
    )
    .await;
    (id, t)
}

#[tokio::test]
async fn sessions_are_opened_reused_listed_read_and_closed() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({"name": "Helper"})).await;
    let id = session(&s, &agent).await;
    assert!(id.starts_with("chs_"), "{id}");
    // An open session with no message is handed back again.
    assert_eq!(session(&s, &agent).await, id);
    let listed = s.get("/api/v1/chat/sessions", &s.pat).await;
    assert_eq!(
        listed.body["sessions"],
        json!([]),
        "empty sessions are hidden"
    );
    let listed = s
        .get("/api/v1/chat/sessions?include_empty=true", &s.pat)
        .await;
    assert_eq!(listed.body["sessions"][0]["id"], id.as_str());
    assert_eq!(listed.body["sessions"][0]["agent_name"], "Helper");
    assert_eq!(listed.body["sessions"][0]["closed_at"], Value::Null);

    let t = turn(&s, &s.pat, json!({"sessionId": id, "message": "hello"})).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    let messages = shown.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "hello");
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"], t.first("message")["content"]);
    // Now it has messages: listed, and no longer reused.
    let listed = s.get("/api/v1/chat/sessions", &s.pat).await;
    assert_eq!(listed.body["sessions"][0]["id"], id.as_str());
    let second = session(&s, &agent).await;
    assert_ne!(second, id);

    let closed = s
        .send(
            Method::DELETE,
            &format!("/api/v1/chat/sessions?session_id={id}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(closed.body["closed"], true, "{closed:?}");
    let listed = s.get("/api/v1/chat/sessions", &s.pat).await;
    assert_eq!(listed.body["sessions"], json!([]));
    let listed = s
        .get(
            "/api/v1/chat/sessions?include_closed=true&include_empty=true",
            &s.pat,
        )
        .await;
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 2);
    let again = turn(&s, &s.pat, json!({"sessionId": id, "message": "hi"})).await;
    assert_eq!(again.status, 409, "{}", again.raw);
    assert!(again.raw.contains("session_closed"), "{}", again.raw);

    let all = s
        .send(
            Method::DELETE,
            "/api/v1/chat/sessions?all=true",
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(all.body, json!({"closed": true, "count": 1}));
}

#[tokio::test]
async fn sessions_refuse_what_they_must() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let r = s.post("/api/v1/chat/sessions", &s.pat, json!({})).await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": "agt_nope"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // A member may chat only with the agents they own.
    let member = s.user_pat(Role::Member).await;
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &member,
            json!({"agent_id": agent.id}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // Nobody else reads or continues a session.
    let id = session(&s, &agent).await;
    let admin = s.user_pat(Role::Admin).await;
    let r = s.get(&format!("/api/v1/chat/sessions/{id}"), &admin).await;
    assert_eq!(r.status, 404, "{r:?}");
    let t = turn(&s, &admin, json!({"sessionId": id, "message": "hi"})).await;
    assert_eq!(t.status, 404, "{}", t.raw);
    let other = s.other_org("Elsewhere").await;
    let r = s
        .get(&format!("/api/v1/chat/sessions/{id}"), &other.pat)
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    // An agent key is not a person.
    let r = s.get("/api/v1/chat/sessions", &agent.key).await;
    assert!(r.status == 401 || r.status == 403, "{r:?}");
    // Bad turns are JSON errors before any stream.
    let t = turn(&s, &s.pat, json!({"sessionId": id, "message": "  "})).await;
    assert_eq!(t.status, 422, "{}", t.raw);
    let t = turn(&s, &s.pat, json!({"sessionId": "chs_nope", "message": "x"})).await;
    assert_eq!(t.status, 404, "{}", t.raw);
    let t = turn(&s, &s.pat, json!({"message": "x"})).await;
    assert_eq!(t.status, 422, "{}", t.raw);
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "continue_from": {"request_id": "req_x", "action": "approve"}}),
    )
    .await;
    assert_eq!(t.status, 409, "{}", t.raw);
    assert!(t.raw.contains("nothing_to_continue"), "{}", t.raw);
    let r = s
        .send(Method::DELETE, "/api/v1/chat/sessions", Some(&s.pat), None)
        .await;
    assert_eq!(r.status, 422, "{r:?}");
}

#[tokio::test]
async fn a_turn_streams_the_pinned_frames_and_ends_with_done() {
    let s = TestServer::start().await;
    s.credit(250).await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": "hello there"}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    assert!(t.raw.starts_with("event: model\ndata: {"), "{}", t.raw);
    let names = t.names();
    assert_eq!(names.first(), Some(&"model"));
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert_eq!(names.iter().filter(|n| **n == "done").count(), 1);
    assert_eq!(t.first("model")["id"], "sandbox");
    let mut streamed = String::new();
    for (name, data) in &t.frames {
        if name == "message_delta" {
            assert_eq!(data["delta"], data["content"], "{data}");
            streamed.push_str(data["delta"].as_str().unwrap());
        }
    }
    let message = t.first("message")["content"].as_str().unwrap().to_owned();
    assert_eq!(streamed, message);
    assert!(message.contains("sandbox model"), "{message}");
    let done = t.first("done");
    assert_eq!(done["ok"], true);
    assert_eq!(done["balance_cents"], 250);
    assert_eq!(done["assistant_message"], message.as_str());
    assert!(t.first("usage")["prompt_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_tool_call_is_a_governed_request_charged_and_audited() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    let before = s.balance().await;
    let id = session(&s, &agent).await;
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": send_email_message()}),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let names = t.names();
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(at("tool_planned") < at("tool_executing") && at("tool_executing") < at("tool_done"));
    assert_eq!(t.first("tool_planned")["tool_name"], "email_send");
    let done_tool = t.first("tool_done");
    assert_eq!(done_tool["status"], "executed", "{done_tool}");
    let request_id = done_tool["request_id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.first("message")["content"],
        "Tool results — email_send: executed."
    );
    // Charged as any request, and it is the agent's, made from this chat.
    let after = s.balance().await;
    assert!(after < before, "{before} → {after}");
    assert_eq!(t.first("done")["balance_cents"], after);
    let shown = s
        .get(
            &format!("/api/v1/service-requests/{request_id}"),
            &agent.key,
        )
        .await;
    // Read with the agent's own key: it is the agent's request.
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["status"], "executed");
    let audit = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    assert!(
        audit.body.to_string().contains(&request_id),
        "the request is in the audit trail: {}",
        audit.body
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_refused_tool_call_is_an_answer_not_an_error() {
    let s = TestServer::start().await;
    // No money: the email cannot be paid for.
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    let id = session(&s, &agent).await;
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": send_email_message()}),
    )
    .await;
    let done_tool = t.first("tool_done");
    assert_eq!(done_tool["status"], "blocked", "{done_tool}");
    assert_eq!(t.names().last(), Some(&"done"));
    assert_eq!(t.first("done")["ok"], true);
    // A tool the agent does not have is never called.
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": "search the knowledge base"}),
    )
    .await;
    assert!(!t.names().contains(&"tool_planned"), "{:?}", t.names());
}

#[tokio::test]
async fn an_approval_pauses_the_turn_and_continue_from_resumes_it_once() {
    let s = TestServer::start().await;
    let (id, t) = paused_on_approval(&s).await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let pending = t.first("tool_pending").clone();
    assert_eq!(t.names().last(), Some(&"done"), "{:?}", t.names());
    assert!(!t.names().contains(&"message"), "{:?}", t.names());
    let approval = pending["approval_id"].as_str().unwrap().to_owned();
    let request = pending["request_id"].as_str().unwrap().to_owned();
    assert_eq!(pending["tool_name"], "email_send");
    assert!(pending["expires_at"].is_string(), "{pending}");
    assert!(
        pending["estimated_cost_cents"].as_i64().is_some(),
        "{pending}"
    );

    // Resuming before anyone decided is refused, and the pause stays.
    let member = s.user_pat(Role::Member).await;
    let early = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "continue_from": {"request_id": request}}),
    )
    .await;
    assert_eq!(early.status, 409, "{}", early.raw);
    assert!(early.raw.contains("approval_pending"), "{}", early.raw);
    // Only an admin decides it.
    let r = s
        .post(
            &format!("/api/v1/chat/approvals/{approval}"),
            &member,
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = s
        .post(
            &format!("/api/v1/chat/approvals/{approval}"),
            &s.pat,
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "executed", "{r:?}");
    assert_eq!(r.body["request_id"], request.as_str());

    let resumed = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "continue_from": {"request_id": request, "action": "approve"}}),
    )
    .await;
    assert_eq!(resumed.status, 200, "{}", resumed.raw);
    assert_eq!(
        resumed.first("message")["content"],
        "Tool results — email_send: executed."
    );
    assert_eq!(resumed.names().last(), Some(&"done"));
    // Once.
    let twice = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "continue_from": {"request_id": request, "action": "approve"}}),
    )
    .await;
    assert_eq!(twice.status, 409, "{}", twice.raw);
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_admin_resuming_with_an_action_decides_the_approval_itself() {
    let s = TestServer::start().await;
    s.credit(100).await;
    let agent = s.agent(json!({})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    let id = session(&s, &agent).await;
    // The binding needs no approval; the turn asks for it on every call.
    let t = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": send_email_message(), "require_approval_all": true}),
    )
    .await;
    let request = t.first("tool_pending")["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = s.balance().await;
    let resumed = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "continue_from": {"request_id": request, "action": "reject"}}),
    )
    .await;
    assert_eq!(resumed.status, 200, "{}", resumed.raw);
    assert_eq!(
        resumed.first("message")["content"],
        "Tool results — email_send: blocked."
    );
    assert_eq!(s.balance().await, before, "a rejected call costs nothing");
}

#[tokio::test]
async fn local_tools_pause_for_the_client_and_its_results_resume_the_turn() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let local = json!([{
        "name": "local_read_file",
        "description": "Read a file on the user's machine",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    }]);
    let t = turn(
        &s,
        &s.pat,
        json!({
            "sessionId": id,
            "message": r#"read the file {"path": "notes.txt"}"#,
            "local_tools": local,
        }),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.raw);
    let pending = t.first("local_tools_pending");
    let call = &pending["tools"][0];
    assert_eq!(call["tool_name"], "local_read_file");
    assert_eq!(call["args"], json!({"path": "notes.txt"}));
    assert_eq!(t.names().last(), Some(&"done"));
    let call_id = call["tool_call_id"].as_str().unwrap().to_owned();

    // The client went away (this request is over) and comes back with it.
    let resumed = turn(
        &s,
        &s.pat,
        json!({
            "sessionId": id,
            "message": "",
            "continue_from": {"action": "local_results", "results": [
                {"tool_call_id": call_id, "tool_name": "local_read_file",
                 "result": {"content": "buy milk"}}
            ]},
            "local_tools": local,
        }),
    )
    .await;
    assert_eq!(resumed.status, 200, "{}", resumed.raw);
    assert_eq!(
        resumed.first("message")["content"],
        "Tool results — local_read_file: done."
    );
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    let tool = shown.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .unwrap();
    assert_eq!(tool["tool_call_id"], call_id.as_str());
    assert!(tool["content"].as_str().unwrap().contains("buy milk"));
}

#[tokio::test]
async fn a_new_message_moves_on_from_an_abandoned_pause() {
    let s = TestServer::start().await;
    let (id, t) = paused_on_approval(&s).await;
    assert!(t.names().contains(&"tool_pending"));
    let next = turn(
        &s,
        &s.pat,
        json!({"sessionId": id, "message": "never mind, hello"}),
    )
    .await;
    assert_eq!(next.status, 200, "{}", next.raw);
    assert!(
        next.first("message")["content"]
            .as_str()
            .unwrap()
            .contains("sandbox model")
    );
}

#[tokio::test]
async fn of_two_resumes_racing_for_one_pause_exactly_one_goes_on() {
    let s = TestServer::start().await;
    let (id, t) = paused_on_approval(&s).await;
    let pending = t.first("tool_pending").clone();
    let r = s
        .post(
            &format!(
                "/api/v1/chat/approvals/{}",
                pending["approval_id"].as_str().unwrap()
            ),
            &s.pat,
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let body = json!({"sessionId": id, "continue_from": {"request_id": pending["request_id"]}});
    let (a, b) = tokio::join!(turn(&s, &s.pat, body.clone()), turn(&s, &s.pat, body));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{}\n{}", a.raw, b.raw);
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    let tools = shown.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .count();
    assert_eq!(tools, 1, "the call was answered once: {}", shown.body);
}

#[tokio::test]
async fn a_paused_call_is_in_the_agent_requests_inbox_and_deciding_it_there_answers_the_call() {
    let s = TestServer::start().await;
    let (id, t) = paused_on_approval(&s).await;
    let pending = t.first("tool_pending").clone();
    let approval = pending["approval_id"].as_str().unwrap().to_owned();
    let request = pending["request_id"].as_str().unwrap().to_owned();

    // The terminal client's pending view: GET /agent-requests?status=pending.
    let r = s.get("/api/v1/agent-requests?status=pending", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    let rows = r.body["requests"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|row| row["id"] == approval.as_str())
        .unwrap_or_else(|| panic!("no gate in {rows:?}"));
    assert_eq!(row["request_type"], "approval");
    assert_eq!(row["status"], "pending");
    assert_eq!(row["service_request_id"], request.as_str());
    assert_eq!(row["chat_session_id"], id.as_str());
    assert!(
        row["title"].as_str().unwrap().contains("email.send"),
        "{row}"
    );
    assert!(row["agent_name"].is_string(), "{row}");
    // Filtered out by another type, and absent from the resolved list.
    let r = s
        .get(
            "/api/v1/agent-requests?status=pending&type=clarification",
            &s.pat,
        )
        .await;
    assert!(!r.body.to_string().contains(&approval), "{r:?}");
    let r = s
        .get("/api/v1/agent-requests?status=resolved", &s.pat)
        .await;
    assert!(!r.body.to_string().contains(&approval), "{r:?}");
    // A member who did not start the turn does not see it, nor decide it.
    let member = s.user_pat(Role::Member).await;
    let r = s.get("/api/v1/agent-requests", &member).await;
    assert!(!r.body.to_string().contains(&approval), "{r:?}");
    let r = s
        .patch(
            "/api/v1/agent-requests",
            &member,
            json!({"request_id": approval, "action": "resolve"}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");

    // Resolving approves it: the request executes, once.
    let r = s
        .patch(
            "/api/v1/agent-requests",
            &s.pat,
            json!({"request_id": approval, "action": "resolve", "response": "ok"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["ok"], true);
    assert_eq!(r.body["request"]["status"], "resolved", "{r:?}");
    assert_eq!(r.body["request"]["outcome"]["status"], "executed", "{r:?}");
    let again = s
        .patch(
            "/api/v1/agent-requests",
            &s.pat,
            json!({"id": approval, "action": "reject"}),
        )
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.body["error"]["code"], "request_already_resolved");
    let r = s.get("/api/v1/agent-requests?status=pending", &s.pat).await;
    assert!(!r.body.to_string().contains(&approval), "{r:?}");

    // The next message of the session: the call is answered with what
    // happened, not as abandoned.
    let next = turn(&s, &s.pat, json!({"sessionId": id, "message": "thanks"})).await;
    assert_eq!(next.status, 200, "{}", next.raw);
    let r = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    let messages = r.body["messages"].as_array().unwrap();
    let tool = messages
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("no tool message in {messages:?}"));
    assert!(
        tool["content"].as_str().unwrap().contains("executed"),
        "{tool}"
    );
    let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
    let tool_at = roles.iter().position(|r| *r == "tool").unwrap();
    assert_eq!(
        roles[tool_at + 1],
        "user",
        "the answer precedes the next message: {roles:?}"
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn a_member_sees_the_gate_of_their_own_turn_but_only_an_admin_decides_it() {
    let s = TestServer::start().await;
    s.credit(100).await;
    let member = s.user_pat(Role::Member).await;
    // The member's own agent: members chat with the agents they own.
    let r = s
        .post("/api/v1/agents", &member, json!({"name": "member agent"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let agent_id = r.body["agent"]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/agents/{agent_id}/services"),
            &s.pat,
            json!({"service_id": "email", "require_approval": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &member,
            json!({"agent_id": agent_id, "model_id": null, "title": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let t = turn(
        &s,
        &member,
        json!({"sessionId": id, "message": send_email_message()}),
    )
    .await;
    let approval = t.first("tool_pending")["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s.get("/api/v1/agent-requests", &member).await;
    assert!(r.body.to_string().contains(&approval), "{r:?}");
    let r = s
        .patch(
            "/api/v1/agent-requests",
            &member,
            json!({"request_id": approval, "action": "resolve"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
}
