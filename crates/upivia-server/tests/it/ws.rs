//! The realtime socket `/ws` (API.md §3) over a real WebSocket: in-band
//! authentication and its refusals, one turn fanned out to every client
//! of the session, local tools resumed by `tool_result` alone, device
//! commands pushed as they are queued, permission prompts relayed, and a
//! cancel that stops a turn between steps (never inside a governed call).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use upivia_server::config::WebhookSecret;
use upivia_server::model::Role;

use crate::support::*;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(s: &TestServer) -> Ws {
    let url = format!("{}/ws", s.base.replacen("http://", "ws://", 1));
    let (ws, response) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    assert_eq!(response.status().as_u16(), 101);
    ws
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("send");
}

async fn connect(s: &TestServer, session: &str, pat: &str, is_device: bool) -> Ws {
    let mut ws = open(s).await;
    send(
        &mut ws,
        json!({"type": "connect", "session_id": session, "pat": pat, "is_device": is_device}),
    )
    .await;
    ws
}

/// The next JSON frame; `None` once the server closed the socket; `Err`
/// after 10 s of silence.
async fn recv(ws: &mut Ws) -> Result<Option<Value>, tokio::time::error::Elapsed> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?;
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).expect("frames are JSON");
                assert!(value["type"].is_string(), "{value}");
                return Ok(Some(value));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(None),
            Some(Ok(other)) => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn next(ws: &mut Ws) -> Option<Value> {
    recv(ws).await.expect("a frame within 10 s")
}

/// Frames up to and including the first that `last` matches.
async fn until(ws: &mut Ws, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let frame = match recv(ws).await {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("closed after {seen:?}"),
            Err(_) => panic!("nothing more within 10 s after {seen:?}"),
        };
        let stop = last(&frame);
        seen.push(frame);
        if stop {
            return seen;
        }
    }
}

fn turn_over(frame: &Value) -> bool {
    matches!(
        frame["type"].as_str(),
        Some("chat_turn_done" | "chat_turn_cancelled")
    )
}

/// The `chat_event` names of `frames`, in order.
fn events(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .filter(|f| f["type"] == "chat_event")
        .map(|f| f["event"].as_str().unwrap())
        .collect()
}

fn event<'a>(frames: &'a [Value], name: &str) -> &'a Value {
    &frames
        .iter()
        .find(|f| f["type"] == "chat_event" && f["event"] == name)
        .unwrap_or_else(|| panic!("no {name} in {frames:?}"))["data"]
}

async fn session(s: &TestServer, agent: &TestAgent) -> String {
    let r = s
        .post(
            "/api/v1/chat/sessions",
            &s.pat,
            json!({"agent_id": agent.id, "title": "Upivia TUI · ws"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

/// The error frame a refused socket gets, and that it is closed after.
async fn refused(mut ws: Ws) -> Value {
    let frame = next(&mut ws).await.expect("an error frame");
    assert_eq!(frame["type"], "error", "{frame}");
    assert!(frame["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert!(next(&mut ws).await.is_none(), "closed after the refusal");
    frame
}

#[tokio::test]
async fn connect_authenticates_in_band_and_refuses_in_words() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;

    let bad = refused(connect(&s, &id, "upivia_pat_live_not-a-real-token", true).await).await;
    assert_eq!(bad["code"], "unauthorized", "{bad}");
    let key = refused(connect(&s, &id, &agent.key, true).await).await;
    assert_eq!(key["code"], "forbidden", "{key}");
    // Another member's session is not found, as over REST.
    let other = s.user_pat(Role::Member).await;
    let theirs = refused(connect(&s, &id, &other, false).await).await;
    assert_eq!(theirs["code"], "not_found", "{theirs}");
    let none = refused(connect(&s, "chs_nothing", &s.pat, false).await).await;
    assert_eq!(none["code"], "not_found", "{none}");

    let mut ws = open(&s).await;
    send(&mut ws, json!({"type": "heartbeat"})).await;
    let first = refused(ws).await;
    assert!(
        first["error"].as_str().unwrap().contains("connect"),
        "{first}"
    );
    let mut ws = open(&s).await;
    ws.send(Message::text("not json")).await.unwrap();
    refused(ws).await;

    // Connected, a frame the server cannot read is answered, not fatal.
    let mut ws = connect(&s, &id, &s.pat, false).await;
    for (frame, words) in [
        (json!({"type": "dance"}), "unknown message type"),
        (
            json!({"type": "connect", "session_id": id, "pat": s.pat}),
            "already",
        ),
        (json!({"type": "tool_result"}), "results"),
        (
            json!({"type": "command_done", "id": "dcmd_x", "status": "weird"}),
            "status",
        ),
        (
            json!({"type": "tool_result", "results": []}),
            "no paused turn",
        ),
    ] {
        send(&mut ws, frame.clone()).await;
        let answer = next(&mut ws).await.expect("still open");
        assert_eq!(answer["type"], "error", "{frame}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(words),
            "{frame}: {answer}"
        );
    }
    send(&mut ws, json!({"type": "heartbeat"})).await;
    send(&mut ws, json!({"type": "cancel"})).await;
    // Nothing runs: the cancel is answered all the same.
    assert_eq!(next(&mut ws).await.unwrap()["type"], "chat_turn_cancelled");

    // A plain GET is not an upgrade.
    let plain = s.get("/ws", &s.pat).await;
    assert!(plain.status.is_client_error(), "{plain:?}");
}

#[tokio::test]
async fn a_turn_streams_to_every_client_of_the_session() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let mut terminal = connect(&s, &id, &s.pat, true).await;
    let mut web = connect(&s, &id, &s.pat, false).await;
    // Both are in the room before the turn starts.
    send(&mut terminal, json!({"type": "heartbeat"})).await;
    send(&mut web, json!({"type": "heartbeat"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    send(
        &mut terminal,
        json!({"type": "chat_turn", "message": "hello there", "modelId": null}),
    )
    .await;
    let mine = until(&mut terminal, turn_over).await;
    let theirs = until(&mut web, turn_over).await;
    assert_eq!(mine.last().unwrap()["type"], "chat_turn_done");
    assert_eq!(theirs.last().unwrap()["type"], "chat_turn_done");
    // The other client also hears what was typed; the author does not.
    assert_eq!(
        event(&theirs, "user_message"),
        &json!({"content": "hello there"})
    );
    assert!(!events(&mine).contains(&"user_message"), "{mine:?}");
    let stream: Vec<&str> = events(&theirs)
        .into_iter()
        .filter(|e| *e != "user_message")
        .collect();
    assert_eq!(stream, events(&mine));
    assert_eq!(events(&mine).first(), Some(&"model"));
    assert_eq!(events(&mine).last(), Some(&"done"));
    assert!(events(&mine).contains(&"message_delta"));
    let said = event(&mine, "message")["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(event(&mine, "done")["assistant_message"], said.as_str());
    let delta = event(&mine, "message_delta");
    assert_eq!(delta["delta"], delta["content"]);

    // The turn is in the session's history, as one made over REST.
    let shown = s.get(&format!("/api/v1/chat/sessions/{id}"), &s.pat).await;
    let messages = shown.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["content"], "hello there");
    assert_eq!(messages[1]["content"], said.as_str());
    // The device counts as online.
    let devices = s.get("/api/v1/devices/sessions", &s.pat).await;
    assert_eq!(devices.status, 200, "{devices:?}");
    let listed = devices.body.to_string();
    assert!(listed.contains(&id), "{listed}");
    assert!(listed.contains("\"online\":true"), "{listed}");
}

#[tokio::test]
async fn local_tools_pause_and_tool_result_resumes_the_turn_by_itself() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let mut ws = connect(&s, &id, &s.pat, true).await;
    let local = json!([{
        "name": "local_read_file",
        "description": "Read a file on the user's machine",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
    }]);
    send(
        &mut ws,
        json!({"type": "chat_turn", "message": r#"read the file {"path": "notes.txt"}"#,
               "local_tools": local}),
    )
    .await;
    let first = until(&mut ws, turn_over).await;
    assert_eq!(first.last().unwrap()["type"], "chat_turn_done");
    let pending = event(&first, "local_tools_pending");
    let call = &pending["tools"][0];
    assert_eq!(call["tool_name"], "local_read_file");
    assert_eq!(call["args"], json!({"path": "notes.txt"}));
    let call_id = call["tool_call_id"].as_str().unwrap();

    // No new chat_turn: the results alone resume it.
    send(
        &mut ws,
        json!({"type": "tool_result", "results": [
            {"tool_call_id": call_id, "tool_name": "local_read_file",
             "result": {"content": "buy milk"}}
        ]}),
    )
    .await;
    let resumed = until(&mut ws, turn_over).await;
    assert_eq!(resumed.last().unwrap()["type"], "chat_turn_done");
    assert_eq!(
        event(&resumed, "message")["content"],
        "Tool results — local_read_file: done."
    );
    // Answered once: the same results again find nothing to continue.
    send(
        &mut ws,
        json!({"type": "tool_result", "results": [
            {"tool_call_id": call_id, "tool_name": "local_read_file", "result": {}}
        ]}),
    )
    .await;
    let again = next(&mut ws).await.unwrap();
    assert_eq!(again["type"], "error", "{again}");
    assert_eq!(again["code"], "nothing_to_continue", "{again}");
}

#[tokio::test]
async fn queued_commands_reach_the_device_socket_at_once_and_are_acknowledged() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    // Queued while no device is connected: handed over on connect.
    let early = s
        .post(
            &format!("/api/v1/devices/sessions/{id}"),
            &s.pat,
            json!({"content": "{\"message\": \"hello device\"}"}),
        )
        .await;
    assert_eq!(early.status, 200, "{early:?}");
    let mut device = connect(&s, &id, &s.pat, true).await;
    let got = next(&mut device).await.unwrap();
    assert_eq!(got["type"], "command", "{got}");
    assert_eq!(got["id"], early.body["command"]["id"]);
    assert_eq!(got["content"], "{\"message\": \"hello device\"}");

    // Queued while connected: pushed without waiting for a heartbeat.
    let later = s
        .post(
            &format!("/api/v1/devices/sessions/{id}"),
            &s.pat,
            json!({"content": "plain words"}),
        )
        .await;
    let pushed = next(&mut device).await.unwrap();
    assert_eq!(pushed["type"], "command", "{pushed}");
    assert_eq!(pushed["id"], later.body["command"]["id"]);
    let command_id = pushed["id"].as_str().unwrap().to_owned();
    // The socket's `error` is the REST route's `failed`.
    send(
        &mut device,
        json!({"type": "command_done", "id": command_id, "status": "error"}),
    )
    .await;
    // Each is handed over once: a heartbeat brings nothing more.
    send(&mut device, json!({"type": "heartbeat"})).await;
    send(&mut device, json!({"type": "cancel"})).await;
    assert_eq!(
        next(&mut device).await.unwrap()["type"],
        "chat_turn_cancelled"
    );
    let stored: Vec<String> = s
        .column("SELECT id || ' ' || status FROM device_commands ORDER BY id")
        .await;
    assert!(
        stored.contains(&format!("{command_id} failed")),
        "{stored:?}"
    );
}

#[tokio::test]
async fn permission_prompts_are_relayed_to_every_client_the_sender_included() {
    let s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let mut terminal = connect(&s, &id, &s.pat, true).await;
    let mut web = connect(&s, &id, &s.pat, false).await;
    send(&mut web, json!({"type": "heartbeat"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let prompt = json!({"type": "permission_request", "id": "perm_1", "kind": "command_policy",
                        "tool": "run_command", "detail": "rm -rf build"});
    send(&mut terminal, prompt).await;
    for ws in [&mut terminal, &mut web] {
        let got = next(ws).await.unwrap();
        assert_eq!(got["type"], "chat_event");
        assert_eq!(got["event"], "permission_request");
        assert_eq!(
            got["data"],
            json!({"id": "perm_1", "kind": "command_policy", "tool": "run_command",
                   "detail": "rm -rf build"})
        );
    }
    send(
        &mut web,
        json!({"type": "permission_response", "id": "perm_1", "decision": "allow_once"}),
    )
    .await;
    for ws in [&mut terminal, &mut web] {
        let got = next(ws).await.unwrap();
        assert_eq!(got["event"], "permission_resolved", "{got}");
        assert_eq!(
            got["data"],
            json!({"id": "perm_1", "decision": "allow_once"})
        );
    }
    // A prompt of another session's socket stays there.
    let elsewhere = session(&s, &s.agent(json!({})).await).await;
    let mut other = connect(&s, &elsewhere, &s.pat, false).await;
    send(
        &mut other,
        json!({"type": "permission_request", "id": "perm_2", "kind": "ask_user", "tool": "ask"}),
    )
    .await;
    assert_eq!(next(&mut other).await.unwrap()["data"]["id"], "perm_2");
    send(&mut terminal, json!({"type": "cancel"})).await;
    assert_eq!(
        next(&mut terminal).await.unwrap()["type"],
        "chat_turn_cancelled",
        "perm_2 did not reach this session"
    );
}

/// A webhook receiver that answers each request after `delay`.
async fn slow_receiver(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = stream.read(&mut buf).await;
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn cancel_stops_the_turn_between_steps_and_one_turn_runs_at_a_time() {
    let (url, hits) = slow_receiver(Duration::from_millis(1500)).await;
    let s = TestServer::start_with(|c| {
        c.webhook_allowed_hosts = vec!["http://127.0.0.1".into()];
        c.providers.webhook_signing_secret =
            Some(WebhookSecret::parse(crate::providers_webhook::SIGNING_SECRET).unwrap());
    })
    .await;
    let agent = s.funded_agent("notification", 100).await;
    let id = session(&s, &agent).await;
    let mut ws = connect(&s, &id, &s.pat, true).await;
    let message = format!(
        "send a notification webhook {}",
        json!({"url": url, "body": {"event": "ping"}})
    );
    send(&mut ws, json!({"type": "chat_turn", "message": message})).await;
    // The webhook is being delivered: a second turn is refused, and the
    // cancel waits for the delivery to finish.
    until(&mut ws, |f| f["event"] == "tool_executing").await;
    send(
        &mut ws,
        json!({"type": "chat_turn", "message": "and another"}),
    )
    .await;
    let busy = until(&mut ws, |f| f["type"] == "error").await;
    assert_eq!(busy.last().unwrap()["code"], "turn_running", "{busy:?}");
    send(&mut ws, json!({"type": "cancel"})).await;
    let rest = until(&mut ws, turn_over).await;
    assert_eq!(
        rest.last().unwrap()["type"],
        "chat_turn_cancelled",
        "{rest:?}"
    );
    let done = event(&rest, "tool_done");
    assert_eq!(done["status"], "executed", "{done}");
    // Stopped before the next model call: no final message.
    assert!(!events(&rest).contains(&"message"), "{rest:?}");
    assert_eq!(event(&rest, "done")["ok"], false);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // The delivery was charged once, and the money adds up.
    let requests = s
        .get(&format!("/api/v1/agents/{}/activity", agent.id), &s.pat)
        .await;
    assert_eq!(requests.status, 200, "{requests:?}");
    s.ledger_ok().await;
    // The session is free again.
    send(&mut ws, json!({"type": "chat_turn", "message": "hello"})).await;
    let next_turn = until(&mut ws, turn_over).await;
    assert_eq!(next_turn.last().unwrap()["type"], "chat_turn_done");
}

#[tokio::test]
async fn shutdown_closes_the_sockets_going_away() {
    let mut s = TestServer::start().await;
    let agent = s.agent(json!({})).await;
    let id = session(&s, &agent).await;
    let mut ws = connect(&s, &id, &s.pat, true).await;
    send(&mut ws, json!({"type": "cancel"})).await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "chat_turn_cancelled");
    tokio::time::timeout(Duration::from_secs(10), s.stop())
        .await
        .expect("the server stops with a socket open");
    let closed = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the socket is closed");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("a going-away close, not {other:?}"),
    }
}
