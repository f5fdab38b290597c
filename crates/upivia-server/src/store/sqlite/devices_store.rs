//! `DeviceStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, devices};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn device_heartbeat(&self, beat: Heartbeat) -> StoreResult<HeartbeatOutcome> {
        self.writer
            .write(move |ctx| devices::heartbeat(ctx, beat))
            .await
    }

    async fn device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<DeviceSession>> {
        self.lookup(|c| devices::get(c, org_id.as_str(), session_id))
    }

    async fn live_device_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        since: OffsetDateTime,
        recent: u32,
    ) -> StoreResult<Vec<LiveDeviceSession>> {
        let (org, user) = (org_id.as_str().to_owned(), user_id.to_owned());
        self.read(move |c| devices::live(c, &org, &user, since, recent))
            .await
    }

    async fn set_device_paused(
        &self,
        org_id: &OrgId,
        session_id: &str,
        paused: bool,
    ) -> StoreResult<DeviceSession> {
        let (org, session) = (org_id.as_str().to_owned(), session_id.to_owned());
        self.writer
            .write(move |ctx| devices::set_paused(ctx, &org, &session, paused))
            .await
    }

    async fn rename_device_session(
        &self,
        org_id: &OrgId,
        session_id: &str,
        title: &str,
    ) -> StoreResult<()> {
        let (org, session, title) = (
            org_id.as_str().to_owned(),
            session_id.to_owned(),
            title.to_owned(),
        );
        self.writer
            .write(move |ctx| devices::rename(ctx, &org, &session, &title))
            .await
    }

    async fn queue_device_command(&self, new: NewDeviceCommand) -> StoreResult<DeviceCommand> {
        self.writer.write(move |ctx| devices::queue(ctx, new)).await
    }

    async fn device_command(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<DeviceCommand>> {
        self.lookup(|c| devices::get_command(c, org_id.as_str(), id))
    }

    async fn set_device_command_status(
        &self,
        org_id: &OrgId,
        id: &str,
        status: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<DeviceCommand>> {
        let (org, id, status) = (org_id.as_str().to_owned(), id.to_owned(), status.to_owned());
        self.writer
            .write(move |ctx| devices::set_status(ctx, &org, &id, &status, now))
            .await
    }

    async fn delete_device_session(&self, org_id: &OrgId, session_id: &str) -> StoreResult<bool> {
        let (org, session) = (org_id.as_str().to_owned(), session_id.to_owned());
        self.writer
            .write(move |ctx| devices::delete(ctx, &org, &session))
            .await
    }
}
