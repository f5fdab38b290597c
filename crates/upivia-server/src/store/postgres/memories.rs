//! `MemoryStore` on PostgreSQL, with the answers of `sqlite/memories.rs`.
//! `tsv` is a generated column, so the index can never lag the row. A
//! create locks its agent's row first: concurrent creates of one agent
//! queue there, and each counts what the one before it committed (`FOR NO
//! KEY UPDATE` leaves the key-share locks of inserts referring to the
//! agent alone).

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::search;
use crate::store::*;

const COLUMNS: &str =
    "id, org_id, agent_id, content, tags, archived, created_by, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    agent_id: String,
    content: String,
    tags: String,
    archived: bool,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_memory(self) -> StoreResult<Memory> {
        Ok(Memory {
            tags: serde_json::from_str(&self.tags)
                .map_err(|_| corrupt(format!("memory tags {:?}", self.tags)))?,
            id: self.id,
            org_id: self.org_id,
            agent_id: self.agent_id,
            content: self.content,
            archived: self.archived,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn tags_text(tags: &[String]) -> String {
    serde_json::Value::from(tags).to_string()
}

fn memories(rows: Vec<Row>) -> StoreResult<Vec<Memory>> {
    rows.into_iter().map(Row::into_memory).collect()
}

async fn get(
    conn: &mut PgConnection,
    org_id: &str,
    agent_id: &str,
    id: &str,
) -> StoreResult<Option<Memory>> {
    let sql =
        format!("SELECT {COLUMNS} FROM memories WHERE id = $1 AND agent_id = $2 AND org_id = $3");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(agent_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_memory)
        .transpose()
}

#[async_trait]
impl MemoryStore for PgStore {
    async fn create_memory(&self, n: NewMemory) -> StoreResult<MemoryCreated> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let agent: Option<String> = sqlx::query_scalar(
            "SELECT id FROM agents WHERE id = $1 AND org_id = $2 FOR NO KEY UPDATE",
        )
        .bind(n.agent_id.as_str())
        .bind(n.org_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        if agent.is_none() {
            return Err(StoreError::NotFound);
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memories WHERE agent_id = $1")
            .bind(n.agent_id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if held >= i64::from(n.quota) {
            return Ok(MemoryCreated::QuotaReached);
        }
        sqlx::query(
            "INSERT INTO memories (id, org_id, agent_id, content, tags, archived, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, false, $6, $7, $7)",
        )
        .bind(&n.id)
        .bind(n.org_id.as_str())
        .bind(n.agent_id.as_str())
        .bind(&n.content)
        .bind(tags_text(&n.tags))
        .bind(&n.created_by)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let memory = get(&mut tx, n.org_id.as_str(), n.agent_id.as_str(), &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(MemoryCreated::Created(memory))
    }

    async fn memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
    ) -> StoreResult<Option<Memory>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), agent_id.as_str(), id).await
    }

    async fn memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<Memory>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM memories \
             WHERE agent_id = $1 AND org_id = $2 AND NOT archived \
             ORDER BY seq DESC LIMIT $3"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(agent_id.as_str())
            .bind(org_id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        memories(rows)
    }

    async fn search_memories(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<Memory>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        // Normalisation 1 divides the rank by 1 + log(length), so a long
        // memory does not win by length alone.
        let sql = format!(
            "SELECT {COLUMNS} FROM memories, to_tsquery('english', $3) AS q \
             WHERE agent_id = $1 AND org_id = $2 AND NOT archived AND tsv @@ q \
             ORDER BY ts_rank(tsv, q, 1) DESC, seq DESC LIMIT $4"
        );
        let rows = sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(agent_id.as_str())
            .bind(org_id.as_str())
            .bind(search::pg_tsquery(terms))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        memories(rows)
    }

    async fn update_memory(&self, u: UpdateMemory) -> StoreResult<Memory> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE memories SET content = COALESCE($1, content), tags = COALESCE($2, tags), \
             archived = COALESCE($3, archived), updated_at = $4 \
             WHERE id = $5 AND agent_id = $6 AND org_id = $7",
        )
        .bind(&u.content)
        .bind(u.tags.as_deref().map(tags_text))
        .bind(u.archived)
        .bind(u.now)
        .bind(&u.id)
        .bind(u.agent_id.as_str())
        .bind(u.org_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &u.audit, u.now).await?;
        let memory = get(&mut tx, u.org_id.as_str(), u.agent_id.as_str(), &u.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(memory)
    }

    async fn delete_memory(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed =
            sqlx::query("DELETE FROM memories WHERE id = $1 AND agent_id = $2 AND org_id = $3")
                .bind(id)
                .bind(agent_id.as_str())
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
}
