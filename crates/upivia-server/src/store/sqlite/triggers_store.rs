//! `TriggerStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, rows, triggers};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::*;

#[async_trait]
impl TriggerStore for SqliteStore {
    async fn create_trigger(&self, new: NewTrigger) -> StoreResult<Trigger> {
        self.writer
            .write(move |ctx| triggers::create(ctx, new))
            .await
    }

    async fn trigger(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Trigger>> {
        self.lookup(|c| triggers::get(c, Some(org_id.as_str()), id))
    }

    async fn trigger_for_fire(&self, id: &str) -> StoreResult<Option<Trigger>> {
        self.lookup(|c| triggers::get(c, None, id))
    }

    async fn triggers(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| triggers::list(c, &org, before.as_deref(), limit))
            .await
    }

    async fn update_trigger(&self, update: UpdateTrigger) -> StoreResult<Trigger> {
        self.writer
            .write(move |ctx| triggers::update(ctx, update))
            .await
    }

    async fn purge_trigger(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |ctx| triggers::purge(ctx, &org, &id, audit, now))
            .await
    }

    async fn due_triggers(
        &self,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>> {
        let (now, stale) = (rows::ts(now), rows::ts(stale_before));
        self.read(move |c| triggers::due(c, &now, &stale, limit))
            .await
    }

    async fn claim_tick(&self, claim: ClaimTick) -> StoreResult<bool> {
        self.writer
            .write(move |ctx| triggers::claim(ctx, claim))
            .await
    }

    async fn reclaim_tick(
        &self,
        id: &str,
        tick: OffsetDateTime,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let id = id.to_owned();
        let (tick, stale, now) = (rows::ts(tick), rows::ts(stale_before), rows::ts(now));
        self.writer
            .write(move |ctx| triggers::reclaim(ctx, &id, &tick, &stale, &now))
            .await
    }

    async fn record_fire(&self, fire: RecordFire) -> StoreResult<()> {
        self.writer
            .write(move |ctx| triggers::record_fire(ctx, fire))
            .await
    }
}
