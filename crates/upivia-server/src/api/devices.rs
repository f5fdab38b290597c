//! Devices (API.md §2.20): the heartbeat of a terminal attached to a chat
//! session (which hands it the commands queued for it), the live sessions
//! list, control of a session, queued commands and their status. The
//! caller is the session's owner, by PAT or cookie; commands reach the
//! device on its next heartbeat (there is no `/ws` yet).

use axum::extract::{Path, State};
use axum::routing::{patch, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Json, UserAuth};
use crate::clock::rfc3339;
use crate::domains::devices::service::{self, CwdRequest, UpdateSession};
use crate::store::{ChatSession, DeviceCommand, DeviceSession};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/devices/heartbeat", post(heartbeat))
        .route("/devices/sessions", axum::routing::get(list))
        .route(
            "/devices/sessions/{session_id}",
            patch(update).post(command).delete(delete),
        )
        .route("/devices/sessions/{session_id}/cwd", post(cwd))
        .route("/devices/commands/{command_id}", patch(command_status))
}

fn command_json(c: &DeviceCommand) -> Value {
    json!({
        "id": c.id,
        "session_id": c.session_id,
        "content": c.content,
        "status": c.status,
        "created_at": rfc3339(c.created_at),
        "delivered_at": c.delivered_at.map(rfc3339),
        "updated_at": rfc3339(c.updated_at),
    })
}

fn session_json(state: &AppState, s: &ChatSession, d: Option<&DeviceSession>) -> Value {
    json!({
        "id": s.id,
        "title": s.title,
        "agent_id": s.agent_id,
        "online": service::online(d, state.platform.clock.now()),
        "paused": d.is_some_and(|d| d.paused),
        "last_heartbeat_at": d.and_then(|d| d.last_heartbeat_at).map(rfc3339),
        "cwd": d.and_then(|d| d.cwd.clone()),
    })
}

fn required(field: &str, value: Option<String>) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::Unprocessable(format!("invalid field {field}: required")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatBody {
    session_id: Option<String>,
    /// The device's working directory, when it reports one.
    cwd: Option<String>,
}

async fn heartbeat(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Json(body): Json<HeartbeatBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let session_id = required("session_id", body.session_id)?;
    let beat = service::heartbeat(&state.platform, &user, &session_id, body.cwd).await?;
    Ok(AxumJson(json!({
        "ok": true,
        "paused": beat.device.paused,
        "commands": beat.commands.iter().map(command_json).collect::<Vec<_>>(),
    })))
}

async fn list(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let live = service::list(&state.platform, &user).await?;
    let sessions: Vec<Value> = live
        .iter()
        .map(|l| {
            let mut v = session_json(&state, &l.session, Some(&l.device));
            v["recent_messages"] = l
                .recent_messages
                .iter()
                .map(|m| {
                    json!({
                        "role": m.role,
                        "content": m.content,
                        "created_at": rfc3339(m.created_at),
                    })
                })
                .collect();
            v
        })
        .collect();
    Ok(AxumJson(json!({ "sessions": sessions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    action: Option<String>,
    title: Option<String>,
    target_session_id: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(session_id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let body = UpdateSession {
        action: body.action,
        title: body.title,
        target_session_id: body.target_session_id,
    };
    let updated = service::update(&state.platform, &user, &session_id, body).await?;
    if updated.command.is_some() {
        state.ws.commands_queued(&session_id);
    }
    let mut out = json!({
        "ok": true,
        "session": session_json(&state, &updated.session, updated.device.as_ref()),
    });
    if let Some(c) = &updated.command {
        out["command"] = command_json(c);
    }
    Ok(AxumJson(out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    content: Option<String>,
}

async fn command(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(session_id): Path<String>,
    Json(body): Json<CommandBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let queued = service::command(&state.platform, &user, &session_id, body.content).await?;
    // A device on a socket here takes it now; elsewhere, at its next beat.
    state.ws.commands_queued(&session_id);
    Ok(AxumJson(json!({ "command": command_json(&queued) })))
}

async fn delete(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(session_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    service::delete(&state.platform, &user, &session_id).await?;
    Ok(AxumJson(
        json!({ "deleted": true, "session_id": session_id }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CwdBody {
    action: Option<String>,
    path: Option<String>,
}

async fn cwd(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(session_id): Path<String>,
    Json(body): Json<CwdBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let body = CwdRequest {
        action: body.action,
        path: body.path,
    };
    let (queued, cwd) = service::cwd(&state.platform, &user, &session_id, body).await?;
    state.ws.commands_queued(&session_id);
    Ok(AxumJson(json!({
        "status": "queued",
        "command": command_json(&queued),
        // The directory the device last reported; its answer to this
        // command comes back when it reports again.
        "cwd": cwd,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: Option<String>,
}

async fn command_status(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Path(command_id): Path<String>,
    Json(body): Json<StatusBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let updated =
        service::set_command_status(&state.platform, &user, &command_id, body.status).await?;
    Ok(AxumJson(json!({ "command": command_json(&updated) })))
}
