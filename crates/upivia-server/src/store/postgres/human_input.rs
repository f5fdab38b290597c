//! `HumanInputStore` on PostgreSQL, with the answers of
//! `sqlite/human_input.rs`. Asking under a key is an insert that does
//! nothing on the key's unique index: of two nodes asking at once, the
//! second waits for the first's insert and then finds its row. Answering
//! and cancelling are conditional updates of the pending row.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::store::*;

const COLUMNS: &str = "id, org_id, source, title, prompt_text, assignee_email, workflow_id, \
    workflow_name, workflow_run_id, step_id, room_id, agent_id, dedupe_key, status, answer_text, \
    answered_by_user_id, answered_by_email, created_at, answered_at, cancelled_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    source: String,
    title: String,
    prompt_text: String,
    assignee_email: Option<String>,
    workflow_id: Option<String>,
    workflow_name: Option<String>,
    workflow_run_id: Option<String>,
    step_id: Option<String>,
    room_id: Option<String>,
    agent_id: Option<String>,
    dedupe_key: Option<String>,
    status: String,
    answer_text: Option<String>,
    answered_by_user_id: Option<String>,
    answered_by_email: Option<String>,
    created_at: OffsetDateTime,
    answered_at: Option<OffsetDateTime>,
    cancelled_at: Option<OffsetDateTime>,
}

impl Row {
    fn into_input(self) -> StoreResult<HumanInput> {
        Ok(HumanInput {
            source: HumanInputSource::parse(&self.source)
                .ok_or_else(|| corrupt(format!("human input source {:?}", self.source)))?,
            status: HumanInputStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("human input status {:?}", self.status)))?,
            id: self.id,
            org_id: self.org_id,
            title: self.title,
            prompt_text: self.prompt_text,
            assignee_email: self.assignee_email,
            workflow_id: self.workflow_id,
            workflow_name: self.workflow_name,
            workflow_run_id: self.workflow_run_id,
            step_id: self.step_id,
            room_id: self.room_id,
            agent_id: self.agent_id,
            dedupe_key: self.dedupe_key,
            answer_text: self.answer_text,
            answered_by_user_id: self.answered_by_user_id,
            answered_by_email: self.answered_by_email,
            created_at: self.created_at,
            answered_at: self.answered_at,
            cancelled_at: self.cancelled_at,
        })
    }
}

async fn get(conn: &mut PgConnection, org_id: &str, id: &str) -> StoreResult<Option<HumanInput>> {
    let sql = format!("SELECT {COLUMNS} FROM human_inputs WHERE id = $1 AND org_id = $2");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_input)
        .transpose()
}

async fn by_key(conn: &mut PgConnection, key: &str) -> StoreResult<Option<HumanInput>> {
    let sql = format!("SELECT {COLUMNS} FROM human_inputs WHERE dedupe_key = $1");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_input)
        .transpose()
}

#[async_trait]
impl HumanInputStore for PgStore {
    async fn ask_human(&self, n: NewHumanInput) -> StoreResult<HumanInputAsked> {
        let org = n.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let inserted = sqlx::query(
            "INSERT INTO human_inputs (id, org_id, source, title, prompt_text, assignee_email, \
             workflow_id, workflow_name, workflow_run_id, step_id, room_id, agent_id, dedupe_key, \
             status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', $14) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&n.id)
        .bind(org)
        .bind(n.source.as_str())
        .bind(&n.title)
        .bind(&n.prompt_text)
        .bind(&n.assignee_email)
        .bind(&n.workflow_id)
        .bind(&n.workflow_name)
        .bind(&n.workflow_run_id)
        .bind(&n.step_id)
        .bind(&n.room_id)
        .bind(&n.agent_id)
        .bind(&n.dedupe_key)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(db_error)?;
            let key = n.dedupe_key.as_deref().unwrap_or_default();
            let mut conn = self.pool.acquire().await.map_err(db_error)?;
            let existing = by_key(&mut conn, key).await?.ok_or(StoreError::NotFound)?;
            return Ok(HumanInputAsked::Existing(existing));
        }
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let created = get(&mut tx, org, &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(HumanInputAsked::Created(created))
    }

    async fn human_input(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<HumanInput>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), id).await
    }

    async fn human_input_by_key(&self, dedupe_key: &str) -> StoreResult<Option<HumanInput>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_key(&mut conn, dedupe_key).await
    }

    async fn human_inputs(&self, q: HumanInputQuery) -> StoreResult<Vec<HumanInput>> {
        let (everyone, email) = match &q.viewer {
            HumanInputViewer::Everyone => (true, String::new()),
            HumanInputViewer::Assignee(email) => (false, email.to_lowercase()),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM human_inputs WHERE org_id = $1 \
             AND ($2::TEXT IS NULL OR status = $2) \
             AND ($3 OR assignee_email IS NULL OR lower(assignee_email) = $4) \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $5"
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(q.org_id.as_str())
            .bind(q.status.map(HumanInputStatus::as_str))
            .bind(everyone)
            .bind(email)
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_input)
            .collect()
    }

    async fn human_inputs_of_run(
        &self,
        org_id: &OrgId,
        run_id: &str,
    ) -> StoreResult<Vec<HumanInput>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM human_inputs WHERE workflow_run_id = $1 AND org_id = $2 \
             ORDER BY created_at, id COLLATE \"C\""
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(run_id)
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_input)
            .collect()
    }

    async fn pending_human_inputs(&self, org_id: &OrgId) -> StoreResult<u64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM human_inputs WHERE org_id = $1 AND status = 'pending'",
        )
        .bind(org_id.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        u64::try_from(n).map_err(|_| corrupt(format!("a count of {n}")))
    }

    async fn answer_human_input(&self, a: AnswerHumanInput) -> StoreResult<HumanInputClosed> {
        let org = a.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE human_inputs SET status = 'answered', answer_text = $1, \
             answered_by_user_id = $2, answered_by_email = $3, answered_at = $4 \
             WHERE id = $5 AND org_id = $6 AND status = 'pending'",
        )
        .bind(&a.text)
        .bind(&a.user_id)
        .bind(&a.email)
        .bind(a.now)
        .bind(&a.id)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let current = get(&mut tx, org, &a.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(HumanInputClosed::AlreadyClosed(current));
        }
        audit::insert(&mut tx, &a.audit, a.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(HumanInputClosed::Closed(current))
    }

    async fn cancel_human_input(&self, c: CancelHumanInput) -> StoreResult<HumanInputClosed> {
        let org = c.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE human_inputs SET status = 'cancelled', cancelled_at = $1 \
             WHERE id = $2 AND org_id = $3 AND status = 'pending'",
        )
        .bind(c.now)
        .bind(&c.id)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let current = get(&mut tx, org, &c.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(HumanInputClosed::AlreadyClosed(current));
        }
        audit::insert(&mut tx, &c.audit, c.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(HumanInputClosed::Closed(current))
    }
}
