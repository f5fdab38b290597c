//! Device sessions: a terminal attached to one of its owner's chat
//! sessions (the device session's id is the chat session's). Only the
//! session's owner heartbeats it, sees it, controls it or queues commands
//! for it; anyone else, admins included, gets 404, as with chat. Like chat
//! sessions, none of this is audited: no governed decision is made here,
//! and whatever a command makes the device do through the platform is.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::domains::DomainError;
use crate::domains::chat::service::own;
use crate::ids::{self, OrgId};
use crate::model::UserPrincipal;
use crate::platform::Platform;
use crate::store::{
    ChatSession, DeviceCommand, DeviceSession, Heartbeat, HeartbeatOutcome, LiveDeviceSession,
    NewDeviceCommand,
};

pub const COMMAND_PREFIX: &str = "dcmd";
/// The ids of the tool calls a `cwd` command asks the device to make.
pub const TOOL_CALL_PREFIX: &str = "dcall";
/// A session is online with a heartbeat this recent (clients beat about
/// every 20 s).
pub const ONLINE_WINDOW: Duration = Duration::seconds(60);
/// The list shows sessions with a heartbeat this recent.
pub const LIST_WINDOW: Duration = Duration::minutes(10);
/// Messages of each listed session's feed.
pub const RECENT_MESSAGES: u32 = 5;
/// Most commands one heartbeat hands over; the rest wait for the next.
pub const DELIVERY_MAX: u32 = 100;
pub const CONTENT_MAX: usize = 32_000;
const TITLE_MAX: usize = 200;
const PATH_MAX: usize = 4_096;

/// Whether the device on a session beat within [`ONLINE_WINDOW`] of `now`.
pub fn online(device: Option<&DeviceSession>, now: OffsetDateTime) -> bool {
    device
        .and_then(|d| d.last_heartbeat_at)
        .is_some_and(|at| at >= now - ONLINE_WINDOW)
}

/// A `NotFound` named `what` instead; other errors as they are.
fn not_found_as(what: &'static str) -> impl FnOnce(DomainError) -> DomainError {
    move |e| match e {
        DomainError::NotFound(_) => DomainError::NotFound(what),
        other => other,
    }
}

fn check_path(field: &str, path: &str) -> Result<(), DomainError> {
    if path.is_empty() || path.chars().count() > PATH_MAX || path.contains('\0') {
        return Err(DomainError::Invalid(format!(
            "invalid field {field}: 1 to {PATH_MAX} characters, no NUL"
        )));
    }
    Ok(())
}

/// Marks the caller's session live, keeps the `cwd` the device reports,
/// and takes the commands queued for it (none while it is paused).
pub async fn heartbeat(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
    cwd: Option<String>,
) -> Result<HeartbeatOutcome, DomainError> {
    own(platform, user, session_id).await?;
    if let Some(cwd) = &cwd {
        check_path("cwd", cwd)?;
    }
    platform
        .stores
        .devices
        .device_heartbeat(Heartbeat {
            org_id: OrgId::from(&user.org_id),
            session_id: session_id.to_owned(),
            cwd,
            limit: DELIVERY_MAX,
            now: platform.clock.now(),
        })
        .await
        .map_err(DomainError::missing("chat session"))
}

/// The caller's sessions with a heartbeat in the last [`LIST_WINDOW`].
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
) -> Result<Vec<LiveDeviceSession>, DomainError> {
    let since = platform.clock.now() - LIST_WINDOW;
    Ok(platform
        .stores
        .devices
        .live_device_sessions(
            &OrgId::from(&user.org_id),
            &user.user_id,
            since,
            RECENT_MESSAGES,
        )
        .await?)
}

fn required(field: &str, value: Option<String>) -> Result<String, DomainError> {
    value.ok_or_else(|| DomainError::Invalid(format!("invalid field {field}: required")))
}

/// The body of `PATCH /devices/sessions/{id}`, checked once the caller is
/// known to own the session (so nobody else learns more than 404).
#[derive(Clone, Debug, Default)]
pub struct UpdateSession {
    pub action: Option<String>,
    pub title: Option<String>,
    pub target_session_id: Option<String>,
}

/// What `PATCH /devices/sessions/{id}` does.
#[derive(Clone, Debug)]
enum Update {
    Pause,
    Resume,
    Rename { title: String },
    Attach { target_session_id: String },
}

impl UpdateSession {
    fn parse(self) -> Result<Update, DomainError> {
        match required("action", self.action)?.as_str() {
            "pause" => Ok(Update::Pause),
            "resume" => Ok(Update::Resume),
            "rename" => Ok(Update::Rename {
                title: required("title", self.title)?,
            }),
            "attach" => Ok(Update::Attach {
                target_session_id: required("target_session_id", self.target_session_id)?,
            }),
            other => Err(DomainError::Invalid(format!(
                "invalid field action: pause, resume, rename or attach, not {other:?}"
            ))),
        }
    }
}

/// The session after an update, its device side, and the command an
/// attach queued.
#[derive(Clone, Debug)]
pub struct Updated {
    pub session: ChatSession,
    pub device: Option<DeviceSession>,
    pub command: Option<DeviceCommand>,
}

pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
    body: UpdateSession,
) -> Result<Updated, DomainError> {
    let mut session = own(platform, user, session_id).await?;
    let update = body.parse()?;
    let org = OrgId::from(&user.org_id);
    let devices = &platform.stores.devices;
    let missing = DomainError::missing("chat session");
    let mut command = None;
    let device = match update {
        Update::Pause | Update::Resume => Some(
            devices
                .set_device_paused(&org, session_id, matches!(update, Update::Pause))
                .await
                .map_err(missing)?,
        ),
        Update::Rename { title } => {
            let title = title.trim();
            if title.is_empty() || title.chars().count() > TITLE_MAX {
                return Err(DomainError::Invalid(format!(
                    "invalid field title: 1 to {TITLE_MAX} characters"
                )));
            }
            devices
                .rename_device_session(&org, session_id, title)
                .await
                .map_err(missing)?;
            session.title = Some(title.to_owned());
            devices.device_session(&org, session_id).await?
        }
        Update::Attach { target_session_id } => {
            if target_session_id == session_id {
                return Err(DomainError::Invalid(
                    "invalid field target_session_id: another session than this one".into(),
                ));
            }
            own(platform, user, &target_session_id)
                .await
                .map_err(not_found_as("target chat session"))?;
            let content = json!({
                "type": "attach_session",
                "target_session_id": target_session_id,
            })
            .to_string();
            command = Some(enqueue(platform, &org, session_id, content).await?);
            devices.device_session(&org, session_id).await?
        }
    };
    Ok(Updated {
        session,
        device,
        command,
    })
}

async fn enqueue(
    platform: &Platform,
    org: &OrgId,
    session_id: &str,
    content: String,
) -> Result<DeviceCommand, DomainError> {
    platform
        .stores
        .devices
        .queue_device_command(NewDeviceCommand {
            id: ids::new_id(COMMAND_PREFIX),
            org_id: org.clone(),
            session_id: session_id.to_owned(),
            content,
            now: platform.clock.now(),
        })
        .await
        .map_err(DomainError::missing("chat session"))
}

/// Queues `content` for the device on the caller's session; it is handed
/// over by the next heartbeat.
pub async fn command(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
    content: Option<String>,
) -> Result<DeviceCommand, DomainError> {
    own(platform, user, session_id).await?;
    let content = required("content", content)?;
    if content.is_empty() || content.chars().count() > CONTENT_MAX {
        return Err(DomainError::Invalid(format!(
            "invalid field content: 1 to {CONTENT_MAX} characters"
        )));
    }
    enqueue(platform, &OrgId::from(&user.org_id), session_id, content).await
}

/// Deletes the caller's session for good: its messages, pause, device row
/// and commands go with it.
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
) -> Result<(), DomainError> {
    own(platform, user, session_id).await?;
    if platform
        .stores
        .devices
        .delete_device_session(&OrgId::from(&user.org_id), session_id)
        .await?
    {
        Ok(())
    } else {
        Err(DomainError::NotFound("chat session"))
    }
}

/// The body of `POST /devices/sessions/{id}/cwd`: `action` is `get` (the
/// default: the working directory and its sub-directories), `list` (the
/// sub-directories of `path`, or of the working directory) or `set` (move
/// to `path`).
#[derive(Clone, Debug, Default)]
pub struct CwdRequest {
    pub action: Option<String>,
    pub path: Option<String>,
}

impl CwdRequest {
    /// The device's tool and its path.
    fn parse(self) -> Result<(&'static str, Option<String>), DomainError> {
        match self.action.as_deref().unwrap_or("get") {
            "get" => Ok(("local_list_dirs", None)),
            "list" => Ok(("local_list_dirs", self.path)),
            "set" => Ok(("local_set_cwd", Some(required("path", self.path)?))),
            other => Err(DomainError::Invalid(format!(
                "invalid field action: get, list or set, not {other:?}"
            ))),
        }
    }
}

/// Queues a `local_tools_pending` command for the live device on the
/// caller's session. The device answers through its own channel (the
/// socket, later); what the server keeps is the `cwd` its heartbeats
/// report, which this answers with the command. 409 `device_offline` without a heartbeat in [`ONLINE_WINDOW`].
pub async fn cwd(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
    body: CwdRequest,
) -> Result<(DeviceCommand, Option<String>), DomainError> {
    own(platform, user, session_id).await?;
    let (tool_name, path) = body.parse()?;
    let org = OrgId::from(&user.org_id);
    let device = platform
        .stores
        .devices
        .device_session(&org, session_id)
        .await?;
    if !online(device.as_ref(), platform.clock.now()) {
        return Err(DomainError::Conflict {
            code: "device_offline",
            message: format!(
                "no device is live on session {session_id}: none sent a heartbeat in the last {} s",
                ONLINE_WINDOW.whole_seconds()
            ),
        });
    }
    if let Some(p) = &path {
        check_path("path", p)?;
    }
    let args = match path {
        Some(p) => json!({ "path": p }),
        None => json!({}),
    };
    let content = json!({
        "type": "local_tools_pending",
        "tools": [{
            "tool_call_id": ids::new_id(TOOL_CALL_PREFIX),
            "tool_name": tool_name,
            "args": args,
        }],
    })
    .to_string();
    let queued = enqueue(platform, &org, session_id, content).await?;
    Ok((queued, device.and_then(|d| d.cwd)))
}

/// Sets the status (`done` or `failed`) of a command of the caller's own
/// session, as the device reports after running it.
pub async fn set_command_status(
    platform: &Platform,
    user: &UserPrincipal,
    command_id: &str,
    status: Option<String>,
) -> Result<DeviceCommand, DomainError> {
    let org = OrgId::from(&user.org_id);
    let devices = &platform.stores.devices;
    let found = devices
        .device_command(&org, command_id)
        .await?
        .ok_or(DomainError::NotFound("device command"))?;
    own(platform, user, &found.session_id)
        .await
        .map_err(not_found_as("device command"))?;
    let status = required("status", status)?;
    if !matches!(status.as_str(), "done" | "failed") {
        return Err(DomainError::Invalid(format!(
            "invalid field status: done or failed, not {status:?}"
        )));
    }
    devices
        .set_device_command_status(&org, command_id, &status, platform.clock.now())
        .await?
        .ok_or(DomainError::NotFound("device command"))
}
