//! Chat against the real server through the SDK only: a session, a
//! streamed turn whose tool call is a governed request, and an approval
//! pause resolved inline and resumed.

use futures::StreamExt;
use serde_json::{Value, json};
use upivia::models::{ApprovalAction, ChatStreamEvent, ChatTurn, CreateChatSession};

use crate::e2e_support::Server;

async fn events(stream: upivia::resources::ChatStream) -> Vec<ChatStreamEvent> {
    stream.map(|e| e.expect("event")).collect().await
}

fn first<'e>(events: &'e [ChatStreamEvent], name: &str) -> &'e Value {
    &events
        .iter()
        .find(|e| e.event == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                events.iter().map(|e| &e.event).collect::<Vec<_>>()
            )
        })
        .data
}

fn send_email() -> String {
    let payload = json!({"to": "ops@example.com", "subject": "Disk", "body": "Disk full."});
    format!("please send an email {payload}")
}

#[tokio::test]
async fn a_turn_streams_and_its_tool_call_is_charged() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    let owner = server.owner();
    let session = owner
        .chat()
        .sessions()
        .create(CreateChatSession::default().with_agent_id(&agent.id))
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap();
    let turn = owner
        .chat()
        .turn(ChatTurn::new(id).with_message(send_email()))
        .await
        .unwrap();
    let got = events(turn).await;
    assert_eq!(got.first().map(|e| e.event.as_str()), Some("model"));
    assert!(got.last().unwrap().is_done());
    let tool = first(&got, "tool_done");
    assert_eq!(tool["status"], "executed", "{tool}");
    assert!(first(&got, "done")["balance_cents"].as_i64().unwrap() < 100);
    let history = owner.chat().sessions().get(id).await.unwrap();
    let roles: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
}

#[tokio::test]
async fn an_approval_pause_is_resolved_inline_and_resumed() {
    let server = Server::start();
    server.credit(100).await;
    let agent = server
        .agent_with("email", json!({"require_approval": true}))
        .await;
    let owner = server.owner();
    let session = owner
        .chat()
        .sessions()
        .create(CreateChatSession::default().with_agent_id(&agent.id))
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap();
    let paused = events(
        owner
            .chat()
            .turn(ChatTurn::new(id).with_message(send_email()))
            .await
            .unwrap(),
    )
    .await;
    let pending = first(&paused, "tool_pending").clone();
    let decided = owner
        .chat()
        .resolve_approval(
            pending["approval_id"].as_str().unwrap(),
            ApprovalAction::Approve,
        )
        .await
        .unwrap();
    assert_eq!(decided["status"], "executed");
    let resumed = events(
        owner
            .chat()
            .turn(ChatTurn::new(id).with_continue_from(
                json!({"request_id": pending["request_id"], "action": "approve"}),
            ))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        first(&resumed, "message")["content"],
        "Tool results — email_send: executed."
    );
    // The pause is gone: a second resume is a typed 409 before any event.
    let again =
        owner
            .chat()
            .turn(ChatTurn::new(id).with_continue_from(
                json!({"request_id": pending["request_id"], "action": "approve"}),
            ))
            .await
            .unwrap_err();
    assert_eq!(again.status(), Some(409), "{again:?}");
    assert_eq!(again.code(), Some("nothing_to_continue"));
}
