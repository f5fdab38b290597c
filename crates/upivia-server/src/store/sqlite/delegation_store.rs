//! `DelegationStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, delegation};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl DelegationStore for SqliteStore {
    async fn create_task(&self, new: NewDelegatedTask) -> StoreResult<TaskCreated> {
        self.writer
            .write(move |ctx| delegation::create(ctx, new))
            .await
    }

    async fn task(&self, org_id: &OrgId, task_id: &str) -> StoreResult<Option<DelegatedTask>> {
        self.lookup(|c| delegation::get(c, org_id.as_str(), task_id))
    }

    async fn tasks(&self, query: TaskQuery) -> StoreResult<Vec<DelegatedTask>> {
        self.read(move |c| delegation::list(c, query)).await
    }

    async fn update_task(&self, update: UpdateTask) -> StoreResult<TaskUpdated> {
        self.writer
            .write(move |ctx| delegation::update(ctx, update))
            .await
    }

    async fn append_task_event(
        &self,
        org_id: &OrgId,
        task_id: &str,
        event: NewTaskEvent,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let (org, task) = (org_id.as_str().to_owned(), task_id.to_owned());
        self.writer
            .write(move |ctx| delegation::append_event(ctx, &org, &task, event, now))
            .await
    }

    async fn task_events(
        &self,
        task_id: &str,
        kind: TaskEventKind,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskEvent>> {
        let task = task_id.to_owned();
        self.read(move |c| delegation::events(c, &task, kind, after, limit))
            .await
    }
}
