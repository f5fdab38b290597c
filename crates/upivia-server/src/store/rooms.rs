//! Rooms: discussions of people and agents on an objective (API.md
//! §2.22), their messages, and the queue of agent replies still to make.
//! A room's replies are made one at a time, in the order they were
//! queued, so each agent reads what the one before it said; a reply is
//! claimed under a lease, and finishing it (its message, the replies it
//! queues next, the room's new status) is one transaction that only the
//! claim's holder can commit.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;

/// How many times a reply is started before a crash-cut one is failed.
pub const MAX_TURN_ATTEMPTS: i64 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct Room {
    pub id: String,
    pub org_id: String,
    /// `room`, or `swarm` for a moderated discussion over `rounds`.
    pub kind: String,
    pub title: String,
    pub objective: Option<String>,
    /// `active`, `completed` (a swarm after its last round) or `closed`.
    pub status: String,
    pub team_id: Option<String>,
    pub budget_cap_cents: Option<i64>,
    pub moderator_agent_id: Option<String>,
    pub rounds: Option<i64>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// In the order they joined.
    pub participants: Vec<Participant>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    /// `agent` or `user`.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// `active` or `left`.
    pub status: String,
    /// `member` or `moderator`.
    pub role: String,
    pub position: i64,
    /// An agent's view of the room: its chat session.
    pub chat_session_id: Option<String>,
    pub joined_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RoomMessage {
    pub id: String,
    pub room_id: String,
    /// `user`, `agent` or `system`.
    pub author_kind: String,
    pub author_id: Option<String>,
    pub author_name: String,
    pub body: String,
    /// For an agent's reply: `cost_cents`, the requests it made.
    pub metadata: Value,
    pub created_at: OffsetDateTime,
}

/// A reply to make.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomTurn {
    pub id: String,
    pub room_id: String,
    pub org_id: String,
    pub agent_id: String,
    /// `reply`, or `summary` (a swarm's moderator, after the last round).
    pub kind: String,
    pub round: i64,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub lease_until: Option<OffsetDateTime>,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct NewRoomTurn {
    pub id: String,
    pub agent_id: String,
    pub kind: String,
    pub round: i64,
}

#[derive(Clone, Debug)]
pub struct NewRoom {
    pub room: Room,
    /// Posted with it (a swarm's objective), before its first replies.
    pub first_message: Option<RoomMessage>,
    pub turns: Vec<NewRoomTurn>,
    pub audit: AuditEvent,
}

/// A message posted to an active room, and the replies it asks for.
#[derive(Clone, Debug)]
pub struct PostRoomMessage {
    pub org_id: OrgId,
    pub room_id: String,
    pub message: RoomMessage,
    /// The poster joins as a participant on their first message.
    pub poster: Option<Participant>,
    pub turns: Vec<NewRoomTurn>,
}

/// The end of a claimed reply.
#[derive(Clone, Debug)]
pub struct FinishRoomTurn {
    pub turn_id: String,
    /// The claim's lease: a finish under a lost claim changes nothing.
    pub lease_until: OffsetDateTime,
    /// `done` or `failed`.
    pub status: String,
    pub error: Option<String>,
    /// The reply's message first, then any notice it leads to.
    pub messages: Vec<RoomMessage>,
    /// Replies this one leads to (a swarm's next round, its summary).
    pub next: Vec<NewRoomTurn>,
    /// Drops the room's other queued replies (its budget ran out).
    pub cancel_queued: bool,
    /// The room's new status, when it changes.
    pub room_status: Option<String>,
    pub now: OffsetDateTime,
}

#[async_trait]
pub trait RoomStore: Send + Sync {
    async fn create_room(&self, new: NewRoom) -> StoreResult<Room>;
    async fn room(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Room>>;
    /// Newest first, of one status when given.
    async fn rooms(
        &self,
        org_id: &OrgId,
        status: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Room>>;
    /// `NotFound` without the room, `Conflict` when it is not active.
    async fn post_room_message(&self, post: PostRoomMessage) -> StoreResult<RoomMessage>;
    /// The newest `limit` messages, oldest first.
    async fn room_messages(
        &self,
        org_id: &OrgId,
        room_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<RoomMessage>>;
    /// Notes an agent participant's chat session (its view of the room).
    async fn set_participant_session(
        &self,
        room_id: &str,
        agent_id: &str,
        chat_session_id: &str,
    ) -> StoreResult<()>;
    /// Claims the oldest reply waiting (queued, or running past its lease
    /// with attempts left) of a room with no reply running, until
    /// `lease_until`. A crash-cut reply out of attempts is failed on the
    /// way.
    async fn claim_room_turn(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<RoomTurn>>;
    /// `false` when the claim was lost.
    async fn finish_room_turn(&self, finish: FinishRoomTurn) -> StoreResult<bool>;
    /// Replies queued or running per room of the organisation.
    async fn open_room_turns(&self, org_id: &OrgId, room_id: &str) -> StoreResult<Vec<RoomTurn>>;
    /// Active rooms of the organisation.
    async fn count_active_rooms(&self, org_id: &OrgId) -> StoreResult<u64>;
    /// Frees every lease (a single node starting).
    async fn release_room_turn_leases(&self) -> StoreResult<u64>;
}
