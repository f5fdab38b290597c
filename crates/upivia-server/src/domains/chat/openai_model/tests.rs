use super::*;
use crate::domains::chat::model::ModelTool;

fn assemble(stream: &str, cut: usize) -> Assembly {
    let mut lines = Lines::default();
    let mut assembly = Assembly::default();
    let bytes = stream.as_bytes();
    let mut events = Vec::new();
    for piece in bytes.chunks(cut) {
        events.extend(lines.push(piece).unwrap());
    }
    events.extend(lines.finish());
    for data in events {
        assembly.apply(&data).unwrap();
    }
    assembly
}

fn sse(chunks: &[Value]) -> String {
    let mut out = String::from(": keep-alive\r\n\r\n");
    for c in chunks {
        out.push_str(&format!("data: {c}\r\n\r\n"));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

fn call_piece(index: u64, id: Option<&str>, name: Option<&str>, args: Option<&str>) -> Value {
    json!({"choices": [{"index": 0, "delta": {"tool_calls": [{
        "index": index, "id": id, "type": "function",
        "function": {"name": name, "arguments": args},
    }]}}]})
}

#[test]
fn a_stream_cut_anywhere_assembles_the_same_reply() {
    let stream = sse(&[
        json!({"choices": [{"delta": {"role": "assistant", "content": "Sending "}}]}),
        json!({"choices": [{"delta": {"content": "it."}}]}),
        call_piece(0, Some("call_1"), Some("email_send"), Some("")),
        call_piece(0, None, None, Some("{\"to\": ")),
        call_piece(0, None, None, Some("\"a@b.c\", \"sub")),
        call_piece(0, None, None, Some("ject\": \"hé\"}")),
        call_piece(1, Some("call_2"), Some("web_"), None),
        call_piece(1, Some("call_2"), Some("search"), Some("{}")),
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
    ]);
    for cut in [1, 2, 3, 7, 64, stream.len()] {
        let a = assemble(&stream, cut);
        assert_eq!(a.text, "Sending it.", "cut {cut}");
        let calls = a.tool_calls().unwrap();
        assert_eq!(
            calls,
            vec![
                ToolCall {
                    id: "call_1".into(),
                    name: "email_send".into(),
                    arguments: json!({"to": "a@b.c", "subject": "hé"}),
                },
                ToolCall {
                    id: "call_2".into(),
                    name: "web_search".into(),
                    arguments: json!({}),
                },
            ],
            "cut {cut}"
        );
        assert_eq!(a.usage.map(|u| u.completion_tokens), Some(3));
    }
}

#[test]
fn malformed_arguments_are_a_model_error_not_a_panic() {
    for args in ["{\"to\": ", "[1, 2]", "nope"] {
        let a = assemble(&sse(&[call_piece(0, Some("c"), Some("x"), Some(args))]), 5);
        match a.tool_calls() {
            Err(ModelError::Malformed(m)) => assert!(m.contains("arguments"), "{m}"),
            other => panic!("{args}: {other:?}"),
        }
    }
    let nameless = assemble(&sse(&[call_piece(0, Some("c"), None, Some("{}"))]), 5);
    assert!(matches!(
        nameless.tool_calls(),
        Err(ModelError::Malformed(_))
    ));
    let mut a = Assembly::default();
    assert!(matches!(
        a.apply("{not json"),
        Err(ModelError::Malformed(_))
    ));
    assert!(matches!(
        a.apply(r#"{"error": {"message": "overloaded"}}"#),
        Err(ModelError::Upstream(_))
    ));
}

#[test]
fn the_body_asks_for_a_stream_with_usage_and_the_tools() {
    let settings = OpenAiSettings::new(
        "http://127.0.0.1:9/v1",
        None,
        Some("llama3.2"),
        Some(10_000),
        Some(100_000),
    )
    .unwrap();
    let model =
        OpenAiModel::new(&settings, HttpClient::new(Duration::from_secs(1)).unwrap()).unwrap();
    let request = ModelRequest {
        messages: vec![
            ModelMessage::System("be brief".into()),
            ModelMessage::User("hi".into()),
            ModelMessage::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: "c1".into(),
                    name: "email_send".into(),
                    arguments: json!({"to": "a"}),
                }],
            },
            ModelMessage::Tool {
                tool_call_id: "c1".into(),
                name: "email_send".into(),
                content: "{}".into(),
            },
        ],
        tools: vec![ModelTool {
            name: "email_send".into(),
            description: "Send an email".into(),
            parameters: json!({"type": "object"}),
        }],
    };
    let body = model.body(&request);
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
    assert_eq!(body["tools"][0]["function"]["name"], "email_send");
    assert_eq!(
        body["messages"][2],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "email_send", "arguments": "{\"to\":\"a\"}"}},
        ]})
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "c1", "content": "{}"})
    );
    let quote = model.quote(&request).unwrap();
    assert_eq!(quote.max_tokens, DEFAULT_MAX_TOKENS);
    assert!(quote.prompt_token_bound > body["messages"].to_string().len() as u64);
    assert_eq!(
        quote.estimate,
        Prices::of(&settings).cost(quote.prompt_token_bound, DEFAULT_MAX_TOKENS)
    );
    assert!(model.serves("llama3.2") && model.serves("meta/llama3.2"));
    assert!(!model.serves("gpt-4o"));
}
