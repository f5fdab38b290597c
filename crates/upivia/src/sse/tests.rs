//! Every case of the reference SDK's SSE tests, plus byte-boundary splits.

use serde_json::json;

use super::*;

fn parse_all(text: &str, chunk_size: Option<usize>) -> Vec<ChatStreamEvent> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    match chunk_size {
        None => events.extend(parser.feed(text.as_bytes())),
        Some(n) => {
            for chunk in text.as_bytes().chunks(n) {
                events.extend(parser.feed(chunk));
            }
        }
    }
    events.extend(parser.finish());
    events
}

fn names(events: &[ChatStreamEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

#[test]
fn single_event_json_data() {
    let events = parse_all("event: model\ndata: {\"model\": \"gpt\"}\n\n", None);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "model");
    assert_eq!(events[0].data, json!({"model": "gpt"}));
}

#[test]
fn default_event_name_is_message() {
    let events = parse_all("data: {\"text\": \"hi\"}\n\n", None);
    assert_eq!(events[0].event, "message");
    assert_eq!(events[0].data, json!({"text": "hi"}));
}

#[test]
fn multi_line_data_joined_with_newline() {
    let events = parse_all("event: message\ndata: line1\ndata: line2\n\n", None);
    assert_eq!(events[0].data, json!("line1\nline2"));
}

#[test]
fn multi_line_json_data() {
    let events = parse_all("event: usage\ndata: {\"a\":\ndata: 1}\n\n", None);
    assert_eq!(events[0].event, "usage");
    assert_eq!(events[0].data, json!({"a": 1}));
}

#[test]
fn comment_lines_ignored() {
    let events = parse_all(
        ": keepalive\n: another comment\nevent: done\ndata: {\"ok\": true}\n\n",
        None,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "done");
}

#[test]
fn crlf_line_endings() {
    let events = parse_all(
        "event: status\r\ndata: {\"message\": \"working\"}\r\n\r\n",
        None,
    );
    assert_eq!(events[0].event, "status");
    assert_eq!(events[0].data, json!({"message": "working"}));
}

#[test]
fn non_json_data_falls_back_to_raw_string() {
    let events = parse_all("event: message\ndata: not json at all\n\n", None);
    assert_eq!(events[0].data, json!("not json at all"));
}

#[test]
fn id_and_retry_fields_ignored() {
    let events = parse_all("id: 42\nretry: 3000\nevent: ping\ndata: {}\n\n", None);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "ping");
    assert_eq!(events[0].data, json!({}));
}

#[test]
fn blank_frame_without_data_yields_nothing() {
    assert!(parse_all("event: phantom\n\n", None).is_empty());
}

#[test]
fn event_name_resets_between_frames() {
    let events = parse_all(
        "event: thinking\ndata: {\"delta\": \"…\"}\n\ndata: {\"plain\": true}\n\n",
        None,
    );
    assert_eq!(names(&events), ["thinking", "message"]);
}

#[test]
fn event_name_resets_after_a_dropped_frame() {
    let events = parse_all("event: phantom\n\ndata: {}\n\n", None);
    assert_eq!(names(&events), ["message"]);
}

#[test]
fn trailing_frame_without_final_blank_line_is_flushed() {
    let events = parse_all("event: done\ndata: {\"ok\": true}\n", None);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "done");
    assert_eq!(events[0].data, json!({"ok": true}));
}

const ALL_NAMES: [&str; 16] = [
    "model",
    "status",
    "thinking",
    "message_delta",
    "tool_planned",
    "tool_executing",
    "tool_done",
    "tool_pending",
    "usage",
    "message",
    "done",
    "error",
    "agent_event",
    "ping",
    "delegation_started",
    "local_tools_pending",
];

#[test]
fn all_known_chat_event_names_parse() {
    let body: String = ALL_NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| format!("event: {n}\ndata: {{\"i\": {i}}}\n\n"))
        .collect();
    let events = parse_all(&body, None);
    assert_eq!(names(&events), ALL_NAMES);
    let indices: Vec<i64> = events
        .iter()
        .map(|e| e.data["i"].as_i64().unwrap())
        .collect();
    assert_eq!(indices, (0..16).collect::<Vec<i64>>());
}

#[test]
fn chunked_feeding_splits_mid_line_and_mid_frame() {
    let body = "event: message_delta\ndata: {\"delta\": \"Hello\"}\n\nevent: done\ndata: {\"ok\": true}\n\n";
    let events = parse_all(body, Some(1));
    assert_eq!(names(&events), ["message_delta", "done"]);
    assert_eq!(events[0].data, json!({"delta": "Hello"}));
}

#[test]
fn abort_mid_stream_keeps_partial_state_contained() {
    let mut parser = SseParser::new();
    assert!(
        parser
            .feed(b"event: message_delta\ndata: {\"delta\": \"par")
            .is_empty()
    );
    let tail = parser.finish();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].event, "message_delta");
    assert_eq!(tail[0].data, json!("{\"delta\": \"par"));
}

#[test]
fn only_one_leading_space_is_stripped() {
    let events = parse_all("event: message\ndata:   two spaces\ndata:none\n\n", None);
    assert_eq!(events[0].data, json!("  two spaces\nnone"));
}

#[test]
fn line_without_colon_is_a_field_with_empty_value() {
    // `data` alone is a data line with an empty value.
    let events = parse_all("event: e\ndata\ndata: x\n\n", None);
    assert_eq!(events[0].data, json!("\nx"));
}

#[test]
fn empty_event_name_defaults_to_message() {
    let events = parse_all("event:\ndata: {}\n\n", None);
    assert_eq!(events[0].event, "message");
}

/// A recorded turn: keep-alives, CRLF, multi-line data, non-ASCII text,
/// a non-JSON frame and a last frame with no blank line.
const RECORDED: &str = concat!(
    ": keep-alive\r\n",
    "event: model\r\ndata: {\"id\": \"openai/gpt-4.1-mini\", \"model\": \"openai/gpt-4.1-mini\"}\r\n\r\n",
    "event: status\ndata: {\"step\": \"Planning\", \"message\": \"Planning\"}\n\n",
    "id: 7\nevent: message_delta\ndata: {\"delta\": \"Grüße, \", \n",
    "data: \"content\": \"Grüße, \"}\n\n",
    ": ping\n\n",
    "event: message_delta\ndata: {\"delta\": \"世界 🌍\", \"content\": \"世界 🌍\"}\n\n",
    "event: error\ndata: upstream hiccup\n\n",
    "event: agent_event\ndata: {\"type\": \"done\", \"agentName\": \"w\", \"spentCents\": 3}\n\n",
    "event: done\ndata: {\"ok\": true, \"balance_cents\": 120}",
);

fn recorded_expectation() -> Vec<ChatStreamEvent> {
    let ev = |event: &str, data| ChatStreamEvent {
        event: event.to_owned(),
        data,
    };
    vec![
        ev(
            "model",
            json!({"id": "openai/gpt-4.1-mini", "model": "openai/gpt-4.1-mini"}),
        ),
        ev("status", json!({"step": "Planning", "message": "Planning"})),
        ev(
            "message_delta",
            json!({"delta": "Grüße, ", "content": "Grüße, "}),
        ),
        ev(
            "message_delta",
            json!({"delta": "世界 🌍", "content": "世界 🌍"}),
        ),
        ev("error", json!("upstream hiccup")),
        ev(
            "agent_event",
            json!({"type": "done", "agentName": "w", "spentCents": 3}),
        ),
        ev("done", json!({"ok": true, "balance_cents": 120})),
    ]
}

#[test]
fn recorded_stream_parses_whole() {
    assert_eq!(parse_all(RECORDED, None), recorded_expectation());
}

#[test]
fn recorded_stream_parses_identically_split_at_every_byte_boundary() {
    let bytes = RECORDED.as_bytes();
    let expected = recorded_expectation();
    for split in 0..=bytes.len() {
        let mut parser = SseParser::new();
        let mut events = parser.feed(&bytes[..split]);
        events.extend(parser.feed(&bytes[split..]));
        events.extend(parser.finish());
        assert_eq!(events, expected, "split at byte {split}");
    }
}

#[test]
fn recorded_stream_parses_identically_fed_byte_by_byte() {
    assert_eq!(parse_all(RECORDED, Some(1)), recorded_expectation());
    assert_eq!(parse_all(RECORDED, Some(3)), recorded_expectation());
}

#[test]
fn feed_frames_hands_out_undecoded_frames_in_order() {
    let mut parser = SseParser::new();
    let mut frames: Vec<(String, String)> = Vec::new();
    let bytes = RECORDED.as_bytes();
    for piece in bytes.chunks(5) {
        parser.feed_frames(piece, |f| {
            frames.push((f.event.to_owned(), f.data.to_owned()))
        });
    }
    parser.finish_frames(|f| frames.push((f.event.to_owned(), f.data.to_owned())));
    assert_eq!(frames.len(), 7);
    assert_eq!(frames[2].0, "message_delta");
    assert_eq!(
        frames[2].1,
        "{\"delta\": \"Grüße, \", \n\"content\": \"Grüße, \"}"
    );
    assert_eq!(
        frames[4],
        ("error".to_owned(), "upstream hiccup".to_owned())
    );
    // Decoding each frame gives what `feed` gives.
    let decoded: Vec<ChatStreamEvent> = frames
        .iter()
        .map(|(event, data)| SseFrame { event, data }.decode())
        .collect();
    assert_eq!(decoded, recorded_expectation());
}

#[test]
fn invalid_utf8_is_replaced_not_fatal_even_across_chunks() {
    let mut parser = SseParser::new();
    let mut events = parser.feed(b"data: {\"t\": \"a\xffb\"}\n\ndata: caf\xc3");
    events.extend(parser.feed(b"\xa9 \xfe\n\n"));
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].data, json!({"t": "a\u{fffd}b"}));
    assert_eq!(events[1].data, json!("café \u{fffd}"));
    assert_eq!(events[1].event, "message");
}
