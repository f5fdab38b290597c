//! Devices: terminals attached to chat sessions (a device session's id is
//! the chat session's id), their heartbeat, and the commands queued for
//! them. A heartbeat marks the session live and hands over the commands
//! still queued in the same transaction, so two heartbeats racing never
//! deliver one command twice. Deleting a device session is a hard delete
//! of the chat session with its messages, pause and device rows.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{ChatMessage, ChatSession, StoreResult};
use crate::ids::OrgId;

/// The device side of a chat session; absent until the first heartbeat
/// or pause.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSession {
    pub session_id: String,
    pub last_heartbeat_at: Option<OffsetDateTime>,
    /// A paused session's heartbeat delivers nothing: commands wait.
    pub paused: bool,
    /// The working directory the device last reported.
    pub cwd: Option<String>,
}

/// A command for the device. `status`: `queued`, `delivered`, `done` or
/// `failed`.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceCommand {
    pub id: String,
    pub session_id: String,
    pub content: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// A heartbeat of the device on `session_id`.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub org_id: OrgId,
    pub session_id: String,
    /// Kept when given; otherwise the last one reported stays.
    pub cwd: Option<String>,
    /// Most commands handed over at once (the rest wait for the next).
    pub limit: u32,
    pub now: OffsetDateTime,
}

/// What a heartbeat answers: the session's state and the commands it
/// delivered, oldest first.
#[derive(Clone, Debug)]
pub struct HeartbeatOutcome {
    pub device: DeviceSession,
    pub commands: Vec<DeviceCommand>,
}

/// A command to queue.
#[derive(Clone, Debug)]
pub struct NewDeviceCommand {
    pub id: String,
    pub org_id: OrgId,
    pub session_id: String,
    pub content: String,
    pub now: OffsetDateTime,
}

/// A live session of a user: the chat session, its device side, and its
/// newest messages (oldest first).
#[derive(Clone, Debug)]
pub struct LiveDeviceSession {
    pub session: ChatSession,
    pub device: DeviceSession,
    pub recent_messages: Vec<ChatMessage>,
}

#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Marks the session live and takes its queued commands (none while it
    /// is paused), marking them delivered. `NotFound` without the chat
    /// session.
    async fn device_heartbeat(&self, beat: Heartbeat) -> StoreResult<HeartbeatOutcome>;
    async fn device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<DeviceSession>>;
    /// The user's sessions with a heartbeat at or after `since`, the most
    /// recent heartbeat first, each with its newest `recent` messages.
    async fn live_device_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        since: OffsetDateTime,
        recent: u32,
    ) -> StoreResult<Vec<LiveDeviceSession>>;
    /// Pauses or resumes the session (making its device row if needed).
    async fn set_device_paused(
        &self,
        org_id: &OrgId,
        session_id: &str,
        paused: bool,
    ) -> StoreResult<DeviceSession>;
    /// Renames the chat session itself.
    async fn rename_device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
        title: &str,
    ) -> StoreResult<()>;
    async fn queue_device_command(&self, new: NewDeviceCommand) -> StoreResult<DeviceCommand>;
    async fn device_command(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<DeviceCommand>>;
    /// Sets a command's status (`done` or `failed`); `None` when there is
    /// no such command.
    async fn set_device_command_status(
        &self,
        org_id: &OrgId,
        id: &str,
        status: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<DeviceCommand>>;
    /// Deletes the chat session with its messages, pause, device row and
    /// commands, in one transaction; whether it existed.
    async fn delete_device_session(&self, org_id: &OrgId, session_id: &str) -> StoreResult<bool>;
}
