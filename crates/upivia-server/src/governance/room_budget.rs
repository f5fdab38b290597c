//! Service requests made in a room (`metadata.room_id`, set by the
//! room's reply runner on an agent's model and tool calls): the room must
//! be active and the agent one of its active participants, and the
//! request holds its estimate on the room's account (`room:<id>`, capped
//! by the room's `budget_cap_cents`, or unlimited and still tracked) in
//! the same all-or-nothing reservation as its other budgets, so the
//! agents of a room never spend more than its cap together.

use super::GovernanceError;
use crate::ids::OrgId;
use crate::model::{Account, Agent, Hold, HoldLimit, ReasonCode, ServiceRequest};
use crate::money::Cents;
use crate::platform::Platform;

/// The metadata key naming the room.
pub const ROOM_KEY: &str = "room_id";

pub type Block = (ReasonCode, String);

/// The hold on the room's account (`None` when the request names no
/// room), or why it is refused.
pub async fn admit(
    platform: &Platform,
    agent: &Agent,
    request: &ServiceRequest,
) -> Result<Result<Option<Hold>, Block>, GovernanceError> {
    let Some(raw) = request
        .metadata
        .as_ref()
        .and_then(|m| m.get(ROOM_KEY))
        .filter(|v| !v.is_null())
    else {
        return Ok(Ok(None));
    };
    hold(platform, agent, raw.as_str()).await
}

/// The hold for `room_id` (a `None` id is refused: it must be a string).
pub async fn hold(
    platform: &Platform,
    agent: &Agent,
    room_id: Option<&str>,
) -> Result<Result<Option<Hold>, Block>, GovernanceError> {
    let not_open = |why: String| Ok(Err((ReasonCode::RoomNotOpen, why)));
    let Some(room_id) = room_id else {
        return not_open(format!("metadata.{ROOM_KEY} must be a room id (a string)"));
    };
    let room = platform
        .stores
        .rooms
        .room(&OrgId::from(&agent.org_id), room_id)
        .await?;
    let Some(room) = room.filter(|r| r.status == "active") else {
        return not_open(format!("no active room {room_id} in this organisation"));
    };
    let takes_part = room
        .participants
        .iter()
        .any(|p| p.kind == "agent" && p.id == agent.id && p.status == "active");
    if !takes_part {
        return not_open(format!("this agent does not take part in room {room_id}"));
    }
    Ok(Ok(Some(Hold {
        account: Account::Room(room.id),
        limit: room
            .budget_cap_cents
            .map_or(HoldLimit::Unlimited, |c| HoldLimit::Cap(Cents::new(c))),
    })))
}
