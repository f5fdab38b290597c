//! `ScheduledTaskStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, rows, scheduled_tasks as tasks};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::*;

#[async_trait]
impl ScheduledTaskStore for SqliteStore {
    async fn create_scheduled_task(&self, new: NewScheduledTask) -> StoreResult<ScheduledTask> {
        self.writer.write(move |ctx| tasks::create(ctx, new)).await
    }

    async fn scheduled_task(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ScheduledTask>> {
        self.lookup(|c| tasks::get(c, Some(org_id.as_str()), id))
    }

    async fn scheduled_tasks(
        &self,
        query: ScheduledTaskQuery,
    ) -> StoreResult<(Vec<ScheduledTask>, u64)> {
        self.read(move |c| tasks::list(c, query)).await
    }

    async fn replace_scheduled_task(
        &self,
        replace: ReplaceScheduledTask,
    ) -> StoreResult<ScheduledTask> {
        self.writer
            .write(move |ctx| tasks::replace(ctx, replace))
            .await
    }

    async fn delete_scheduled_task(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |ctx| tasks::delete(ctx, &org, &id, audit, now))
            .await
    }

    async fn task_runs(
        &self,
        org_id: &OrgId,
        task_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<TaskRun>, u64)> {
        let (org, task) = (org_id.as_str().to_owned(), task_id.to_owned());
        self.read(move |c| tasks::runs(c, &org, &task, limit, offset))
            .await
    }

    async fn due_scheduled_tasks(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ScheduledTask>> {
        let now = rows::ts(now);
        self.read(move |c| tasks::due(c, &now, limit)).await
    }

    async fn stale_task_runs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<TaskRun>> {
        let stale = rows::ts(stale_before);
        self.read(move |c| tasks::stale_runs(c, &stale, limit))
            .await
    }

    async fn claim_task_run(&self, claim: ClaimRun) -> StoreResult<Option<TaskRun>> {
        self.writer.write(move |ctx| tasks::claim(ctx, claim)).await
    }

    async fn reclaim_task_run(
        &self,
        run_id: &str,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let run_id = run_id.to_owned();
        let (stale, now) = (rows::ts(stale_before), rows::ts(now));
        self.writer
            .write(move |ctx| tasks::reclaim(ctx, &run_id, &stale, &now))
            .await
    }

    async fn finish_task_run(&self, finish: FinishRun) -> StoreResult<()> {
        self.writer
            .write(move |ctx| tasks::finish(ctx, finish))
            .await
    }
}
