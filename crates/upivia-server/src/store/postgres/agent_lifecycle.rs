//! `AgentLifecycleStore` on PostgreSQL, with the answers of SQLite's
//! (`sqlite/agent_lifecycle.rs`). Each change locks the agent's row first,
//! so it orders with every other change of that agent.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::agents::get;
use super::rows::storable;
use super::{PgStore, audit, db_error};
use crate::ids::{self, AgentId};
use crate::model::Agent;
use crate::money::Cents;
use crate::store::*;

async fn locked(conn: &mut PgConnection, org_id: &str, agent_id: &str) -> StoreResult<Agent> {
    get(conn, org_id, agent_id, true)
        .await?
        .ok_or(StoreError::NotFound)
}

async fn member(
    conn: &mut PgConnection,
    org_id: &str,
    to: &NewOwner,
) -> StoreResult<Option<String>> {
    let (sql, value) = match to {
        NewOwner::UserId(id) => (
            "SELECT m.user_id FROM memberships m WHERE m.org_id = $1 AND m.user_id = $2",
            id,
        ),
        NewOwner::Email(email) => (
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND lower(u.email) = lower($2)",
            email,
        ),
    };
    if !storable(value) {
        return Ok(None);
    }
    sqlx::query_scalar(sql)
        .bind(org_id)
        .bind(value)
        .fetch_optional(conn)
        .await
        .map_err(db_error)
}

#[async_trait]
impl AgentLifecycleStore for PgStore {
    async fn delete_agent(&self, d: AgentCommand<AgentDeletion>) -> StoreResult<usize> {
        let (org_id, agent_id) = (d.org_id.as_str(), d.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let agent = locked(&mut tx, org_id, agent_id).await?;
        if is_protected(&agent) {
            return Err(protected_refusal());
        }
        let children: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM agents WHERE parent_agent_id = $1 AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if children > 0 {
            return Err(has_children_refusal(children));
        }
        sqlx::query(
            "UPDATE agents SET deleted_at = $3, updated_at = $3 \
             WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .bind(org_id)
        .bind(d.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let removed = sqlx::query("DELETE FROM bindings WHERE agent_id = $1")
            .bind(agent_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        audit::insert(&mut tx, &d.audit, d.now).await?;
        tx.commit().await.map_err(db_error)?;
        usize::try_from(removed).map_err(|_| StoreError::Corrupt("binding count".into()))
    }

    async fn clone_agent(&self, c: AgentCommand<AgentClone>) -> StoreResult<Agent> {
        let (org_id, source_id) = (c.org_id.as_str(), c.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Locked, so no binding of the source changes while it is copied.
        let source = locked(&mut tx, org_id, source_id).await?;
        let mut profile = source.profile.as_object().cloned().unwrap_or_default();
        profile.remove("protected");
        let id = &c.change.id;
        sqlx::query(
            "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, description, status, \
             key_hash, key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, \
             default_model_id, profile, created_at, updated_at, status_set_by_role, \
             monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role) \
             SELECT $1, org_id, team_id, $2, $3, description, status, $4, key_mode, \
             monthly_budget_cents, daily_request_limit, rate_limit_per_minute, default_model_id, \
             $5, $6, $6, status_set_by_role, monthly_budget_set_by_role, \
             daily_request_limit_set_by_role, rate_limit_set_by_role \
             FROM agents WHERE id = $7 AND org_id = $8 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(&c.change.owner_user_id)
        .bind(&c.change.name)
        .bind(&c.change.key_hash)
        .bind(serde_json::Value::Object(profile).to_string())
        .bind(c.now)
        .bind(source_id)
        .bind(org_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let binding_ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM bindings WHERE agent_id = $1 ORDER BY id COLLATE \"C\"",
        )
        .bind(source_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        for old in binding_ids {
            sqlx::query(
                "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, created_at, updated_at, enabled, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role) \
                 SELECT $1, $2, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, $3, $3, enabled, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role FROM bindings WHERE id = $4",
            )
            .bind(ids::new_id(ids::BINDING))
            .bind(id)
            .bind(c.now)
            .bind(&old)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        audit::insert(&mut tx, &c.audit, c.now).await?;
        audit::insert(&mut tx, &c.change.created, c.now).await?;
        let agent = get(&mut tx, org_id, id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn transfer_agent(&self, t: AgentCommand<AgentTransfer>) -> StoreResult<Agent> {
        let (org_id, agent_id) = (t.org_id.as_str(), t.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        locked(&mut tx, org_id, agent_id).await?;
        let Some(owner) = member(&mut tx, org_id, &t.change.to).await? else {
            return Err(StoreError::NotFound);
        };
        sqlx::query(
            "UPDATE agents SET owner_user_id = $3, key_hash = $4, updated_at = $5 \
             WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .bind(org_id)
        .bind(&owner)
        .bind(&t.change.key_hash)
        .bind(t.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let mut event = t.audit;
        if let serde_json::Value::Object(details) = &mut event.details {
            details.insert("to_user_id".into(), owner.into());
        }
        audit::insert(&mut tx, &event, t.now).await?;
        let agent = get(&mut tx, org_id, agent_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn spawn_agent(&self, s: AgentCommand<AgentSpawn>) -> StoreResult<Spawned> {
        super::agent_spawn::spawn(self, s).await
    }

    async fn agent_requests(&self, q: AgentRequestQuery) -> StoreResult<Vec<RequestSample>> {
        let rows = sqlx::query(
            "SELECT id, service, operation, status, reason_code, cost_cents, created_at, \
             started_at, updated_at FROM service_requests \
             WHERE agent_id = $1 AND ($2::TIMESTAMPTZ IS NULL OR created_at >= $2) \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $3",
        )
        .bind(q.agent_id.as_str())
        .bind(q.since)
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(RequestSample {
                    id: r.try_get("id").map_err(db_error)?,
                    service: r.try_get("service").map_err(db_error)?,
                    operation: r.try_get("operation").map_err(db_error)?,
                    status: r.try_get("status").map_err(db_error)?,
                    reason_code: r.try_get("reason_code").map_err(db_error)?,
                    cost: Cents::new(r.try_get("cost_cents").map_err(db_error)?),
                    created_at: r.try_get("created_at").map_err(db_error)?,
                    started_at: r.try_get("started_at").map_err(db_error)?,
                    updated_at: r.try_get("updated_at").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn agent_spend(
        &self,
        agent_id: &AgentId,
        month_start: OffsetDateTime,
    ) -> StoreResult<AgentSpend> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS requests, \
             COUNT(*) FILTER (WHERE status = 'executed') AS executed, \
             COUNT(*) FILTER (WHERE status = 'blocked') AS blocked, \
             COUNT(*) FILTER (WHERE status = 'failed') AS failed, \
             COALESCE(SUM(cost_cents) FILTER (WHERE status = 'executed'), 0)::BIGINT AS total, \
             COALESCE(SUM(cost_cents) FILTER (WHERE status = 'executed' AND created_at >= $2), 0)::BIGINT \
               AS month, \
             MAX(created_at) AS last_at \
             FROM service_requests WHERE agent_id = $1",
        )
        .bind(agent_id.as_str())
        .bind(month_start)
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(AgentSpend {
            requests: r.try_get("requests").map_err(db_error)?,
            executed: r.try_get("executed").map_err(db_error)?,
            blocked: r.try_get("blocked").map_err(db_error)?,
            failed: r.try_get("failed").map_err(db_error)?,
            total: Cents::new(r.try_get("total").map_err(db_error)?),
            month: Cents::new(r.try_get("month").map_err(db_error)?),
            last_request_at: r.try_get("last_at").map_err(db_error)?,
        })
    }
}
