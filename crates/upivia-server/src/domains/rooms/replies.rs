//! The reply runner: claims a room's next queued reply (one at a time per
//! room, in order, under a lease) and makes it as a chat turn of the agent
//! on its room session (`domains::chat::turn`), on behalf of the person
//! who opened the room. Every request of the turn carries the room's id,
//! so it is governed as any of the agent's requests and also holds on the
//! room's budget (`governance::room_budget`); the reply's message says
//! what its requests cost. A reply refused for the room's budget cancels
//! the replies still queued. In a swarm, a round's last reply queues the
//! next round, and after the last round the moderator sums up and the
//! room is `completed`.
//!
//! A reply cut off by a crash is not made again: its tool calls may have
//! acted, and a second turn would act anew. Its lease runs out (or is
//! freed when a single node restarts), the next claim fails it with the
//! reason, and the room moves on; the interrupted request itself is
//! reconciled by recovery like any other.

use std::collections::BTreeSet;

use serde_json::{Map, json};
use time::{Duration, OffsetDateTime};

use super::service::{self, MESSAGE_PREFIX, TURN_PREFIX};
use crate::domains::chat::service::SESSION_PREFIX;
use crate::domains::chat::turn::{MAX_MODEL_CALLS, MESSAGE_MAX_CHARS, TurnRequest};
use crate::domains::chat::unattended;
use crate::governance::room_budget::ROOM_KEY;
use crate::ids::{self, OrgId, RequestId};
use crate::model::{Account, HoldLimit, ReasonCode, RequestStatus, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{
    FinishRoomTurn, NewChatSession, NewRoomTurn, Participant, Room, RoomMessage, RoomTurn,
    StoreError,
};

/// Replies one pass makes at most.
const PER_PASS: usize = 32;

/// Makes what is waiting, in the background.
pub fn kick(platform: &Platform) {
    let platform = platform.clone();
    tokio::spawn(async move {
        if let Err(e) = tick(&platform).await {
            tracing::warn!(error = %e, "room reply pass failed");
        }
    });
}

/// A turn makes up to `MAX_MODEL_CALLS` model calls and as many rounds
/// of tool calls, each within the provider timeout.
fn lease(platform: &Platform) -> Duration {
    let call =
        Duration::try_from(platform.settings.provider_timeout).unwrap_or(Duration::seconds(30));
    call * (2 * MAX_MODEL_CALLS as i32) + Duration::seconds(30)
}

/// One pass; how many replies it finished.
pub async fn tick(platform: &Platform) -> Result<usize, StoreError> {
    let mut done = 0;
    for _ in 0..PER_PASS {
        let now = platform.clock.now();
        let until = now + lease(platform);
        // Whole seconds: both stores hand the lease back exactly.
        let lease_until = until.replace_nanosecond(0).unwrap_or(until);
        let Some(turn) = platform
            .stores
            .rooms
            .claim_room_turn(now, lease_until)
            .await?
        else {
            break;
        };
        let finish = make(platform, &turn, lease_until).await?;
        if platform.stores.rooms.finish_room_turn(finish).await? {
            done += 1;
        } else {
            tracing::warn!(turn = %turn.id, "a room reply's claim was lost before it finished");
        }
    }
    Ok(done)
}

/// Makes a claimed reply; a reply that cannot be made is failed with
/// the reason (store errors aside, which leave the claim to run out).
async fn make(
    platform: &Platform,
    turn: &RoomTurn,
    lease_until: OffsetDateTime,
) -> Result<FinishRoomTurn, StoreError> {
    let org = OrgId::from(&turn.org_id);
    let fail = |why: String| failed(platform, turn, lease_until, why);
    let Some(room) = platform.stores.rooms.room(&org, &turn.room_id).await? else {
        return Ok(fail("the room is gone".into()));
    };
    if turn.attempts > 1 {
        // Not repeated: see the module's note.
        let mut finish = fail(
            "the reply was interrupted by a restart and is not made again, so none of its \
             actions repeats"
                .into(),
        );
        finish.next = next_turns(platform, &room, turn).await?;
        finish.room_status = room_status_after(&room, turn);
        return Ok(finish);
    }
    if room.status != "active" {
        return Ok(fail(format!("the room is {}", room.status)));
    }
    let Some(speaker) = room
        .participants
        .iter()
        .find(|p| p.kind == "agent" && p.id == turn.agent_id && p.status == "active")
        .cloned()
    else {
        return Ok(fail("the agent no longer takes part in the room".into()));
    };
    let Some(member) = platform
        .stores
        .identity
        .member(&room.org_id, &room.created_by)
        .await?
    else {
        return Ok(fail(
            "the person who opened the room is no longer a member".into(),
        ));
    };
    let opener = UserPrincipal {
        user_id: member.user_id,
        email: member.email,
        org_id: room.org_id.clone(),
        role: member.role,
    };
    let session_id = session_of(platform, &room, &speaker, &opener).await?;
    let history = platform
        .stores
        .rooms
        .room_messages(&org, &room.id, service::MESSAGES_SHOWN)
        .await?;
    let request = TurnRequest {
        session_id,
        message: prompt(&history, turn),
        instructions: Some(instructions(&room, &speaker, turn)),
        ..TurnRequest::default()
    };
    let mut scope = Map::new();
    scope.insert(ROOM_KEY.into(), json!(room.id));
    scope.insert("room_turn_id".into(), json!(turn.id));
    let reply = unattended::run(platform, &opener, request, scope, None).await;
    let cost = match unattended::cost(platform, &reply.request_ids).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, room = %room.id, "could not add up a room reply's cost");
            Cents::ZERO
        }
    };
    let exhausted = budget_ran_out(platform, &room, &reply.request_ids).await?;
    let body = match (&reply.text, &reply.approval_id, &reply.error) {
        (Some(text), _, _) if !text.trim().is_empty() => text.clone(),
        (_, Some(approval), _) => format!("(waiting for approval {approval} before going on)"),
        (_, _, Some(error)) => format!("(no reply: {error})"),
        _ => "(no reply)".into(),
    };
    let now = platform.clock.now();
    let mut messages = vec![RoomMessage {
        id: ids::new_id(MESSAGE_PREFIX),
        room_id: room.id.clone(),
        author_kind: "agent".into(),
        author_id: Some(speaker.id.clone()),
        author_name: speaker.name.clone(),
        body,
        metadata: json!({
            "cost_cents": cost.get(),
            "request_ids": reply.request_ids,
            "turn_id": turn.id,
            "kind": turn.kind,
            "round": turn.round,
            "approval_id": reply.approval_id,
            "error": reply.error,
        }),
        created_at: now,
    }];
    let (next, cancel_queued) = if exhausted {
        messages.push(notice(
            &room,
            "The room's budget cap is reached: the replies still queued are cancelled.",
            now,
        ));
        (Vec::new(), true)
    } else {
        (next_turns(platform, &room, turn).await?, false)
    };
    let room_status = if exhausted && room.kind == "swarm" {
        Some("completed".into())
    } else {
        room_status_after(&room, turn)
    };
    let failed = reply.text.is_none() && reply.approval_id.is_none();
    Ok(FinishRoomTurn {
        turn_id: turn.id.clone(),
        lease_until,
        status: if failed { "failed" } else { "done" }.into(),
        error: if failed { reply.error } else { None },
        messages,
        next,
        cancel_queued,
        room_status,
        now,
    })
}

fn failed(
    platform: &Platform,
    turn: &RoomTurn,
    lease_until: OffsetDateTime,
    why: String,
) -> FinishRoomTurn {
    // Said in the room, so that a reply that never comes is not silence.
    let now = platform.clock.now();
    let notice = RoomMessage {
        id: ids::new_id(MESSAGE_PREFIX),
        room_id: turn.room_id.clone(),
        author_kind: "system".into(),
        author_id: None,
        author_name: "system".into(),
        body: format!("No reply from agent {}: {why}.", turn.agent_id),
        metadata: json!({"turn_id": turn.id, "agent_id": turn.agent_id, "error": why}),
        created_at: now,
    };
    FinishRoomTurn {
        turn_id: turn.id.clone(),
        lease_until,
        status: "failed".into(),
        error: Some(why),
        messages: vec![notice],
        next: Vec::new(),
        cancel_queued: false,
        room_status: None,
        now: platform.clock.now(),
    }
}

fn notice(room: &Room, text: &str, now: OffsetDateTime) -> RoomMessage {
    RoomMessage {
        id: ids::new_id(MESSAGE_PREFIX),
        room_id: room.id.clone(),
        author_kind: "system".into(),
        author_id: None,
        author_name: "system".into(),
        body: text.into(),
        metadata: json!({}),
        created_at: now,
    }
}

/// The agent's session in the room, opened on its first reply.
async fn session_of(
    platform: &Platform,
    room: &Room,
    speaker: &Participant,
    opener: &UserPrincipal,
) -> Result<String, StoreError> {
    if let Some(id) = &speaker.chat_session_id {
        return Ok(id.clone());
    }
    let session = platform
        .stores
        .chat
        .open_chat_session(NewChatSession {
            id: ids::new_id(SESSION_PREFIX),
            org_id: OrgId::from(&room.org_id),
            user_id: opener.user_id.clone(),
            agent_id: speaker.id.clone(),
            model_id: None,
            title: Some(format!("Room: {}", room.title)),
            room_id: Some(room.id.clone()),
            now: platform.clock.now(),
        })
        .await?;
    platform
        .stores
        .rooms
        .set_participant_session(&room.id, &speaker.id, &session.id)
        .await?;
    Ok(session.id)
}

/// What the agent reads: the messages since its own last one (all of
/// them for a summary), newest kept when they are too long.
fn prompt(history: &[RoomMessage], turn: &RoomTurn) -> String {
    let from = if turn.kind == "summary" {
        0
    } else {
        history
            .iter()
            .rposition(|m| {
                m.author_kind == "agent" && m.author_id.as_deref() == Some(&turn.agent_id)
            })
            .map_or(0, |i| i + 1)
    };
    let mut lines: Vec<String> = history[from..]
        .iter()
        .filter(|m| m.author_kind != "system")
        .map(|m| format!("{}: {}", m.author_name, m.body))
        .collect();
    let mut total: usize = lines.iter().map(|l| l.chars().count() + 1).sum();
    while total > MESSAGE_MAX_CHARS && lines.len() > 1 {
        total -= lines.remove(0).chars().count() + 1;
    }
    let mut text = lines.join("\n");
    if text.chars().count() > MESSAGE_MAX_CHARS {
        text = text.chars().take(MESSAGE_MAX_CHARS).collect();
    }
    if text.trim().is_empty() {
        text = "(nothing new since your last reply)".into();
    }
    text
}

fn instructions(room: &Room, speaker: &Participant, turn: &RoomTurn) -> String {
    let mut s = format!(
        "You are {}, a participant in the room \"{}\".",
        speaker.name, room.title
    );
    if let Some(objective) = &room.objective {
        s.push_str(&format!(" Its objective: {objective}."));
    }
    s.push_str(" The user message holds the room's latest messages, one per line as `name: text`.");
    match (turn.kind.as_str(), room.rounds) {
        ("summary", _) => s.push_str(
            " You moderate this discussion: sum up what was said and the conclusion it reached.",
        ),
        (_, Some(rounds)) if room.kind == "swarm" => s.push_str(&format!(
            " This is round {} of {rounds}: add your view in a few sentences.",
            turn.round
        )),
        _ => s.push_str(" Reply to the room in a few sentences."),
    }
    s
}

/// Whether a request of the reply was refused because what is left of
/// the room's cap cannot pay for it.
async fn budget_ran_out(
    platform: &Platform,
    room: &Room,
    ids: &BTreeSet<String>,
) -> Result<bool, StoreError> {
    let Some(cap) = room.budget_cap_cents else {
        return Ok(false);
    };
    let left = platform
        .stores
        .governance
        .totals(Account::Room(room.id.clone()))
        .await?
        .available(&HoldLimit::Cap(Cents::new(cap)));
    for id in ids {
        let Some(r) = platform
            .stores
            .governance
            .request(&RequestId::from(id.as_str()))
            .await?
        else {
            continue;
        };
        if r.status == RequestStatus::Blocked
            && r.reason_code == Some(ReasonCode::BudgetExceeded)
            && r.estimated_cost > left
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The replies this one leads to: in a swarm, the next round once this
/// was its round's last, then the summary.
async fn next_turns(
    platform: &Platform,
    room: &Room,
    turn: &RoomTurn,
) -> Result<Vec<NewRoomTurn>, StoreError> {
    if room.kind != "swarm" || turn.kind == "summary" || room.status != "active" {
        return Ok(Vec::new());
    }
    let open = platform
        .stores
        .rooms
        .open_room_turns(&OrgId::from(&room.org_id), &room.id)
        .await?;
    if open.iter().any(|t| t.id != turn.id) {
        return Ok(Vec::new());
    }
    let rounds = room.rounds.unwrap_or(service::DEFAULT_ROUNDS);
    if turn.round < rounds {
        return Ok(service::round_turns(room, turn.round + 1));
    }
    let moderator = room.moderator_agent_id.clone().or_else(|| {
        service::round_turns(room, 0)
            .first()
            .map(|t| t.agent_id.clone())
    });
    Ok(moderator
        .into_iter()
        .map(|agent_id| NewRoomTurn {
            id: ids::new_id(TURN_PREFIX),
            agent_id,
            kind: "summary".into(),
            round: rounds + 1,
        })
        .collect())
}

/// A swarm is over once its summary is made (or failed).
fn room_status_after(room: &Room, turn: &RoomTurn) -> Option<String> {
    (room.kind == "swarm" && turn.kind == "summary").then(|| "completed".into())
}
