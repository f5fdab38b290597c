//! The chat-turn stream (API.md §1.11) and its empty-body retry (§1.7).

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use upivia::ErrorKind;
use upivia::models::{ChatStreamEvent, ChatTurn};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const SSE_BODY: &str = concat!(
    ": keep-alive\n\n",
    "event: model\ndata: {\"id\": \"m\", \"model\": \"m\"}\n\n",
    "event: message_delta\ndata: {\"delta\": \"Hel\", \"content\": \"Hel\"}\n\n",
    "event: message_delta\r\ndata: {\"delta\": \"lo\",\r\ndata:  \"content\": \"lo\"}\r\n\r\n",
    "event: done\ndata: {\"ok\": true}\n\n",
);

fn sse(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_owned(), "text/event-stream")
}

#[tokio::test]
async fn a_turn_streams_parsed_events_and_sends_the_turn_headers() {
    let server = MockServer::start().await;
    reply_all(&server, sse(SSE_BODY)).await;
    let turn = ChatTurn::new("sess_1")
        .with_message("hi")
        .with_instructions("be nice")
        .with_require_approval_all(false)
        .with_continue_from(json!({"request_id": "r", "action": "approve"}));
    let events: Vec<ChatStreamEvent> = client(&server)
        .chat()
        .turn(turn)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["model", "message_delta", "message_delta", "done"]);
    assert_eq!(events[1].data["delta"], "Hel");
    assert_eq!(events[2].data, json!({"delta": "lo", "content": "lo"}));
    assert!(events[3].is_done());

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "accept"), Some("text/event-stream"));
    assert_eq!(header(&sent[0], "connection"), Some("close"));
    assert_eq!(header(&sent[0], "content-type"), Some("application/json"));
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    let body: serde_json::Value = sent[0].body_json().unwrap();
    assert_eq!(
        body,
        json!({"sessionId": "sess_1", "message": "hi", "instructions": "be nice", "require_approval_all": false,
               "continue_from": {"request_id": "r", "action": "approve"}})
    );
}

#[tokio::test]
async fn a_trailing_frame_without_blank_line_is_delivered() {
    let server = MockServer::start().await;
    reply_all(&server, sse("event: done\ndata: {\"ok\": true}")).await;
    let events: Vec<_> = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "done");
}

#[tokio::test]
async fn empty_bodied_400s_are_retried_after_half_a_second_then_a_second() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(400))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    reply_all(&server, sse(SSE_BODY)).await;
    let started = Instant::now();
    let events: Vec<_> = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(events.last().unwrap().event, "done");
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn empty_bodied_errors_give_up_after_three_attempts() {
    let server = MockServer::start().await;
    reply_all(&server, ResponseTemplate::new(503)).await;
    let err = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.status(), Some(503));
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn an_error_with_a_body_is_raised_at_once() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            403,
            json!({"error": {"code": "forbidden", "message": "no"}}),
        ),
    )
    .await;
    let err = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.code(), Some("forbidden"));
    assert_eq!(requests(&server).await.len(), 1);

    let server = MockServer::start().await;
    reply_all(
        &server,
        ResponseTemplate::new(400).set_body_string("bad gateway html"),
    )
    .await;
    let err = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap_err();
    // Not JSON: the status decides, and the text is kept.
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.body(), Some(&json!("bad gateway html")));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn dropping_the_stream_mid_way_is_fine() {
    let server = MockServer::start().await;
    reply_all(&server, sse(SSE_BODY)).await;
    let mut stream = client(&server)
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.event, "model");
    drop(stream);
}

#[tokio::test]
async fn a_slow_stream_is_not_cut_by_the_request_timeout() {
    let server = MockServer::start().await;
    // Headers and body arrive after a delay longer than the client's timeout
    // would allow for a plain request... but the connect itself is quick.
    reply_all(&server, sse(SSE_BODY).set_delay(Duration::from_millis(300))).await;
    let client = upivia::Client::builder()
        .base_url(server.uri())
        .pat(PAT)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let events: Vec<_> = client
        .chat()
        .turn(ChatTurn::new("s"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 4);
    // The same delay does time out an ordinary request.
    let err = client.teams().list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
}
