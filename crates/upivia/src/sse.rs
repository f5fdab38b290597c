//! Incremental Server-Sent Events parser for the chat-turn stream
//! (API.md §1.11).
//!
//! Feed it raw bytes in chunks of any size and it hands back complete
//! [`ChatStreamEvent`]s. Lines are split on `\n` (a trailing `\r` is
//! dropped), and since `\n` never occurs inside a multi-byte UTF-8
//! sequence, a chunk boundary in the middle of a character is harmless.
//! The framing rules are pinned by the contract: `data:` lines join with
//! `\n`, one leading space after the colon is removed, `:` lines are
//! comments, `id:`/`retry:` are ignored, a frame without data is dropped,
//! a frame without `event:` is named `message`, non-JSON data becomes a JSON
//! string, and a final frame without its blank line is delivered by
//! [`SseParser::finish`]. The parser does no I/O.

use serde_json::Value;

use crate::models::ChatStreamEvent;

const DEFAULT_EVENT: &str = "message";

/// Incremental SSE parser. See the [module docs](self).
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    buffer: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseParser {
    /// An empty parser.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Consumes a chunk and returns the frames it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<ChatStreamEvent> {
        let mut events = Vec::new();
        let mut rest = chunk;
        while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
            self.buffer.extend_from_slice(&rest[..newline]);
            rest = &rest[newline + 1..];
            let line = std::mem::take(&mut self.buffer);
            if let Some(event) = self.process_line(&line) {
                events.push(event);
            }
        }
        self.buffer.extend_from_slice(rest);
        events
    }

    /// Ends the stream: processes an unterminated last line and delivers a
    /// last frame that had no closing blank line.
    pub fn finish(&mut self) -> Vec<ChatStreamEvent> {
        let mut events = Vec::new();
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            if let Some(event) = self.process_line(&line) {
                events.push(event);
            }
        }
        if let Some(event) = self.dispatch() {
            events.push(event);
        }
        events
    }

    fn process_line(&mut self, line: &[u8]) -> Option<ChatStreamEvent> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return self.dispatch();
        }
        if line.first() == Some(&b':') {
            return None;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.find(':') {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (&line[..], ""),
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = (!value.is_empty()).then(|| value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            // `id`, `retry` and unknown fields are ignored.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<ChatStreamEvent> {
        let name = self.event.take();
        if self.data.is_empty() {
            return None;
        }
        let raw = std::mem::take(&mut self.data).join("\n");
        let data = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
        Some(ChatStreamEvent {
            event: name.unwrap_or_else(|| DEFAULT_EVENT.to_owned()),
            data,
        })
    }
}

#[cfg(test)]
mod tests;
