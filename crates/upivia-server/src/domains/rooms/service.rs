//! The rules of rooms. A person opens a room with agents they may manage
//! (its creator joins as its first person); who sees a room: admins and
//! the owner every room of the organisation, a member the rooms they
//! opened or posted in; anyone else gets 404. A message posted with
//! `ask_agents` queues one reply from each of the room's active agents,
//! in the order they joined; a swarm queues its first round at once and
//! each round's last reply queues the next (`replies`).

use serde_json::json;
use time::OffsetDateTime;

use super::super::DomainError;
use crate::domains::agents::service::manageable;
use crate::domains::teams::service as teams;
use crate::governance::trail;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    NewRoom, NewRoomTurn, Participant, PostRoomMessage, Room, RoomMessage, StoreError,
};

pub const ROOM_PREFIX: &str = "room";
pub const MESSAGE_PREFIX: &str = "rmsg";
pub const TURN_PREFIX: &str = "rturn";
pub const TITLE_MAX: usize = 200;
pub const OBJECTIVE_MAX: usize = 4_000;
pub const BODY_MAX: usize = 16_000;
/// Most agents in one room: each message may queue a reply from each.
pub const MAX_AGENTS: usize = 12;
pub const MAX_ROUNDS: i64 = 10;
pub const DEFAULT_ROUNDS: i64 = 2;
/// The newest messages a room's read returns.
pub const MESSAGES_SHOWN: u32 = 200;
const LIST_LIMIT: u32 = 200;

/// `POST /rooms`, checked by the caller's handler for types only.
#[derive(Clone, Debug, Default)]
pub struct CreateRoom {
    pub title: String,
    pub objective: Option<String>,
    pub agent_ids: Vec<String>,
    pub budget_cap_cents: Option<i64>,
    pub team_id: Option<String>,
}

/// `POST /swarms`.
#[derive(Clone, Debug, Default)]
pub struct StartSwarm {
    pub objective: String,
    pub agent_ids: Vec<String>,
    pub moderator_agent_id: Option<String>,
    pub rounds: Option<i64>,
    pub budget_cap_cents: Option<i64>,
    pub team_id: Option<String>,
    pub title: Option<String>,
}

fn is_admin(user: &UserPrincipal) -> bool {
    user.role >= Role::Admin
}

fn too_long(field: &str, max: usize) -> DomainError {
    DomainError::Invalid(format!("invalid field {field}: at most {max} characters"))
}

fn check_cap(cap: Option<i64>) -> Result<(), DomainError> {
    match cap {
        Some(c) if c < 0 => Err(DomainError::Invalid(
            "invalid field budget_cap_cents: must be 0 or more cents (or null for no cap)".into(),
        )),
        _ => Ok(()),
    }
}

/// The agents, each one the caller may manage and not deleted, in the
/// order given, without repeats.
async fn participants(
    platform: &Platform,
    user: &UserPrincipal,
    agent_ids: &[String],
    moderator: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<Participant>, DomainError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let listed = agent_ids.iter().map(|a| (a.as_str(), "member"));
    for (id, role) in listed.chain(moderator.map(|m| (m, "moderator"))) {
        // A moderator also listed speaks in the rounds like the others
        // (and sums up); only an unlisted one joins as `moderator`.
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let agent = manageable(platform, user, &AgentId::from(id))
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::NotFound("agent"),
                DomainError::Forbidden(_) => DomainError::Forbidden(format!(
                    "agent {id}: only an admin or the agent's owner may bring it into a room"
                )),
                other => other,
            })?
            .agent()
            .clone();
        out.push(Participant {
            kind: "agent".into(),
            id: agent.id,
            name: agent.name,
            status: "active".into(),
            role: role.into(),
            position: out.len() as i64 + 1,
            chat_session_id: None,
            joined_at: now,
        });
    }
    Ok(out)
}

fn person(user: &UserPrincipal, position: i64, now: OffsetDateTime) -> Participant {
    Participant {
        kind: "user".into(),
        id: user.user_id.clone(),
        name: user.email.clone(),
        status: "active".into(),
        role: "member".into(),
        position,
        chat_session_id: None,
        joined_at: now,
    }
}

async fn check_team(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: Option<&str>,
) -> Result<Option<String>, DomainError> {
    let Some(team) = team_id.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    // The team's members and admins only (404 for a team of nobody's).
    teams::members(platform, user, team).await?;
    Ok(Some(team.to_owned()))
}

/// An active room with its opener and agents; the caller fills in the
/// rest.
fn new_room(
    user: &UserPrincipal,
    kind: &str,
    title: String,
    agents: Vec<Participant>,
    now: OffsetDateTime,
) -> Room {
    let mut people = vec![person(user, 0, now)];
    people.extend(agents);
    Room {
        id: ids::new_id(ROOM_PREFIX),
        org_id: user.org_id.clone(),
        kind: kind.into(),
        title,
        objective: None,
        status: "active".into(),
        team_id: None,
        budget_cap_cents: None,
        moderator_agent_id: None,
        rounds: None,
        created_by: user.user_id.clone(),
        created_at: now,
        updated_at: now,
        participants: people,
    }
}

fn created_event(room: &Room, user: &UserPrincipal) -> AuditEvent {
    AuditEvent::new(
        &room.org_id,
        if room.kind == "swarm" {
            "swarm.started"
        } else {
            "room.created"
        },
        trail::user_actor(&user.user_id),
    )
    .with_details(json!({
        "room_id": room.id,
        "title": room.title,
        "agent_ids": room.participants.iter()
            .filter(|p| p.kind == "agent").map(|p| p.id.as_str()).collect::<Vec<_>>(),
        "budget_cap_cents": room.budget_cap_cents,
        "team_id": room.team_id,
        "rounds": room.rounds,
        "moderator_agent_id": room.moderator_agent_id,
    }))
}

pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    c: CreateRoom,
) -> Result<Room, DomainError> {
    let title = c.title.trim().to_owned();
    if title.is_empty() {
        return Err(DomainError::Invalid("invalid field title: required".into()));
    }
    if title.chars().count() > TITLE_MAX {
        return Err(too_long("title", TITLE_MAX));
    }
    let objective = c
        .objective
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty());
    if objective
        .as_ref()
        .is_some_and(|o| o.chars().count() > OBJECTIVE_MAX)
    {
        return Err(too_long("objective", OBJECTIVE_MAX));
    }
    if c.agent_ids.len() > MAX_AGENTS {
        return Err(DomainError::Invalid(format!(
            "invalid field agent_ids: at most {MAX_AGENTS} agents"
        )));
    }
    check_cap(c.budget_cap_cents)?;
    let team = check_team(platform, user, c.team_id.as_deref()).await?;
    let now = platform.clock.now();
    let agents = participants(platform, user, &c.agent_ids, None, now).await?;
    let room = Room {
        objective,
        team_id: team,
        budget_cap_cents: c.budget_cap_cents,
        ..new_room(user, "room", title, agents, now)
    };
    let audit = created_event(&room, user);
    Ok(platform
        .stores
        .rooms
        .create_room(NewRoom {
            room,
            first_message: None,
            turns: Vec::new(),
            audit,
        })
        .await?)
}

/// A swarm: the objective posted as its first message and the first
/// round of replies queued, each agent in turn; after the last round the
/// moderator (or, without one, the first agent) sums up and the room is
/// `completed`.
pub async fn start_swarm(
    platform: &Platform,
    user: &UserPrincipal,
    s: StartSwarm,
) -> Result<Room, DomainError> {
    let objective = s.objective.trim().to_owned();
    if objective.is_empty() {
        return Err(DomainError::Invalid(
            "invalid field objective: required".into(),
        ));
    }
    if objective.chars().count() > OBJECTIVE_MAX {
        return Err(too_long("objective", OBJECTIVE_MAX));
    }
    let distinct = {
        let mut ids: Vec<&String> = s.agent_ids.iter().collect();
        ids.sort();
        ids.dedup();
        ids.len()
    };
    if distinct < 2 {
        return Err(DomainError::Invalid(
            "invalid field agent_ids: a swarm needs at least 2 different agents".into(),
        ));
    }
    if s.agent_ids.len() > MAX_AGENTS {
        return Err(DomainError::Invalid(format!(
            "invalid field agent_ids: at most {MAX_AGENTS} agents"
        )));
    }
    let rounds = s.rounds.unwrap_or(DEFAULT_ROUNDS);
    if !(1..=MAX_ROUNDS).contains(&rounds) {
        return Err(DomainError::Invalid(format!(
            "invalid field rounds: 1 to {MAX_ROUNDS}"
        )));
    }
    check_cap(s.budget_cap_cents)?;
    let team = check_team(platform, user, s.team_id.as_deref()).await?;
    let title = match s
        .title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    {
        Some(t) if t.chars().count() > TITLE_MAX => return Err(too_long("title", TITLE_MAX)),
        Some(t) => t,
        None => format!("Swarm: {}", truncate(&objective, 60)),
    };
    let now = platform.clock.now();
    let moderator = s.moderator_agent_id.filter(|m| !m.is_empty());
    let agents = participants(platform, user, &s.agent_ids, moderator.as_deref(), now).await?;
    let room = Room {
        objective: Some(objective.clone()),
        team_id: team,
        budget_cap_cents: s.budget_cap_cents,
        moderator_agent_id: moderator,
        rounds: Some(rounds),
        ..new_room(user, "swarm", title, agents, now)
    };
    let first = RoomMessage {
        id: ids::new_id(MESSAGE_PREFIX),
        room_id: room.id.clone(),
        author_kind: "user".into(),
        author_id: Some(user.user_id.clone()),
        author_name: user.email.clone(),
        body: objective,
        metadata: json!({}),
        created_at: now,
    };
    let turns = round_turns(&room, 1);
    let audit = created_event(&room, user);
    let created = platform
        .stores
        .rooms
        .create_room(NewRoom {
            room,
            first_message: Some(first),
            turns,
            audit,
        })
        .await?;
    super::replies::kick(platform);
    Ok(created)
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

/// The agents that speak in a round: the active ones, but a swarm's
/// moderator that was not listed among its agents only sums up.
fn speakers(room: &Room) -> impl Iterator<Item = &Participant> {
    room.participants
        .iter()
        .filter(|p| p.kind == "agent" && p.status == "active" && p.role == "member")
}

/// One reply from each speaker, in the order they joined.
pub fn round_turns(room: &Room, round: i64) -> Vec<NewRoomTurn> {
    speakers(room)
        .map(|p| NewRoomTurn {
            id: ids::new_id(TURN_PREFIX),
            agent_id: p.id.clone(),
            kind: "reply".into(),
            round,
        })
        .collect()
}

/// Whether the caller may see `room`.
fn sees(user: &UserPrincipal, room: &Room) -> bool {
    is_admin(user)
        || room.created_by == user.user_id
        || room
            .participants
            .iter()
            .any(|p| p.kind == "user" && p.id == user.user_id)
}

/// A room the caller may see (404 otherwise, also for another
/// organisation's).
pub async fn visible(
    platform: &Platform,
    user: &UserPrincipal,
    room_id: &str,
) -> Result<Room, DomainError> {
    platform
        .stores
        .rooms
        .room(&OrgId::from(&user.org_id), room_id)
        .await?
        .filter(|r| sees(user, r))
        .ok_or(DomainError::NotFound("room"))
}

/// The rooms the caller may see, newest first.
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    status: Option<&str>,
) -> Result<Vec<Room>, DomainError> {
    let rooms = platform
        .stores
        .rooms
        .rooms(&OrgId::from(&user.org_id), status, LIST_LIMIT)
        .await?;
    Ok(rooms.into_iter().filter(|r| sees(user, r)).collect())
}

/// A room, what its agents spent, and its newest messages.
pub async fn read(
    platform: &Platform,
    user: &UserPrincipal,
    room_id: &str,
) -> Result<(Room, Vec<RoomMessage>), DomainError> {
    let room = visible(platform, user, room_id).await?;
    let messages = platform
        .stores
        .rooms
        .room_messages(&OrgId::from(&user.org_id), &room.id, MESSAGES_SHOWN)
        .await?;
    Ok((room, messages))
}

/// What a room's agents have spent (settled) and hold (in flight).
pub async fn spent_cents(platform: &Platform, room: &Room) -> Result<i64, DomainError> {
    let totals = platform
        .stores
        .governance
        .totals(crate::model::Account::Room(room.id.clone()))
        .await?;
    Ok(totals.settled.get())
}

/// Posts the caller's message; with `ask_agents`, one reply from each of
/// the room's active agents is queued and made in the background.
pub async fn post(
    platform: &Platform,
    user: &UserPrincipal,
    room_id: &str,
    body: String,
    ask_agents: bool,
) -> Result<(RoomMessage, usize), DomainError> {
    let room = visible(platform, user, room_id).await?;
    let body = body.trim().to_owned();
    if body.is_empty() {
        return Err(DomainError::Invalid("invalid field body: required".into()));
    }
    if body.chars().count() > BODY_MAX {
        return Err(too_long("body", BODY_MAX));
    }
    if room.status != "active" {
        return Err(not_active(&room));
    }
    let now = platform.clock.now();
    let joined = room
        .participants
        .iter()
        .any(|p| p.kind == "user" && p.id == user.user_id);
    let turns: Vec<NewRoomTurn> = if ask_agents {
        // A swarm runs its own rounds; a message in one is read by the
        // next speaker and asks for no extra replies.
        if room.kind == "swarm" {
            Vec::new()
        } else {
            round_turns(&room, 0)
        }
    } else {
        Vec::new()
    };
    let queued = turns.len();
    let message = RoomMessage {
        id: ids::new_id(MESSAGE_PREFIX),
        room_id: room.id.clone(),
        author_kind: "user".into(),
        author_id: Some(user.user_id.clone()),
        author_name: user.email.clone(),
        body,
        metadata: json!({}),
        created_at: now,
    };
    let posted = platform
        .stores
        .rooms
        .post_room_message(PostRoomMessage {
            org_id: OrgId::from(&user.org_id),
            room_id: room.id.clone(),
            message,
            poster: (!joined).then(|| person(user, 0, now)),
            turns,
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => DomainError::NotFound("room"),
            StoreError::Conflict(message) => DomainError::Conflict {
                code: "room_not_active",
                message,
            },
            other => other.into(),
        })?;
    if queued > 0 {
        super::replies::kick(platform);
    }
    Ok((posted, queued))
}

fn not_active(room: &Room) -> DomainError {
    DomainError::Conflict {
        code: "room_not_active",
        message: format!(
            "room {} is {}: it takes no more messages",
            room.id, room.status
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, role: &str, position: i64) -> Participant {
        Participant {
            kind: "agent".into(),
            id: id.into(),
            name: id.into(),
            status: "active".into(),
            role: role.into(),
            position,
            chat_session_id: None,
            joined_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn swarm(participants: Vec<Participant>) -> Room {
        Room {
            id: "room_1".into(),
            org_id: "org".into(),
            kind: "swarm".into(),
            title: "t".into(),
            objective: None,
            status: "active".into(),
            team_id: None,
            budget_cap_cents: None,
            moderator_agent_id: None,
            rounds: Some(2),
            created_by: "u".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            participants,
        }
    }

    fn speaking(room: &Room) -> Vec<String> {
        round_turns(room, 1)
            .into_iter()
            .map(|t| t.agent_id)
            .collect()
    }

    #[test]
    fn an_unlisted_moderator_does_not_speak_in_the_rounds() {
        let room = swarm(vec![
            agent("a", "member", 1),
            agent("b", "member", 2),
            agent("m", "moderator", 3),
        ]);
        assert_eq!(speaking(&room), ["a", "b"]);
    }

    #[test]
    fn a_listed_moderator_speaks_in_its_place() {
        let room = swarm(vec![
            agent("a", "member", 1),
            agent("b", "member", 2),
            agent("c", "member", 3),
        ]);
        assert_eq!(speaking(&room), ["a", "b", "c"]);
    }
}
