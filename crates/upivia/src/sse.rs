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

/// One frame as the parser framed it: its event name (`message` when it
/// had none) and its `data:` lines joined with `\n`, borrowed from the
/// parser until the callback returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SseFrame<'a> {
    /// The event name.
    pub event: &'a str,
    /// The data, not yet decoded.
    pub data: &'a str,
}

impl SseFrame<'_> {
    /// The frame as a [`ChatStreamEvent`]: the data decoded as JSON, or
    /// kept as a JSON string when it is not JSON.
    pub fn decode(&self) -> ChatStreamEvent {
        let data =
            serde_json::from_str(self.data).unwrap_or_else(|_| Value::String(self.data.to_owned()));
        ChatStreamEvent {
            event: self.event.to_owned(),
            data,
        }
    }
}

/// Incremental SSE parser. See the [module docs](self).
///
/// Lines are read straight from the fed chunk; only a line split across
/// two chunks is copied, and the line, name and data buffers keep their
/// capacity from frame to frame, so framing allocates nothing once warm.
/// [`feed`](Self::feed) decodes each frame into a [`ChatStreamEvent`];
/// [`feed_frames`](Self::feed_frames) hands out borrowed [`SseFrame`]s for
/// callers that decode (or skip) the data themselves.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current line, when it started in an earlier chunk.
    buffer: Vec<u8>,
    /// The frame's `event:` value; empty means `message`.
    event: String,
    /// The frame's `data:` lines, joined with `\n`.
    data: String,
    has_data: bool,
}

impl SseParser {
    /// An empty parser.
    pub fn new() -> Self {
        SseParser::default()
    }

    /// Consumes a chunk and returns the frames it completed, decoded.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<ChatStreamEvent> {
        let mut events = Vec::new();
        self.feed_frames(chunk, |frame| events.push(frame.decode()));
        events
    }

    /// Ends the stream: processes an unterminated last line and delivers a
    /// last frame that had no closing blank line.
    pub fn finish(&mut self) -> Vec<ChatStreamEvent> {
        let mut events = Vec::new();
        self.finish_frames(|frame| events.push(frame.decode()));
        events
    }

    /// Consumes a chunk and calls `on_frame` for each frame it completed,
    /// in order, without decoding the data.
    pub fn feed_frames(&mut self, chunk: &[u8], mut on_frame: impl FnMut(SseFrame<'_>)) {
        let mut rest = chunk;
        // A line begun in an earlier chunk is completed from its bytes.
        if !self.buffer.is_empty() {
            let Some(newline) = memchr::memchr(b'\n', rest) else {
                self.buffer.extend_from_slice(rest);
                return;
            };
            let mut joined = std::mem::take(&mut self.buffer);
            joined.extend_from_slice(&rest[..newline]);
            self.process_line(&String::from_utf8_lossy(&joined), &mut on_frame);
            joined.clear();
            self.buffer = joined;
            rest = &rest[newline + 1..];
        }
        // The complete lines are checked as UTF-8 in one pass: `\n` never
        // occurs inside a multi-byte sequence, so the region is valid
        // exactly when each of its lines is.
        let Some(last) = memchr::memrchr(b'\n', rest) else {
            self.buffer.extend_from_slice(rest);
            return;
        };
        let (complete, tail) = rest.split_at(last + 1);
        let text = String::from_utf8_lossy(complete);
        let mut lines = &text[..];
        while let Some(newline) = memchr::memchr(b'\n', lines.as_bytes()) {
            self.process_line(&lines[..newline], &mut on_frame);
            lines = &lines[newline + 1..];
        }
        self.buffer.extend_from_slice(tail);
    }

    /// [`finish`](Self::finish), with frames handed to `on_frame`.
    pub fn finish_frames(&mut self, mut on_frame: impl FnMut(SseFrame<'_>)) {
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            self.process_line(&String::from_utf8_lossy(&line), &mut on_frame);
        }
        self.dispatch(&mut on_frame);
    }

    fn process_line(&mut self, line: &str, on_frame: &mut impl FnMut(SseFrame<'_>)) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            self.dispatch(on_frame);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id`, `retry` and unknown fields are ignored.
            _ => {}
        }
    }

    /// Delivers the pending frame, if it has data, and resets for the next.
    fn dispatch(&mut self, on_frame: &mut impl FnMut(SseFrame<'_>)) {
        if std::mem::take(&mut self.has_data) {
            let event = if self.event.is_empty() {
                DEFAULT_EVENT
            } else {
                &self.event
            };
            on_frame(SseFrame {
                event,
                data: &self.data,
            });
        }
        self.event.clear();
        self.data.clear();
    }
}

#[cfg(test)]
mod tests;
