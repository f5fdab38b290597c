//! The sandbox chat model: deterministic, free, and never presented as a
//! language model. It lets the agent loop, its governed tool calls, its
//! pauses and the event stream be used and tested with no model endpoint
//! configured. Its rules:
//!
//! - After tool results, it reports each tool's status in one sentence.
//! - After a user message, it calls the first tool (in the order given)
//!   whose name's words, ignoring a leading `local`, each appear in the
//!   message as the start of a word (compared on their first five
//!   letters, so "generate" finds `text_generation_generate`), or whose
//!   full name appears. Its arguments are the first JSON object in the
//!   message, or `{}`.
//! - Otherwise it says what it is and which tools it could call.
//!
//! Token counts are estimates (a token per four bytes), labelled as such
//! by the `usage` event's `estimated` flag.

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::model::{
    ChatModel, ModelError, ModelMessage, ModelReply, ModelRequest, ModelTool, ToolCall, Usage,
};
use crate::money::Cents;

pub const ID: &str = "sandbox";
const PREFIX: usize = 5;

#[derive(Debug, Default)]
pub struct SandboxModel;

#[async_trait]
impl ChatModel for SandboxModel {
    fn id(&self) -> &str {
        ID
    }

    async fn respond(
        &self,
        request: &ModelRequest,
        deltas: &mpsc::Sender<String>,
    ) -> Result<ModelReply, ModelError> {
        let prompt_bytes: usize = request.messages.iter().map(message_len).sum();
        let (text, tool_calls) = match request.messages.last() {
            Some(ModelMessage::Tool { .. }) => (summarise_results(&request.messages), Vec::new()),
            Some(ModelMessage::User(text)) => match pick_tool(text, &request.tools) {
                Some(tool) => {
                    let call = ToolCall {
                        id: call_id(&request.messages),
                        name: tool.name.clone(),
                        arguments: first_json_object(text).unwrap_or_else(|| Map::new().into()),
                    };
                    (format!("Calling {}.", tool.name), vec![call])
                }
                None => (introduce(&request.tools), Vec::new()),
            },
            _ => (introduce(&request.tools), Vec::new()),
        };
        for word in text.split_inclusive(' ') {
            // The receiver may be gone; the turn goes on regardless.
            let _ = deltas.send(word.to_owned()).await;
        }
        Ok(ModelReply {
            usage: Usage {
                prompt_tokens: (prompt_bytes as u64).div_ceil(4),
                completion_tokens: (text.len() as u64).div_ceil(4),
                estimated: true,
            },
            cost: Cents::ZERO,
            text,
            tool_calls,
        })
    }
}

fn message_len(m: &ModelMessage) -> usize {
    match m {
        ModelMessage::System(t) | ModelMessage::User(t) => t.len(),
        ModelMessage::Assistant { content, .. } => content.len(),
        ModelMessage::Tool { content, .. } => content.len(),
    }
}

/// A call id unique within the conversation (the count of calls so far).
fn call_id(messages: &[ModelMessage]) -> String {
    let calls: usize = messages
        .iter()
        .map(|m| match m {
            ModelMessage::Assistant { tool_calls, .. } => tool_calls.len(),
            _ => 0,
        })
        .sum();
    format!("call_sandbox_{}", calls + 1)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn stem(word: &str) -> &str {
    match word.char_indices().nth(PREFIX) {
        Some((i, _)) => &word[..i],
        None => word,
    }
}

fn pick_tool<'t>(message: &str, tools: &'t [ModelTool]) -> Option<&'t ModelTool> {
    let lower = message.to_lowercase();
    let said = words(message);
    tools.iter().find(|tool| {
        if lower.contains(&tool.name.to_lowercase()) {
            return true;
        }
        let needed: Vec<String> = tool
            .name
            .split('_')
            .map(str::to_lowercase)
            .filter(|w| !w.is_empty() && w != "local")
            .collect();
        !needed.is_empty()
            && needed
                .iter()
                .all(|n| said.iter().any(|w| stem(w) == stem(n)))
    })
}

/// The first balanced `{…}` in `text` that parses as a JSON object.
fn first_json_object(text: &str) -> Option<Value> {
    for (start, _) in text.match_indices('{') {
        let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        if let Some(Ok(value @ Value::Object(_))) = stream.next() {
            return Some(value);
        }
    }
    None
}

fn summarise_results(messages: &[ModelMessage]) -> String {
    let results: Vec<String> = messages
        .iter()
        .rev()
        .take_while(|m| matches!(m, ModelMessage::Tool { .. }))
        .filter_map(|m| match m {
            ModelMessage::Tool { name, content, .. } => {
                let status = serde_json::from_str::<Value>(content)
                    .ok()
                    .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_else(|| "done".to_owned());
                Some(format!("{name}: {status}"))
            }
            _ => None,
        })
        .collect();
    let mut results = results;
    results.reverse();
    format!("Tool results — {}.", results.join("; "))
}

fn introduce(tools: &[ModelTool]) -> String {
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let can = if names.is_empty() {
        "This agent has no tools enabled.".to_owned()
    } else {
        format!(
            "I can call {}: name one in your message, with its arguments as a JSON object.",
            names.join(", ")
        )
    };
    format!(
        "I am the sandbox model: no language model is configured on this server \
         (set UPIVIA_OPENAI_BASE_URL). {can}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str) -> ModelTool {
        ModelTool {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type": "object"}),
        }
    }

    async fn reply(messages: Vec<ModelMessage>, tools: Vec<ModelTool>) -> ModelReply {
        let (tx, mut rx) = mpsc::channel(64);
        let reply = SandboxModel
            .respond(&ModelRequest { messages, tools }, &tx)
            .await
            .unwrap();
        drop(tx);
        let mut streamed = String::new();
        while let Some(d) = rx.recv().await {
            streamed.push_str(&d);
        }
        assert_eq!(streamed, reply.text, "the deltas add up to the text");
        reply
    }

    #[tokio::test]
    async fn a_request_for_an_action_calls_the_matching_tool_with_the_json_given() {
        let tools = vec![tool("knowledge_search"), tool("email_send")];
        let r = reply(
            vec![ModelMessage::User(
                r#"please send an email {"to":"a@example.com","subject":"Hi","body":"x"}"#.into(),
            )],
            tools,
        )
        .await;
        assert_eq!(r.tool_calls.len(), 1);
        assert_eq!(r.tool_calls[0].name, "email_send");
        assert_eq!(r.tool_calls[0].arguments["to"], "a@example.com");
        assert_eq!(r.tool_calls[0].id, "call_sandbox_1");
    }

    #[tokio::test]
    async fn word_starts_match_and_local_is_ignored() {
        let tools = vec![tool("text_generation_generate"), tool("local_read_file")];
        let r = reply(
            vec![ModelMessage::User("generate some text".into())],
            tools.clone(),
        )
        .await;
        assert_eq!(r.tool_calls[0].name, "text_generation_generate");
        assert_eq!(r.tool_calls[0].arguments, json!({}));
        let r = reply(
            vec![ModelMessage::User("read the file README".into())],
            tools,
        )
        .await;
        assert_eq!(r.tool_calls[0].name, "local_read_file");
    }

    #[tokio::test]
    async fn without_a_match_it_says_what_it_is_and_calls_nothing() {
        let r = reply(
            vec![ModelMessage::User("hello".into())],
            vec![tool("email_send")],
        )
        .await;
        assert!(r.tool_calls.is_empty());
        assert!(r.text.contains("sandbox model"), "{}", r.text);
        assert!(r.text.contains("email_send"), "{}", r.text);
    }

    #[tokio::test]
    async fn after_tool_results_it_reports_their_statuses() {
        let r = reply(
            vec![
                ModelMessage::User("send an email".into()),
                ModelMessage::Assistant {
                    content: String::new(),
                    tool_calls: vec![],
                },
                ModelMessage::Tool {
                    tool_call_id: "c1".into(),
                    name: "email_send".into(),
                    content: json!({"status": "executed"}).to_string(),
                },
            ],
            vec![tool("email_send")],
        )
        .await;
        assert!(r.tool_calls.is_empty());
        assert_eq!(r.text, "Tool results — email_send: executed.");
    }

    #[test]
    fn a_json_object_is_found_after_other_braces() {
        assert_eq!(
            first_json_object(r#"use {curly} or {"a": 1}"#),
            Some(json!({"a": 1}))
        );
        assert_eq!(first_json_object("no json here"), None);
    }
}
