//! The realtime socket of the terminal client, `/ws` (API.md §3): chat
//! turns shared by every client of a session, device commands pushed as
//! they are queued, and permission prompts relayed between clients.
//!
//! Authentication is in band (`connect` with a PAT), so the socket carries
//! no ambient credential a hostile page could borrow: a cross-site
//! WebSocket gets nowhere without the token.
//!
//! Fan-out is per node: the clients of one session see each other's turns
//! when they reach the same node. What a turn needs to go on (history,
//! pauses) is in the store, so a client that reconnects elsewhere resumes
//! there.

mod connection;
mod hub;
mod protocol;

pub use hub::Hub;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::Response;
use axum::routing::get;

use super::AppState;
use super::error::ApiError;

/// Largest frame a client may send (a turn's message is at most 32,000
/// characters; tool results carry file contents).
const MESSAGE_MAX_BYTES: usize = 4 << 20;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| ApiError::BadRequest {
        code: "upgrade_required",
        message: format!("/ws is a WebSocket: {e}"),
    })?;
    Ok(ws
        .max_message_size(MESSAGE_MAX_BYTES)
        .max_frame_size(MESSAGE_MAX_BYTES)
        .on_upgrade(move |socket| connection::serve(state, socket)))
}
