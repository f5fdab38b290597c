//! `chat` and `chat.sessions` (API.md §1.11, §2.12).
//!
//! A turn is a POST answered with a Server-Sent Events stream. The stream
//! is read with no read timeout and parsed incrementally by
//! [`SseParser`]; dropping the [`ChatStream`] closes the connection. An
//! empty-bodied 400/502/503 is retried twice on a fresh connection (after
//! 0.5 s, then 1 s); an error reply with a body is returned at once.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::{self, Error, NonJsonErrors, Result};
use crate::models::{
    ApprovalAction, ChatStreamEvent, ChatTurn, CreateChatSession, ListChatSessions,
};
use crate::sse::SseParser;

use super::handle;

/// Waits before the 2nd and 3rd attempt of a turn that got an empty-bodied
/// 400/502/503.
const TURN_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1000)];

handle!(
    /// Chat turns and inline approvals.
    Chat
);
handle!(
    /// Chat sessions.
    ChatSessions
);

impl<'a> Chat<'a> {
    /// `chat.sessions`.
    pub fn sessions(&self) -> ChatSessions<'a> {
        ChatSessions::new(self.client)
    }

    /// `POST /api/v1/chat/turn` (auth `workspace`, `accept:
    /// text/event-stream`, `connection: close`): runs one turn and streams
    /// its events, ending with `done`.
    ///
    /// Errors found before the stream starts come back here; errors while
    /// streaming come out of the stream as `Network` errors.
    pub async fn turn(self, turn: ChatTurn) -> Result<ChatStream> {
        let spec = RequestSpec::endpoint(&ep::CHAT_TURN, &[])
            .json(&turn)?
            .header("connection", "close")
            .streaming();
        let mut attempt = 0;
        loop {
            let response = self.client.open_stream(&spec).await?;
            let status = response.status();
            if status.is_success() {
                return Ok(ChatStream::new(response, spec.path.clone()));
            }
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|source| Error::Network {
                method: spec.method.as_str().to_owned(),
                path: spec.path.clone(),
                source,
            })?;
            if body.is_empty()
                && matches!(status.as_u16(), 400 | 502 | 503)
                && attempt < TURN_RETRY_DELAYS.len()
            {
                tracing::debug!(
                    status = status.as_u16(),
                    attempt,
                    "retrying empty-bodied chat turn error"
                );
                tokio::time::sleep(TURN_RETRY_DELAYS[attempt]).await;
                attempt += 1;
                continue;
            }
            return Err(error::from_reply(
                spec.method.as_str(),
                &spec.path,
                status,
                &headers,
                &body,
                NonJsonErrors::ByStatus,
            ));
        }
    }

    /// `POST /api/v1/chat/approvals/{approval_id}` with `{action}` (auth
    /// `workspace`): settles an approval raised by a turn; resume with a
    /// turn whose `continue_from` is `{request_id, action}`.
    pub async fn resolve_approval(
        self,
        approval_id: &str,
        action: ApprovalAction,
    ) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::CHAT_RESOLVE_APPROVAL, &[approval_id])
            .json(&json!({ "action": action.as_str() }))?;
        self.client.send_json(spec).await
    }
}

impl ChatSessions<'_> {
    /// `GET /api/v1/chat/sessions` (auth `workspace`): `{sessions: [...]}`.
    pub async fn list(self, filter: ListChatSessions) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::CHAT_SESSIONS_LIST, &[]).query(&filter)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/chat/sessions` (auth `workspace`): a new session (or an
    /// open empty one), with `id` at the top level.
    pub async fn create(self, request: CreateChatSession) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::CHAT_SESSIONS_CREATE, &[]).json(&request)?;
        self.client.send_json(spec).await
    }

    /// `GET /api/v1/chat/sessions/{session_id}` (auth `workspace`):
    /// `{session, messages}`.
    pub async fn get(self, session_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::CHAT_SESSIONS_GET, &[session_id]))
            .await
    }

    /// `DELETE /api/v1/chat/sessions?session_id=` (auth `workspace`): closes
    /// one session.
    pub async fn delete(self, session_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::CHAT_SESSIONS_DELETE, &[])
            .query_pair("session_id", session_id);
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/chat/sessions?all=true` (auth `workspace`): closes
    /// every open session of the caller.
    pub async fn delete_all(self) -> Result<Value> {
        let spec =
            RequestSpec::endpoint(&ep::CHAT_SESSIONS_DELETE_ALL, &[]).query_pair("all", "true");
        self.client.send_json(spec).await
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The events of one chat turn, as a [`Stream`] of
/// `Result<ChatStreamEvent>`. Dropping it closes the connection.
pub struct ChatStream {
    body: ByteStream,
    parser: SseParser,
    pending: VecDeque<ChatStreamEvent>,
    finished: bool,
    path: String,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("pending", &self.pending.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    fn new(response: reqwest::Response, path: String) -> Self {
        ChatStream::from_bytes(Box::pin(response.bytes_stream()), path)
    }

    fn from_bytes(body: ByteStream, path: String) -> Self {
        ChatStream {
            body,
            parser: SseParser::new(),
            pending: VecDeque::new(),
            finished: false,
            path,
        }
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatStreamEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.pending.extend(this.parser.feed(&chunk)),
                Poll::Ready(Some(Err(source))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(Error::Network {
                        method: "POST".to_owned(),
                        path: this.path.clone(),
                        source,
                    })));
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    this.pending.extend(this.parser.finish());
                }
            }
        }
    }
}
