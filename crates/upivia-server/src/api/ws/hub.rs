//! The sockets of each chat session on this node: what one client's turn
//! says goes to all of them, and one turn runs on a session at a time.
//! Rooms live as long as a socket or a turn holds them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Frames a client may fall behind by; one further behind is dropped
/// (it reconnects and reads the history) rather than slowing the turn.
const ROOM_BUFFER: usize = 1024;

/// One socket, for addressing frames to all but it.
pub type ConnectionId = u64;

/// A frame for the sockets of a room.
#[derive(Clone, Debug)]
pub struct Frame {
    pub text: Utf8Bytes,
    /// The socket the frame is not for (the author of a `user_message`).
    pub except: Option<ConnectionId>,
}

pub struct Hub {
    rooms: Mutex<HashMap<String, Weak<Room>>>,
    next_connection: AtomicU64,
    /// Fires on shutdown: sockets close, running turns stop at their next
    /// step.
    closing: CancellationToken,
    turns: TaskTracker,
}

impl Hub {
    pub fn new(closing: CancellationToken) -> Hub {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            closing,
            turns: TaskTracker::new(),
        }
    }

    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    pub fn connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// The room of `session_id`, made if no socket or turn holds it.
    pub fn join(&self, session_id: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(room) = rooms.get(session_id).and_then(Weak::upgrade) {
            return room;
        }
        rooms.retain(|_, room| room.strong_count() > 0);
        let room = Arc::new(Room {
            session_id: session_id.to_owned(),
            frames: broadcast::channel(ROOM_BUFFER).0,
            turn: Mutex::new(None),
            commands: Notify::new(),
        });
        rooms.insert(session_id.to_owned(), Arc::downgrade(&room));
        room
    }

    /// The room of `session_id` if a socket is on it now.
    pub fn room(&self, session_id: &str) -> Option<Arc<Room>> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.get(session_id).and_then(Weak::upgrade)
    }

    /// Tells the devices on `session_id` here that a command is queued,
    /// so they take it now instead of at their next heartbeat.
    pub fn commands_queued(&self, session_id: &str) {
        if let Some(room) = self.room(session_id) {
            room.commands.notify_waiters();
        }
    }

    /// Runs a turn's task (a socket's, or a `POST /chat/turn`'s) where
    /// shutdown waits for it.
    pub fn spawn_turn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.turns.spawn(task);
    }

    /// On shutdown, after the listener closed: waits for the running turns
    /// (they stop at their next step), so none writes to a store being
    /// let go.
    pub async fn drain(&self) {
        self.closing.cancel();
        self.turns.close();
        self.turns.wait().await;
    }
}

pub struct Room {
    session_id: String,
    frames: broadcast::Sender<Frame>,
    /// The running turn's cancel switch.
    turn: Mutex<Option<CancellationToken>>,
    commands: Notify,
}

impl Room {
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.frames.subscribe()
    }

    /// Sends to every socket of the room (no socket is not an error).
    pub fn broadcast(&self, frame: Frame) {
        let _ = self.frames.send(frame);
    }

    pub fn commands(&self) -> &Notify {
        &self.commands
    }

    /// Claims the session for a turn: its cancel switch, or `None` while
    /// another turn runs.
    pub fn start_turn(&self, closing: &CancellationToken) -> Option<CancellationToken> {
        let mut turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        if turn.is_some() {
            return None;
        }
        let token = closing.child_token();
        *turn = Some(token.clone());
        Some(token)
    }

    /// Gives the session back (the turn ended, or never started).
    pub fn end_turn(&self) {
        *self.turn.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Asks the running turn to stop; `false` when none runs.
    pub fn cancel_turn(&self) -> bool {
        match &*self.turn.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_turn_at_a_time_and_a_room_goes_with_its_last_holder() {
        let hub = Hub::new(CancellationToken::new());
        let room = hub.join("cs_1");
        assert!(Arc::ptr_eq(&room, &hub.join("cs_1")));
        let token = room.start_turn(hub.closing()).expect("free");
        assert!(room.start_turn(hub.closing()).is_none());
        assert!(room.cancel_turn());
        assert!(token.is_cancelled());
        room.end_turn();
        assert!(!room.cancel_turn());
        assert!(room.start_turn(hub.closing()).is_some());
        drop(room);
        assert!(hub.room("cs_1").is_none());
    }

    #[test]
    fn shutdown_cancels_running_turns() {
        let hub = Hub::new(CancellationToken::new());
        let room = hub.join("cs_1");
        let token = room.start_turn(hub.closing()).expect("free");
        hub.closing().cancel();
        assert!(token.is_cancelled());
    }
}
