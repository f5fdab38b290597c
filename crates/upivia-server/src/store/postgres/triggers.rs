//! `TriggerStore` on PostgreSQL, with the answers of `sqlite/triggers.rs`.
//! Of two nodes claiming one tick, the second waits for the first's row
//! lock, then finds `next_run_at` moved on and changes nothing.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::rows::json;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::*;

const COLUMNS: &str = "id, org_id, agent_id, kind, service, operation, payload_template, \
    schedule_expr, timezone, sealed_secret, disabled, next_run_at, pending_tick, pending_since, \
    last_fired_at, last_request_id, last_dispatch_status, fire_count, created_by, created_at, \
    updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    agent_id: String,
    kind: String,
    service: String,
    operation: String,
    payload_template: String,
    schedule_expr: Option<String>,
    timezone: Option<String>,
    sealed_secret: String,
    disabled: bool,
    next_run_at: Option<OffsetDateTime>,
    pending_tick: Option<OffsetDateTime>,
    pending_since: Option<OffsetDateTime>,
    last_fired_at: Option<OffsetDateTime>,
    last_request_id: Option<String>,
    last_dispatch_status: Option<String>,
    fire_count: i64,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_trigger(self) -> StoreResult<Trigger> {
        Ok(Trigger {
            kind: TriggerKind::parse(&self.kind)
                .ok_or_else(|| corrupt(format!("trigger kind {:?}", self.kind)))?,
            payload_template: json("payload_template", &self.payload_template)?,
            id: self.id,
            org_id: self.org_id,
            agent_id: self.agent_id,
            service: self.service,
            operation: self.operation,
            schedule_expr: self.schedule_expr,
            timezone: self.timezone,
            sealed_secret: self.sealed_secret,
            disabled: self.disabled,
            next_run_at: self.next_run_at,
            pending_tick: self.pending_tick,
            pending_since: self.pending_since,
            last_fired_at: self.last_fired_at,
            last_request_id: self.last_request_id,
            last_dispatch_status: self.last_dispatch_status,
            fire_count: self.fire_count,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

async fn get(
    conn: &mut PgConnection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Trigger>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM triggers WHERE id = $1 AND ($2::TEXT IS NULL OR org_id = $2)"
    );
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_trigger)
        .transpose()
}

fn triggers(rows: Vec<Row>) -> StoreResult<Vec<Trigger>> {
    rows.into_iter().map(Row::into_trigger).collect()
}

#[async_trait]
impl TriggerStore for PgStore {
    async fn create_trigger(&self, n: NewTrigger) -> StoreResult<Trigger> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO triggers (id, org_id, agent_id, kind, service, operation, \
             payload_template, schedule_expr, timezone, sealed_secret, disabled, next_run_at, \
             created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false, $11, $12, $13, $13)",
        )
        .bind(&n.id)
        .bind(n.org_id.as_str())
        .bind(n.agent_id.as_str())
        .bind(n.kind.as_str())
        .bind(&n.service)
        .bind(&n.operation)
        .bind(n.payload_template.to_string())
        .bind(&n.schedule_expr)
        .bind(&n.timezone)
        .bind(&n.sealed_secret)
        .bind(n.next_run_at)
        .bind(&n.created_by)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let trigger = get(&mut tx, None, &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(trigger)
    }

    async fn trigger(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Trigger>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, Some(org_id.as_str()), id).await
    }

    async fn trigger_for_fire(&self, id: &str) -> StoreResult<Option<Trigger>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, None, id).await
    }

    async fn triggers(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM triggers WHERE org_id = $1 \
             AND ($2::TEXT IS NULL OR id COLLATE \"C\" < $2) \
             ORDER BY id COLLATE \"C\" DESC LIMIT $3"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        triggers(rows)
    }

    async fn update_trigger(&self, u: UpdateTrigger) -> StoreResult<Trigger> {
        let (set_next, next) = match u.next_run_at {
            Some(next) => (true, next),
            None => (false, None),
        };
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE triggers SET disabled = COALESCE($1, disabled), \
             schedule_expr = COALESCE($2, schedule_expr), \
             payload_template = COALESCE($3, payload_template), \
             next_run_at = CASE WHEN $4 THEN $5 ELSE next_run_at END, updated_at = $6 \
             WHERE id = $7 AND org_id = $8",
        )
        .bind(u.disabled)
        .bind(&u.schedule_expr)
        .bind(u.payload_template.map(|t| t.to_string()))
        .bind(set_next)
        .bind(next)
        .bind(u.now)
        .bind(&u.id)
        .bind(u.org_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &u.audit, u.now).await?;
        let trigger = get(&mut tx, None, &u.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(trigger)
    }

    async fn purge_trigger(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query("DELETE FROM triggers WHERE id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &audit, now).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn due_triggers(
        &self,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Trigger>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "(SELECT {COLUMNS} FROM triggers WHERE kind = 'cron' AND NOT disabled \
               AND next_run_at <= $1 AND pending_tick IS NULL) \
             UNION ALL \
             (SELECT {COLUMNS} FROM triggers WHERE pending_tick IS NOT NULL \
               AND pending_since <= $2) \
             LIMIT $3"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(now)
            .bind(stale_before)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
        triggers(rows)
    }

    async fn claim_tick(&self, c: ClaimTick) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE triggers SET next_run_at = $1, pending_tick = $2, pending_since = $3 \
             WHERE id = $4 AND kind = 'cron' AND NOT disabled AND next_run_at = $2 \
               AND pending_tick IS NULL",
        )
        .bind(c.next)
        .bind(c.tick)
        .bind(c.now)
        .bind(&c.id)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn reclaim_tick(
        &self,
        id: &str,
        tick: OffsetDateTime,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE triggers SET pending_since = $1 \
             WHERE id = $2 AND pending_tick = $3 AND pending_since <= $4",
        )
        .bind(now)
        .bind(id)
        .bind(tick)
        .bind(stale_before)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn record_fire(&self, f: RecordFire) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = match f.tick {
            Some(tick) => sqlx::query(
                "UPDATE triggers SET pending_tick = NULL, pending_since = NULL, \
                 last_fired_at = $1, last_request_id = $2, last_dispatch_status = $3, \
                 fire_count = fire_count + 1 WHERE id = $4 AND pending_tick = $5",
            )
            .bind(f.now)
            .bind(&f.request_id)
            .bind(&f.dispatch_status)
            .bind(&f.id)
            .bind(tick),
            None => sqlx::query(
                "UPDATE triggers SET last_fired_at = $1, last_request_id = $2, \
                 last_dispatch_status = $3, fire_count = fire_count + 1 WHERE id = $4",
            )
            .bind(f.now)
            .bind(&f.request_id)
            .bind(&f.dispatch_status)
            .bind(&f.id),
        }
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 1
            && let Some(event) = &f.audit
        {
            audit::insert(&mut tx, event, f.now).await?;
        }
        tx.commit().await.map_err(db_error)
    }
}
