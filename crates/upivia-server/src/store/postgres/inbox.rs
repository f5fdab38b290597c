//! `InboxStore` on PostgreSQL, with the answers of `sqlite/inbox.rs`. A
//! request is decided by a conditional update of its pending row: of two
//! nodes deciding at once, the second waits for the first's row lock,
//! finds the row no longer pending and changes nothing.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::store::*;

const COLUMNS: &str = "r.id, r.org_id, r.agent_id, COALESCE(a.name, r.agent_name) AS agent_name, \
    a.owner_user_id AS agent_owner_user_id, r.created_by, r.created_by_user_id, r.request_type, \
    r.title, r.body, r.link, r.status, r.response, r.resolved_by_user_id, r.resolved_at, \
    r.created_at, r.updated_at";

const FROM: &str = "agent_requests r LEFT JOIN agents a ON a.id = r.agent_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    agent_id: Option<String>,
    agent_name: Option<String>,
    agent_owner_user_id: Option<String>,
    created_by: String,
    created_by_user_id: Option<String>,
    request_type: String,
    title: String,
    body: String,
    link: Option<String>,
    status: String,
    response: Option<String>,
    resolved_by_user_id: Option<String>,
    resolved_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_request(self) -> StoreResult<AgentRequest> {
        Ok(AgentRequest {
            status: InboxStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("agent request status {:?}", self.status)))?,
            id: self.id,
            org_id: self.org_id,
            agent_id: self.agent_id,
            agent_name: self.agent_name,
            agent_owner_user_id: self.agent_owner_user_id,
            created_by: self.created_by,
            created_by_user_id: self.created_by_user_id,
            request_type: self.request_type,
            title: self.title,
            body: self.body,
            link: self.link,
            response: self.response,
            resolved_by_user_id: self.resolved_by_user_id,
            resolved_at: self.resolved_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

async fn get(conn: &mut PgConnection, org_id: &str, id: &str) -> StoreResult<Option<AgentRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1 AND r.org_id = $2");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_request)
        .transpose()
}

#[async_trait]
impl InboxStore for PgStore {
    async fn create_agent_request(&self, n: NewAgentRequest) -> StoreResult<AgentRequest> {
        let org = n.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO agent_requests (id, org_id, agent_id, agent_name, created_by, \
             created_by_user_id, request_type, title, body, link, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $11)",
        )
        .bind(&n.id)
        .bind(org)
        .bind(n.agent_id.as_ref().map(|a| a.as_str()))
        .bind(&n.agent_name)
        .bind(&n.created_by)
        .bind(n.created_by_user_id.as_ref().map(|u| u.as_str()))
        .bind(&n.request_type)
        .bind(&n.title)
        .bind(&n.body)
        .bind(&n.link)
        .bind(n.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &n.audit, n.now).await?;
        let request = get(&mut tx, org, &n.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(request)
    }

    async fn agent_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<AgentRequest>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), id).await
    }

    async fn agent_requests(&self, q: InboxQuery) -> StoreResult<Vec<AgentRequest>> {
        let (viewer_kind, viewer_id): (i32, &str) = match &q.viewer {
            InboxViewer::Everyone => (0, ""),
            InboxViewer::User(u) => (1, u.as_str()),
            InboxViewer::Agent(a) => (2, a.as_str()),
        };
        let status = match q.status {
            StatusFilter::Pending => "r.status = 'pending'",
            StatusFilter::Decided => "r.status IN ('resolved', 'rejected')",
            StatusFilter::Rejected => "r.status = 'rejected'",
            StatusFilter::All => "TRUE",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.org_id = $1 AND {status} \
             AND ($2 = 0 OR ($2 = 1 AND (r.created_by_user_id = $3 OR a.owner_user_id = $3)) \
                  OR ($2 = 2 AND r.agent_id = $3)) \
             AND ($4::TEXT IS NULL OR r.request_type = $4) \
             ORDER BY r.created_at DESC, r.id COLLATE \"C\" DESC LIMIT $5"
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(q.org_id.as_str())
            .bind(viewer_kind)
            .bind(viewer_id)
            .bind(&q.request_type)
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_request)
            .collect()
    }

    async fn decide_agent_request(&self, d: DecideRequest) -> StoreResult<Decision> {
        let org = d.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE agent_requests SET status = $1, response = $2, resolved_by_user_id = $3, \
             resolved_at = $4, updated_at = $4 \
             WHERE id = $5 AND org_id = $6 AND status = 'pending'",
        )
        .bind(d.status.as_str())
        .bind(&d.response)
        .bind(d.user_id.as_str())
        .bind(d.now)
        .bind(&d.id)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let current = get(&mut tx, org, &d.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(Decision::AlreadyDecided(current));
        }
        audit::insert(&mut tx, &d.audit, d.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(Decision::Decided(current))
    }
}
