//! `DelegationStore` on PostgreSQL, with the answers of
//! `sqlite/delegation.rs`. A status change is a conditional update of the
//! task's row on the status the caller read: of two nodes changing it at
//! once, the second waits for the first's row lock, finds another status
//! and changes nothing. The same update takes the event numbers
//! (`last_seq`), so events of one task never share a seq.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::money::Cents;
use crate::store::*;

const COLUMNS: &str = "id, org_id, parent_agent_id, child_agent_id, objective, budget_cap_cents, \
    permissions, model_id, status, result, last_seq, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    parent_agent_id: String,
    child_agent_id: String,
    objective: String,
    budget_cap_cents: Option<i64>,
    permissions: String,
    model_id: Option<String>,
    status: String,
    result: Option<String>,
    last_seq: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_task(self) -> StoreResult<DelegatedTask> {
        Ok(DelegatedTask {
            status: TaskStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("delegated task status {:?}", self.status)))?,
            permissions: serde_json::from_str(&self.permissions).map_err(|_| {
                corrupt(format!("delegated task permissions {:?}", self.permissions))
            })?,
            result: self
                .result
                .map(|r| {
                    serde_json::from_str(&r)
                        .map_err(|_| corrupt(format!("delegated task result {r:?}")))
                })
                .transpose()?,
            id: self.id,
            org_id: self.org_id,
            parent_agent_id: self.parent_agent_id,
            child_agent_id: self.child_agent_id,
            objective: self.objective,
            budget_cap: self.budget_cap_cents.map(Cents::new),
            model_id: self.model_id,
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    kind: String,
    path: Option<String>,
    detail: String,
    at: OffsetDateTime,
}

impl EventRow {
    fn into_event(self) -> StoreResult<TaskEvent> {
        Ok(TaskEvent {
            kind: TaskEventKind::parse(&self.kind)
                .ok_or_else(|| corrupt(format!("task event kind {:?}", self.kind)))?,
            detail: serde_json::from_str(&self.detail)
                .map_err(|_| corrupt(format!("task event detail {:?}", self.detail)))?,
            seq: self.seq,
            path: self.path,
            at: self.at,
        })
    }
}

async fn get(
    conn: &mut PgConnection,
    org_id: &str,
    task_id: &str,
) -> StoreResult<Option<DelegatedTask>> {
    let sql = format!("SELECT {COLUMNS} FROM delegated_tasks WHERE id = $1 AND org_id = $2");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(task_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_task)
        .transpose()
}

async fn insert_events(
    conn: &mut PgConnection,
    task_id: &str,
    first_seq: i64,
    events: &[NewTaskEvent],
    at: OffsetDateTime,
) -> StoreResult<()> {
    for (seq, event) in (first_seq..).zip(events) {
        sqlx::query(
            "INSERT INTO delegated_task_events (task_id, seq, kind, path, detail, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(task_id)
        .bind(seq)
        .bind(event.kind.as_str())
        .bind(&event.path)
        .bind(event.detail.to_string())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

#[async_trait]
impl DelegationStore for PgStore {
    async fn create_task(&self, n: NewDelegatedTask) -> StoreResult<TaskCreated> {
        let org = n.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let parent: Option<Option<String>> = sqlx::query_scalar(
            "SELECT parent_agent_id FROM agents WHERE id = $1 AND org_id = $2 \
             AND deleted_at IS NULL",
        )
        .bind(n.child_agent_id.as_str())
        .bind(org)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        match parent {
            None => return Ok(TaskCreated::NoChild),
            Some(p) if p.as_deref() != Some(n.parent_agent_id.as_str()) => {
                return Ok(TaskCreated::NotAChild);
            }
            Some(_) => {}
        }
        let permissions = serde_json::to_string(&n.permissions)
            .map_err(|e| StoreError::Corrupt(format!("permissions: {e}")))?;
        sqlx::query(
            "INSERT INTO delegated_tasks (id, org_id, parent_agent_id, child_agent_id, objective, \
             budget_cap_cents, permissions, model_id, status, last_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 1, $9, $9)",
        )
        .bind(&n.id)
        .bind(org)
        .bind(n.parent_agent_id.as_str())
        .bind(n.child_agent_id.as_str())
        .bind(&n.objective)
        .bind(n.budget_cap.map(Cents::get))
        .bind(&permissions)
        .bind(&n.model_id)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let created = NewTaskEvent {
            kind: TaskEventKind::Status,
            path: None,
            detail: serde_json::json!({"to": "pending"}),
        };
        insert_events(&mut tx, &n.id, 1, &[created], n.now).await?;
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let task = get(&mut tx, org, &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(TaskCreated::Created(Box::new(task)))
    }

    async fn task(&self, org_id: &OrgId, task_id: &str) -> StoreResult<Option<DelegatedTask>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), task_id).await
    }

    async fn tasks(&self, q: TaskQuery) -> StoreResult<Vec<DelegatedTask>> {
        let side = match q.direction {
            TaskDirection::Created => "parent_agent_id = $2",
            TaskDirection::Received => "child_agent_id = $2",
            TaskDirection::Both => "(parent_agent_id = $2 OR child_agent_id = $2)",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM delegated_tasks WHERE org_id = $1 AND {side} \
             AND ($3::TEXT IS NULL OR status = $3) \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $4"
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(q.org_id.as_str())
            .bind(q.agent_id.as_str())
            .bind(q.status.map(TaskStatus::as_str))
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_task)
            .collect()
    }

    async fn update_task(&self, u: UpdateTask) -> StoreResult<TaskUpdated> {
        let org = u.org_id.as_str();
        let count = i64::try_from(u.events.len())
            .map_err(|_| StoreError::Corrupt("too many task events".into()))?;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let last: Option<i64> = sqlx::query_scalar(
            "UPDATE delegated_tasks SET status = COALESCE($1, status), \
             result = COALESCE($2, result), last_seq = last_seq + $3, updated_at = $4 \
             WHERE id = $5 AND org_id = $6 AND status = $7 RETURNING last_seq",
        )
        .bind(u.status.map(TaskStatus::as_str))
        .bind(u.result.as_ref().map(json_text))
        .bind(count)
        .bind(u.now)
        .bind(&u.task_id)
        .bind(org)
        .bind(u.expect.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(last) = last else {
            let current = get(&mut tx, org, &u.task_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            tx.rollback().await.map_err(db_error)?;
            return Ok(TaskUpdated::Stale(current));
        };
        insert_events(&mut tx, &u.task_id, last - count + 1, &u.events, u.now).await?;
        audit::insert(&mut tx, &u.audit, u.now).await?;
        let task = get(&mut tx, org, &u.task_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(TaskUpdated::Updated(task))
    }

    async fn append_task_event(
        &self,
        org_id: &OrgId,
        task_id: &str,
        event: NewTaskEvent,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let seq: i64 = sqlx::query_scalar(
            "UPDATE delegated_tasks SET last_seq = last_seq + 1 \
             WHERE id = $1 AND org_id = $2 RETURNING last_seq",
        )
        .bind(task_id)
        .bind(org_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)?;
        insert_events(&mut tx, task_id, seq, &[event], now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(seq)
    }

    async fn task_events(
        &self,
        task_id: &str,
        kind: TaskEventKind,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<TaskEvent>> {
        sqlx::query_as::<_, EventRow>(
            "SELECT seq, kind, path, detail, at FROM delegated_task_events \
             WHERE task_id = $1 AND kind = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(task_id)
        .bind(kind.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(EventRow::into_event)
        .collect()
    }
}
