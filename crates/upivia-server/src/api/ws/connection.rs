//! One socket, top to bottom: `connect` authenticates it (a PAT, in band)
//! and picks its session; then it reads the client's frames and writes
//! the session's, until either side closes, the client goes quiet, or the
//! server shuts down.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::{SinkExt, StreamExt};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, timeout, timeout_at};

use super::hub::{ConnectionId, Frame, Room};
use super::protocol::{self, ChatTurn, Inbound, Malformed};
use crate::api::AppState;
use crate::api::chat::{LOCAL_TOOLS_MAX, continue_from, message_text, turn_error};
use crate::api::error::ApiError;
use crate::auth;
use crate::domains::chat::service as chat;
use crate::domains::chat::turn::{self, ContinueFrom, TurnRequest};
use crate::domains::devices::service as devices;
use crate::model::UserPrincipal;

/// How long a new socket has to send `connect`.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// A socket silent this long is closed (clients beat every 5 s).
const QUIET_MAX: Duration = Duration::from_secs(45);
/// Turn events buffered between the turn and the room.
const EVENT_BUFFER: usize = 256;

type Sink = futures::stream::SplitSink<WebSocket, Message>;
type Stream = futures::stream::SplitStream<WebSocket>;

/// What one authenticated socket is.
struct Socket {
    state: AppState,
    user: UserPrincipal,
    room: Arc<Room>,
    id: ConnectionId,
    is_device: bool,
}

pub async fn serve(state: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let hello = match timeout(CONNECT_WITHIN, read_connect(&mut stream)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(Malformed(message))) => {
            return refuse(&mut sink, "invalid_request", &message).await;
        }
        Err(_) => {
            return refuse(
                &mut sink,
                "invalid_request",
                "send connect first, within 10 s",
            )
            .await;
        }
    };
    let socket = match authenticate(&state, hello).await {
        Ok(socket) => socket,
        Err(e) => return refuse(&mut sink, e.code(), &public_message(&e)).await,
    };
    metrics::gauge!("upivia_ws_connections_open").increment(1.0);
    let mut frames = socket.room.subscribe();
    // A device takes what was queued while it was away.
    if socket.is_device {
        socket.deliver_commands(&mut sink).await;
    }
    socket.run(&mut sink, &mut stream, &mut frames).await;
    metrics::gauge!("upivia_ws_connections_open").decrement(1.0);
}

/// The text of the first frame, which must be `connect`.
async fn read_connect(stream: &mut Stream) -> Result<protocol::Connect, Malformed> {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Malformed(format!("messages are JSON objects: {e}")))?;
                if value.get("type").and_then(|t| t.as_str()) != Some("connect") {
                    return Err(Malformed(
                        "the first message is {type: \"connect\", session_id, pat}".into(),
                    ));
                }
                return serde_json::from_value(value)
                    .map_err(|e| Malformed(format!("invalid connect: {e}")));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Binary(_))) => {
                return Err(Malformed("messages are JSON text, not binary".into()));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => {
                return Err(Malformed("closed before connect".into()));
            }
        }
    }
}

async fn authenticate(state: &AppState, hello: protocol::Connect) -> Result<Socket, ApiError> {
    if hello.pat.starts_with("agent_key_") {
        return Err(ApiError::Forbidden(
            "the socket takes a personal access token, not an agent key".into(),
        ));
    }
    let platform = &state.platform;
    let user = platform
        .stores
        .identity
        .user_by_pat_at(&auth::hash_token(&hello.pat), platform.clock.now())
        .await?
        .ok_or(ApiError::Unauthenticated("invalid access token"))?;
    // Someone else's session, or none, is the same 404 as over REST.
    chat::own(platform, &user, &hello.session_id).await?;
    let room = state.ws.join(&hello.session_id);
    Ok(Socket {
        state: state.clone(),
        user,
        id: state.ws.connection_id(),
        room,
        is_device: hello.is_device,
    })
}

/// Says why, then closes.
async fn refuse(sink: &mut Sink, code: &str, message: &str) {
    let _ = sink
        .send(Message::Text(protocol::error(code, message)))
        .await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: Utf8Bytes::from_static("refused"),
        })))
        .await;
}

/// An error's message for the client; an internal one's cause is logged
/// instead.
fn public_message(e: &ApiError) -> String {
    match e {
        ApiError::Internal(cause) => {
            tracing::error!(error = %cause, "a socket request failed");
            "internal error".into()
        }
        other => other.to_string(),
    }
}

impl Socket {
    async fn run(
        &self,
        sink: &mut Sink,
        stream: &mut Stream,
        frames: &mut broadcast::Receiver<Frame>,
    ) {
        let closing = self.state.ws.closing().clone();
        let mut quiet_until = Instant::now() + QUIET_MAX;
        loop {
            tokio::select! {
                () = closing.cancelled() => {
                    let _ = sink.send(Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: Utf8Bytes::from_static("server shutting down"),
                    }))).await;
                    return;
                }
                incoming = timeout_at(quiet_until, stream.next()) => {
                    let message = match incoming {
                        Err(_) => {
                            let _ = sink.send(Message::Close(Some(CloseFrame {
                                code: close_code::POLICY,
                                reason: Utf8Bytes::from_static("no heartbeat"),
                            }))).await;
                            return;
                        }
                        Ok(Some(Ok(message))) => message,
                        Ok(Some(Err(_)) | None) => return,
                    };
                    quiet_until = Instant::now() + QUIET_MAX;
                    match message {
                        Message::Text(text) => self.handle(sink, &text).await,
                        Message::Binary(_) => {
                            self.reply_error(sink, "invalid_request", "messages are JSON text, not binary").await;
                        }
                        Message::Close(_) => return,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                frame = frames.recv() => match frame {
                    Ok(frame) if frame.except == Some(self.id) => {}
                    Ok(frame) => {
                        if sink.send(Message::Text(frame.text)).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Better a reconnect (which reads the history) than a
                        // turn slowed to the pace of its slowest reader.
                        self.reply_error(sink, "too_slow", "this client fell behind the session's events; reconnect").await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = self.room.commands().notified(), if self.is_device => {
                    self.deliver_commands(sink).await;
                }
            }
        }
    }

    async fn handle(&self, sink: &mut Sink, text: &str) {
        let inbound = match protocol::parse(text) {
            Ok(inbound) => inbound,
            Err(Malformed(message)) => {
                return self.reply_error(sink, "invalid_request", &message).await;
            }
        };
        let done = match inbound {
            Inbound::Heartbeat => {
                if self.is_device {
                    self.deliver_commands(sink).await;
                }
                Ok(())
            }
            Inbound::ChatTurn(body) => self.chat_turn(*body).await,
            Inbound::ToolResult(body) => {
                self.start_turn(TurnRequest {
                    session_id: self.room.session_id().to_owned(),
                    continue_from: Some(ContinueFrom::LocalResults(body.results)),
                    ..TurnRequest::default()
                })
                .await
            }
            Inbound::CommandDone(body) => self.command_done(body).await,
            Inbound::Relay { event, data } => {
                self.room.broadcast(Frame {
                    text: protocol::named_event(event, data.into()),
                    except: None,
                });
                Ok(())
            }
            Inbound::Cancel => {
                // Nothing running: the client still gets the answer it
                // waits for.
                if !self.room.cancel_turn() {
                    let _ = sink.send(Message::Text(protocol::turn_cancelled())).await;
                }
                Ok(())
            }
            Inbound::Connect => Err(ApiError::Conflict {
                code: "already_connected",
                message: "this socket is connected; reconnect to move to another session".into(),
            }),
        };
        if let Err(e) = done {
            self.reply_error(sink, e.code(), &public_message(&e)).await;
        }
    }

    async fn reply_error(&self, sink: &mut Sink, code: &str, message: &str) {
        let _ = sink
            .send(Message::Text(protocol::error(code, message)))
            .await;
    }

    async fn chat_turn(&self, body: ChatTurn) -> Result<(), ApiError> {
        let local_tools = body.local_tools.unwrap_or_default();
        if local_tools.len() > LOCAL_TOOLS_MAX {
            return Err(ApiError::Unprocessable(format!(
                "invalid field local_tools: at most {LOCAL_TOOLS_MAX}"
            )));
        }
        let message = message_text(body.message, body.content)?;
        let request = TurnRequest {
            session_id: self.room.session_id().to_owned(),
            message: message.clone(),
            model_id: body.model_id,
            instructions: body.instructions,
            require_approval_all: body.require_approval_all.unwrap_or(false),
            continue_from: body.continue_from.map(continue_from).transpose()?,
            local_tools,
        };
        self.start_turn(request).await?;
        if !message.trim().is_empty() {
            self.room.broadcast(Frame {
                text: protocol::named_event(
                    "user_message",
                    serde_json::json!({"content": message}),
                ),
                except: Some(self.id),
            });
        }
        Ok(())
    }

    /// Prepares a turn (refusals come back to this socket only) and runs
    /// it for the whole room.
    async fn start_turn(&self, request: TurnRequest) -> Result<(), ApiError> {
        let hub = &self.state.ws;
        let Some(cancel) = self.room.start_turn(hub.closing()) else {
            return Err(ApiError::Conflict {
                code: "turn_running",
                message: "a turn is running on this session: wait for chat_turn_done, or cancel it"
                    .into(),
            });
        };
        let platform = self.state.platform.clone();
        let prepared = match turn::prepare(&platform, &self.user, request).await {
            Ok(prepared) => prepared.cancel_on(cancel.clone()),
            Err(e) => {
                self.room.end_turn();
                return Err(turn_error(e));
            }
        };
        let room = self.room.clone();
        hub.spawn_turn(async move {
            let (events, mut received) = mpsc::channel(EVENT_BUFFER);
            let forward = async {
                while let Some(event) = received.recv().await {
                    room.broadcast(Frame {
                        text: protocol::chat_event(&event),
                        except: None,
                    });
                }
            };
            tokio::join!(turn::run(platform, prepared, events), forward);
            // Free before the last frame, so a client that starts its
            // next turn on `chat_turn_done` is not refused.
            room.end_turn();
            let last = if cancel.is_cancelled() {
                protocol::turn_cancelled()
            } else {
                protocol::turn_done()
            };
            room.broadcast(Frame {
                text: last,
                except: None,
            });
        });
        Ok(())
    }

    async fn command_done(&self, body: protocol::CommandDone) -> Result<(), ApiError> {
        // The socket says `error` where the REST route says `failed`.
        let status = match body.status.as_str() {
            "done" => "done",
            "error" | "failed" => "failed",
            other => {
                return Err(ApiError::Unprocessable(format!(
                    "invalid field status: done or error, not {other:?}"
                )));
            }
        };
        devices::set_command_status(
            &self.state.platform,
            &self.user,
            &body.id,
            Some(status.to_owned()),
        )
        .await?;
        Ok(())
    }

    /// Marks the device live and sends it the commands queued for it.
    async fn deliver_commands(&self, sink: &mut Sink) {
        let beat = devices::heartbeat(
            &self.state.platform,
            &self.user,
            self.room.session_id(),
            None,
        )
        .await;
        match beat {
            Ok(beat) => {
                for command in beat.commands {
                    let frame = protocol::command(&command.id, &command.content);
                    if sink.send(Message::Text(frame)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                let e = ApiError::from(e);
                self.reply_error(sink, e.code(), &public_message(&e)).await;
            }
        }
    }
}
