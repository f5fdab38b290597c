//! Rooms and swarms (API.md §2.22): `GET /rooms?status=`, `GET
//! /rooms/{id}` `{room, messages}`, `POST /rooms` `{room}`, `POST
//! /rooms/{id}/messages` `{message, queued_replies}` and `POST /swarms`
//! `{room}`. The rules are `domains::rooms`; replies are made in the
//! background, so a post answers as soon as its message is stored.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, Query, UserAuth};
use super::fields::{field, string};
use crate::clock::rfc3339;
use crate::domains::rooms::service::{self, CreateRoom, StartSwarm};
use crate::platform::Platform;
use crate::store::{Participant, Room, RoomMessage};

/// Generous byte bounds on the way in; the domain counts characters.
const TEXT_BYTES: usize = 64 * 1024;
const ID_BYTES: usize = 200;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/rooms", get(list).post(create))
        .route("/rooms/{room_id}", get(read))
        .route("/rooms/{room_id}/messages", post(message))
        .route("/swarms", post(swarm))
}

fn participant_json(p: &Participant) -> Value {
    json!({
        "kind": p.kind,
        "id": p.id,
        "name": p.name,
        "status": p.status,
        "role": p.role,
        "joined_at": rfc3339(p.joined_at),
    })
}

fn room_json(room: &Room, spent_cents: i64) -> Value {
    json!({
        "id": room.id,
        "kind": room.kind,
        "title": room.title,
        "objective": room.objective,
        "status": room.status,
        "team_id": room.team_id,
        "budget_cap_cents": room.budget_cap_cents,
        "spent_cents": spent_cents,
        "moderator_agent_id": room.moderator_agent_id,
        "rounds": room.rounds,
        "created_by": room.created_by,
        "created_at": rfc3339(room.created_at),
        "updated_at": rfc3339(room.updated_at),
        "participants": room.participants.iter().map(participant_json).collect::<Vec<_>>(),
    })
}

fn message_json(m: &RoomMessage) -> Value {
    json!({
        "id": m.id,
        "room_id": m.room_id,
        "author_kind": m.author_kind,
        "author_id": m.author_id,
        "author_name": m.author_name,
        "body": m.body,
        "metadata": m.metadata,
        "created_at": rfc3339(m.created_at),
    })
}

async fn room_with_spend(platform: &Platform, room: &Room) -> Result<Value, ApiError> {
    let spent = service::spent_cents(platform, room).await?;
    Ok(room_json(room, spent))
}

fn agent_ids(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let bad =
        || ApiError::Unprocessable("invalid field agent_ids: must be an array of agent ids".into());
    match field(body, "agent_ids") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) if !s.is_empty() && s.len() <= ID_BYTES => Ok(s.clone()),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// An optional whole number; `null` is absent.
fn integer(body: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match field(body, name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            ApiError::Unprocessable(format!("invalid field {name}: must be an integer"))
        }),
    }
}

#[derive(serde::Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None | Some("all") => None,
        Some(s @ ("active" | "completed" | "closed")) => Some(s),
        Some(raw) => {
            return Err(ApiError::InvalidRequest(format!(
                "invalid query parameter status: must be active, completed, closed or all, got {raw:?}"
            )));
        }
    };
    let rooms = service::list(&state.platform, &user.0, status).await?;
    let mut out = Vec::with_capacity(rooms.len());
    for room in &rooms {
        out.push(room_with_spend(&state.platform, room).await?);
    }
    Ok(AxumJson(json!({"rooms": out})))
}

async fn read(
    State(state): State<AppState>,
    user: UserAuth,
    Path(room_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (room, messages) = service::read(&state.platform, &user.0, &room_id).await?;
    Ok(AxumJson(json!({
        "room": room_with_spend(&state.platform, &room).await?,
        "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
    })))
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let command = CreateRoom {
        title: string(&body, "title", TEXT_BYTES)?.unwrap_or_default(),
        objective: string(&body, "objective", TEXT_BYTES)?,
        agent_ids: agent_ids(&body)?,
        budget_cap_cents: integer(&body, "budget_cap_cents")?,
        team_id: string(&body, "team_id", ID_BYTES)?,
    };
    let room = service::create(&state.platform, &user.0, command).await?;
    Ok(AxumJson(
        json!({"room": room_with_spend(&state.platform, &room).await?}),
    ))
}

async fn message(
    State(state): State<AppState>,
    user: UserAuth,
    Path(room_id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    // Which room and whether the caller sees it come first: an unknown or
    // hidden room is 404 whatever the body says.
    service::visible(&state.platform, &user.0, &room_id).await?;
    let text = string(&body, "body", TEXT_BYTES)?.unwrap_or_default();
    let ask_agents = match field(&body, "ask_agents") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "invalid field ask_agents: must be true or false".into(),
            ));
        }
    };
    let (posted, queued) =
        service::post(&state.platform, &user.0, &room_id, text, ask_agents).await?;
    Ok(AxumJson(json!({
        "message": message_json(&posted),
        "queued_replies": queued,
    })))
}

async fn swarm(
    State(state): State<AppState>,
    user: UserAuth,
    Json(body): Json<Map<String, Value>>,
) -> Result<AxumJson<Value>, ApiError> {
    let command = StartSwarm {
        objective: string(&body, "objective", TEXT_BYTES)?.unwrap_or_default(),
        agent_ids: agent_ids(&body)?,
        moderator_agent_id: string(&body, "moderator_agent_id", ID_BYTES)?
            .filter(|m| !m.is_empty()),
        rounds: integer(&body, "rounds")?,
        budget_cap_cents: integer(&body, "budget_cap_cents")?,
        team_id: string(&body, "team_id", ID_BYTES)?.filter(|t| !t.is_empty()),
        title: string(&body, "title", TEXT_BYTES)?,
    };
    let room = service::start_swarm(&state.platform, &user.0, command).await?;
    Ok(AxumJson(
        json!({"room": room_with_spend(&state.platform, &room).await?}),
    ))
}
