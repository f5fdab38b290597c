//! `devices`, `devices.sessions`, `devices.commands` (API.md §2.20).

use serde_json::{Value, json};

use crate::client::RequestSpec;
use crate::endpoints as ep;
use crate::error::Result;

use super::handle;

handle!(
    /// Terminal devices.
    Devices
);
handle!(
    /// Device sessions (a device session's id is its chat session's id).
    DeviceSessions
);
handle!(
    /// Commands queued for devices.
    DeviceCommands
);

impl<'a> Devices<'a> {
    /// `devices.sessions`.
    pub fn sessions(&self) -> DeviceSessions<'a> {
        DeviceSessions::new(self.client)
    }

    /// `devices.commands`.
    pub fn commands(&self) -> DeviceCommands<'a> {
        DeviceCommands::new(self.client)
    }

    /// `POST /api/v1/devices/heartbeat` with `{session_id}` (auth
    /// `workspace`): marks the session live and collects queued commands.
    pub async fn heartbeat(self, session_id: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_HEARTBEAT, &[])
            .json(&json!({ "session_id": session_id }))?;
        self.client.send_json(spec).await
    }

    /// `PATCH /api/v1/devices/commands/{command_id}` (auth `workspace`):
    /// alias of [`DeviceCommands::update`].
    pub async fn commands_update(self, command_id: &str, status: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_COMMANDS_UPDATE_ALIAS, &[command_id])
            .json(&json!({ "status": status }))?;
        self.client.send_json(spec).await
    }
}

impl DeviceSessions<'_> {
    /// `GET /api/v1/devices/sessions` (auth `workspace`): sessions with a
    /// recent heartbeat.
    pub async fn list(self) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(&ep::DEVICES_SESSIONS_LIST, &[]))
            .await
    }

    /// `PATCH /api/v1/devices/sessions/{session_id}` (auth `workspace`):
    /// `{action: pause|resume|rename|attach, title?, target_session_id?}`.
    pub async fn update(self, session_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_SESSIONS_UPDATE, &[session_id]).json(body)?;
        self.client.send_json(spec).await
    }

    /// `POST /api/v1/devices/sessions/{session_id}` with `{content}` (auth
    /// `workspace`): queues a message or command for the terminal.
    pub async fn command(self, session_id: &str, content: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_SESSIONS_COMMAND, &[session_id])
            .json(&json!({ "content": content }))?;
        self.client.send_json(spec).await
    }

    /// `DELETE /api/v1/devices/sessions/{session_id}` (auth `workspace`).
    pub async fn delete(self, session_id: &str) -> Result<Value> {
        self.client
            .send_json(RequestSpec::endpoint(
                &ep::DEVICES_SESSIONS_DELETE,
                &[session_id],
            ))
            .await
    }

    /// `POST /api/v1/devices/sessions/{session_id}/cwd` (auth `workspace`):
    /// browses or sets the device's working directory, e.g. `{action:
    /// "get"}`; 409 when no device is live.
    pub async fn cwd(self, session_id: &str, body: &Value) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_SESSIONS_CWD, &[session_id]).json(body)?;
        self.client.send_json(spec).await
    }
}

impl DeviceCommands<'_> {
    /// `PATCH /api/v1/devices/commands/{command_id}` with `{status}` (auth
    /// `workspace`): `done` or `failed`.
    pub async fn update(self, command_id: &str, status: &str) -> Result<Value> {
        let spec = RequestSpec::endpoint(&ep::DEVICES_COMMANDS_UPDATE, &[command_id])
            .json(&json!({ "status": status }))?;
        self.client.send_json(spec).await
    }
}
