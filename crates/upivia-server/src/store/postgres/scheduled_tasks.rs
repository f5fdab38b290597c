//! `ScheduledTaskStore` on PostgreSQL, with the answers of
//! `sqlite/scheduled_tasks.rs`. A run is claimed by a conditional update
//! of the task's `next_run_at` and the insert of its run in one
//! transaction: of two nodes, the second finds the tick moved on.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::rows::json;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::store::*;

const COLUMNS: &str = "id, org_id, agent_id, name, description, category, service, operation, \
    payload, schedule, run_at, timezone, status, next_run_at, last_run_at, run_count, created_by, \
    created_at, updated_at";

const RUN_COLUMNS: &str = "r.id, r.task_id, r.org_id, r.agent_id, r.scheduled_for, r.state, \
    r.service_request_id, sr.status AS request_status, r.dispatch_status, r.reason_code, r.error, \
    r.started_at, r.claimed_at, r.finished_at";

const RUN_FROM: &str =
    "scheduled_task_runs r LEFT JOIN service_requests sr ON sr.id = r.service_request_id";

const FILTER: &str = "org_id = $1 AND ($2::TEXT IS NULL OR status = $2) \
    AND ($3::TEXT IS NULL OR agent_id = $3) AND ($4::TEXT IS NULL OR category = $4)";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    agent_id: String,
    name: String,
    description: Option<String>,
    category: Option<String>,
    service: String,
    operation: String,
    payload: String,
    schedule: Option<String>,
    run_at: Option<OffsetDateTime>,
    timezone: String,
    status: String,
    next_run_at: Option<OffsetDateTime>,
    last_run_at: Option<OffsetDateTime>,
    run_count: i64,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_task(self) -> StoreResult<ScheduledTask> {
        Ok(ScheduledTask {
            status: ScheduledTaskStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("scheduled task status {:?}", self.status)))?,
            payload: json("payload", &self.payload)?,
            id: self.id,
            org_id: self.org_id,
            agent_id: self.agent_id,
            name: self.name,
            description: self.description,
            category: self.category,
            service: self.service,
            operation: self.operation,
            schedule: self.schedule,
            run_at: self.run_at,
            timezone: self.timezone,
            next_run_at: self.next_run_at,
            last_run_at: self.last_run_at,
            run_count: self.run_count,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: String,
    task_id: String,
    org_id: String,
    agent_id: String,
    scheduled_for: OffsetDateTime,
    state: String,
    service_request_id: Option<String>,
    request_status: Option<String>,
    dispatch_status: Option<String>,
    reason_code: Option<String>,
    error: Option<String>,
    started_at: OffsetDateTime,
    claimed_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
}

impl RunRow {
    fn into_run(self) -> StoreResult<TaskRun> {
        Ok(TaskRun {
            state: RunState::parse(&self.state)
                .ok_or_else(|| corrupt(format!("task run state {:?}", self.state)))?,
            id: self.id,
            task_id: self.task_id,
            org_id: self.org_id,
            agent_id: self.agent_id,
            scheduled_for: self.scheduled_for,
            service_request_id: self.service_request_id,
            request_status: self.request_status,
            dispatch_status: self.dispatch_status,
            reason_code: self.reason_code,
            error: self.error,
            started_at: self.started_at,
            claimed_at: self.claimed_at,
            finished_at: self.finished_at,
        })
    }
}

async fn get(
    conn: &mut PgConnection,
    org_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<ScheduledTask>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM scheduled_tasks WHERE id = $1 AND ($2::TEXT IS NULL OR org_id = $2)"
    );
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_task)
        .transpose()
}

async fn run(conn: &mut PgConnection, run_id: &str) -> StoreResult<Option<TaskRun>> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.id = $1");
    sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
        .bind(run_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(RunRow::into_run)
        .transpose()
}

fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0)
}

#[async_trait]
impl ScheduledTaskStore for PgStore {
    async fn create_scheduled_task(&self, n: NewScheduledTask) -> StoreResult<ScheduledTask> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO scheduled_tasks (id, org_id, agent_id, name, description, category, \
             service, operation, payload, schedule, run_at, timezone, status, next_run_at, \
             created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $14, $15, $15)",
        )
        .bind(&n.id)
        .bind(n.org_id.as_str())
        .bind(n.agent_id.as_str())
        .bind(&n.name)
        .bind(&n.description)
        .bind(&n.category)
        .bind(&n.service)
        .bind(&n.operation)
        .bind(n.payload.to_string())
        .bind(&n.schedule)
        .bind(n.run_at)
        .bind(&n.timezone)
        .bind(n.next_run_at)
        .bind(&n.created_by)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let task = get(&mut tx, None, &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(task)
    }

    async fn scheduled_task(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ScheduledTask>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, Some(org_id.as_str()), id).await
    }

    async fn scheduled_tasks(
        &self,
        q: ScheduledTaskQuery,
    ) -> StoreResult<(Vec<ScheduledTask>, u64)> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let status = q.status.map(ScheduledTaskStatus::as_str);
        let agent = q.agent_id.as_ref().map(|a| a.as_str());
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM scheduled_tasks WHERE {FILTER}"
        )))
        .bind(q.org_id.as_str())
        .bind(status)
        .bind(agent)
        .bind(&q.category)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM scheduled_tasks WHERE {FILTER} \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $5 OFFSET $6"
        );
        let tasks = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(q.org_id.as_str())
            .bind(status)
            .bind(agent)
            .bind(&q.category)
            .bind(i64::from(q.limit))
            .bind(i64::from(q.offset))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_task)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((tasks, count(total)))
    }

    async fn replace_scheduled_task(&self, r: ReplaceScheduledTask) -> StoreResult<ScheduledTask> {
        let t = &r.task;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE scheduled_tasks SET name = $1, description = $2, category = $3, payload = $4, \
             schedule = $5, run_at = $6, timezone = $7, status = $8, next_run_at = $9, \
             updated_at = $10 WHERE id = $11 AND org_id = $12 AND updated_at = $13",
        )
        .bind(&t.name)
        .bind(&t.description)
        .bind(&t.category)
        .bind(t.payload.to_string())
        .bind(&t.schedule)
        .bind(t.run_at)
        .bind(&t.timezone)
        .bind(t.status.as_str())
        .bind(t.next_run_at)
        .bind(r.now)
        .bind(&t.id)
        .bind(&t.org_id)
        .bind(r.expected_updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return match get(&mut tx, Some(&t.org_id), &t.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict(
                    "the task changed meanwhile (it ran, or someone else changed it); read it and try again"
                        .into(),
                )),
            };
        }
        audit::insert(&mut tx, &r.audit, r.now).await?;
        let task = get(&mut tx, None, &t.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(task)
    }

    async fn delete_scheduled_task(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("DELETE FROM scheduled_task_runs WHERE task_id = $1 AND org_id = $2")
            .bind(id)
            .bind(org_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let changed = sqlx::query("DELETE FROM scheduled_tasks WHERE id = $1 AND org_id = $2")
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

    async fn task_runs(
        &self,
        org_id: &OrgId,
        task_id: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<(Vec<TaskRun>, u64)> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM scheduled_task_runs WHERE task_id = $1 AND org_id = $2",
        )
        .bind(task_id)
        .bind(org_id.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.task_id = $1 AND r.org_id = $2 \
             ORDER BY r.scheduled_for DESC, r.id COLLATE \"C\" DESC LIMIT $3 OFFSET $4"
        );
        let runs = sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
            .bind(task_id)
            .bind(org_id.as_str())
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(RunRow::into_run)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((runs, count(total)))
    }

    async fn due_scheduled_tasks(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ScheduledTask>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM scheduled_tasks WHERE status = 'active' AND next_run_at <= $1 \
             ORDER BY next_run_at LIMIT $2"
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_task)
            .collect()
    }

    async fn stale_task_runs(
        &self,
        stale_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<TaskRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM {RUN_FROM} WHERE r.state = 'pending' \
             AND r.claimed_at <= $1 LIMIT $2"
        );
        sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
            .bind(stale_before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(RunRow::into_run)
            .collect()
    }

    async fn claim_task_run(&self, c: ClaimRun) -> StoreResult<Option<TaskRun>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE scheduled_tasks SET next_run_at = $1, last_run_at = $2, \
             run_count = run_count + 1, \
             status = CASE WHEN $1::TIMESTAMPTZ IS NULL THEN 'completed' ELSE status END, \
             updated_at = $2 WHERE id = $3 AND status = 'active' AND next_run_at = $4",
        )
        .bind(c.next)
        .bind(c.now)
        .bind(&c.task_id)
        .bind(c.tick)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO scheduled_task_runs (id, task_id, org_id, agent_id, scheduled_for, state, \
             started_at, claimed_at) \
             SELECT $1, id, org_id, agent_id, $2, 'pending', $3, $3 FROM scheduled_tasks WHERE id = $4",
        )
        .bind(&c.run_id)
        .bind(c.tick)
        .bind(c.now)
        .bind(&c.task_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let claimed = run(&mut tx, &c.run_id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(claimed)
    }

    async fn reclaim_task_run(
        &self,
        run_id: &str,
        stale_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE scheduled_task_runs SET claimed_at = $1 \
             WHERE id = $2 AND state = 'pending' AND claimed_at <= $3",
        )
        .bind(now)
        .bind(run_id)
        .bind(stale_before)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn finish_task_run(&self, f: FinishRun) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE scheduled_task_runs SET state = $1, service_request_id = $2, \
             dispatch_status = $3, reason_code = $4, error = $5, finished_at = $6 \
             WHERE id = $7 AND state = 'pending'",
        )
        .bind(f.state.as_str())
        .bind(&f.service_request_id)
        .bind(&f.dispatch_status)
        .bind(&f.reason_code)
        .bind(&f.error)
        .bind(f.now)
        .bind(&f.run_id)
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
