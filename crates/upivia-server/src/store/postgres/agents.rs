//! `AgentStore` on PostgreSQL: agents and their service bindings, with
//! the answers of the SQLite store (`sqlite/agents.rs`). A change reads
//! the agent `FOR UPDATE` before comparing what the caller checked
//! (`expect`), so two nodes changing one agent take turns, and the second
//! sees the first's change and is refused rather than overwriting it.
//! Lists sort by byte order (`COLLATE "C"`), as SQLite's do, whatever the
//! database's collation.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};

use super::agent_rows::{AGENT_COLUMNS, AgentRow, BINDING_COLUMNS, BindingRow};
use super::{PgStore, audit, db_error};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, AuditEvent, Binding};
use crate::store::*;

fn changed_meanwhile() -> StoreError {
    StoreError::Conflict(
        "these settings changed while the change was being checked; read them again and retry"
            .into(),
    )
}

/// One live agent of the organisation; `lock` takes its row for the
/// rest of the transaction.
pub(super) async fn get(
    conn: &mut PgConnection,
    org_id: &str,
    agent_id: &str,
    lock: bool,
) -> StoreResult<Option<Agent>> {
    let sql = format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, AgentRow>(AssertSqlSafe(sql))
        .bind(agent_id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(AgentRow::into_agent)
        .transpose()
}

async fn get_locked(conn: &mut PgConnection, org_id: &str, agent_id: &str) -> StoreResult<Agent> {
    get(conn, org_id, agent_id, true)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Every binding row of one service, disabled ones too.
async fn service_bindings(
    conn: &mut PgConnection,
    agent_id: &str,
    service_id: &str,
) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {BINDING_COLUMNS} FROM bindings WHERE agent_id = $1 AND service_id = $2 \
         ORDER BY operation COLLATE \"C\""
    );
    sqlx::query_as::<_, BindingRow>(AssertSqlSafe(sql))
        .bind(agent_id)
        .bind(service_id)
        .fetch_all(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(BindingRow::into_binding)
        .collect()
}

async fn enabled_bindings(conn: &mut PgConnection, agent_id: &str) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {BINDING_COLUMNS} FROM bindings WHERE agent_id = $1 AND enabled \
         ORDER BY service_id COLLATE \"C\", operation COLLATE \"C\""
    );
    sqlx::query_as::<_, BindingRow>(AssertSqlSafe(sql))
        .bind(agent_id)
        .fetch_all(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(BindingRow::into_binding)
        .collect()
}

fn opt_u32(v: Option<u32>) -> Option<i64> {
    v.map(i64::from)
}

fn opt_cents(v: Option<crate::money::Cents>) -> Option<i64> {
    v.map(crate::money::Cents::get)
}

const INSERT_AGENT: &str = "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, \
    description, status, key_hash, key_mode, monthly_budget_cents, daily_request_limit, \
    rate_limit_per_minute, default_model_id, profile, created_at, updated_at, status_set_by_role, \
    monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role) \
    VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $12, $13, $14, $14, \
    $15, $16, $17, $18)";

const UPDATE_AGENT: &str = "UPDATE agents SET name = $3, description = $4, status = $5, \
    default_model_id = $6, daily_request_limit = $7, rate_limit_per_minute = $8, profile = $9, \
    updated_at = $10, status_set_by_role = $11, monthly_budget_set_by_role = $12, \
    daily_request_limit_set_by_role = $13, rate_limit_set_by_role = $14 \
    WHERE id = $1 AND org_id = $2";

const UPSERT_BINDING: &str = "INSERT INTO bindings (id, agent_id, service_id, operation, \
    require_approval, approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
    daily_request_limit, rate_limit_per_minute, created_at, updated_at, enabled, \
    enabled_set_by_role, require_approval_set_by_role, approval_threshold_set_by_role, \
    max_cost_set_by_role, monthly_budget_set_by_role, daily_request_limit_set_by_role, \
    rate_limit_set_by_role) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, TRUE, $12, $13, $14, $15, $16, \
    $17, $18) \
    ON CONFLICT (agent_id, service_id, operation) DO UPDATE SET \
    require_approval = excluded.require_approval, \
    approval_threshold_cents = excluded.approval_threshold_cents, \
    max_cost_cents = excluded.max_cost_cents, \
    monthly_budget_cents = excluded.monthly_budget_cents, \
    daily_request_limit = excluded.daily_request_limit, \
    rate_limit_per_minute = excluded.rate_limit_per_minute, \
    updated_at = excluded.updated_at, enabled = TRUE, \
    enabled_set_by_role = excluded.enabled_set_by_role, \
    require_approval_set_by_role = excluded.require_approval_set_by_role, \
    approval_threshold_set_by_role = excluded.approval_threshold_set_by_role, \
    max_cost_set_by_role = excluded.max_cost_set_by_role, \
    monthly_budget_set_by_role = excluded.monthly_budget_set_by_role, \
    daily_request_limit_set_by_role = excluded.daily_request_limit_set_by_role, \
    rate_limit_set_by_role = excluded.rate_limit_set_by_role";

/// The patch applied to the agent as read, as SQLite's `agents::update`.
fn patched(mut agent: Agent, patch: AgentPatch) -> Agent {
    if let Some(set_by) = patch.set_by {
        agent.set_by = set_by;
    }
    if let Some(name) = patch.name {
        agent.name = name;
    }
    if let Some(description) = patch.description {
        agent.description = description;
    }
    if let Some(status) = patch.status {
        agent.status = status;
    }
    if let Some(model) = patch.default_model_id {
        agent.default_model_id = model;
    }
    if let Some(limit) = patch.daily_request_limit {
        agent.daily_request_limit = limit;
    }
    if let Some(limit) = patch.rate_limit_per_minute {
        agent.rate_limit_per_minute = limit;
    }
    if !patch.profile.is_empty() {
        let mut profile = agent.profile.as_object().cloned().unwrap_or_default();
        for (key, value) in patch.profile {
            if value.is_null() {
                profile.remove(&key);
            } else {
                profile.insert(key, value);
            }
        }
        agent.profile = serde_json::Value::Object(profile);
    }
    agent
}

#[async_trait]
impl AgentStore for PgStore {
    async fn agent_by_key(&self, key_hash: &str) -> StoreResult<Option<Agent>> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE key_hash = $1 AND deleted_at IS NULL"
        );
        sqlx::query_as::<_, AgentRow>(AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(AgentRow::into_agent)
            .transpose()
    }

    async fn create_agent(&self, a: NewAgent) -> StoreResult<Agent> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if let Some(team) = &a.team_id {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM teams WHERE id = $1 AND org_id = $2")
                    .bind(team)
                    .bind(&a.org_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        let id = ids::new_id(ids::AGENT);
        sqlx::query(INSERT_AGENT)
            .bind(&id)
            .bind(&a.org_id)
            .bind(&a.team_id)
            .bind(&a.owner_user_id)
            .bind(&a.name)
            .bind(&a.description)
            .bind(&a.key_hash)
            .bind(a.key_mode.as_str())
            .bind(opt_cents(a.monthly_budget))
            .bind(opt_u32(a.daily_request_limit))
            .bind(opt_u32(a.rate_limit_per_minute))
            .bind(&a.default_model_id)
            .bind(a.profile.to_string())
            .bind(a.now)
            .bind(a.set_by.status.as_str())
            .bind(a.set_by.monthly_budget.as_str())
            .bind(a.set_by.daily_request_limit.as_str())
            .bind(a.set_by.rate_limit.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let event = AuditEvent::new(&a.org_id, "agent.created", a.actor.clone())
            .with_agent(&id)
            .with_details(serde_json::json!({"name": a.name, "key_mode": a.key_mode.as_str()}));
        audit::insert(&mut tx, &event, a.now).await?;
        let agent = get(&mut tx, &a.org_id, &id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn agent(&self, org_id: &OrgId, agent_id: &AgentId) -> StoreResult<Option<Agent>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get(&mut conn, org_id.as_str(), agent_id.as_str(), false).await
    }

    async fn agents(&self, org_id: &OrgId, team_id: Option<&str>) -> StoreResult<Vec<Agent>> {
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE org_id = $1 AND deleted_at IS NULL \
             AND ($2::TEXT IS NULL OR team_id = $2) ORDER BY created_at, id COLLATE \"C\""
        );
        sqlx::query_as::<_, AgentRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(team_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(AgentRow::into_agent)
            .collect()
    }

    async fn update_agent(&self, u: AgentCommand<AgentPatch>) -> StoreResult<Agent> {
        let (org_id, agent_id) = (u.org_id.as_str(), u.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let agent = get_locked(&mut tx, org_id, agent_id).await?;
        if u.change.expect.is_some_and(|e| e != agent.rules()) {
            return Err(changed_meanwhile());
        }
        let agent = patched(agent, u.change);
        sqlx::query(UPDATE_AGENT)
            .bind(&agent.id)
            .bind(org_id)
            .bind(&agent.name)
            .bind(&agent.description)
            .bind(agent.status.as_str())
            .bind(&agent.default_model_id)
            .bind(opt_u32(agent.daily_request_limit))
            .bind(opt_u32(agent.rate_limit_per_minute))
            .bind(agent.profile.to_string())
            .bind(u.now)
            .bind(agent.set_by.status.as_str())
            .bind(agent.set_by.monthly_budget.as_str())
            .bind(agent.set_by.daily_request_limit.as_str())
            .bind(agent.set_by.rate_limit.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        audit::insert(&mut tx, &u.audit, u.now).await?;
        let agent = get(&mut tx, org_id, agent_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn set_agent_budget(&self, b: AgentCommand<BudgetChange>) -> StoreResult<Agent> {
        let (org_id, agent_id) = (b.org_id.as_str(), b.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let agent = get_locked(&mut tx, org_id, agent_id).await?;
        if agent.rules() != b.change.expect {
            return Err(changed_meanwhile());
        }
        sqlx::query(
            "UPDATE agents SET monthly_budget_cents = $3, monthly_budget_set_by_role = $4, \
             updated_at = $5 WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .bind(org_id)
        .bind(opt_cents(b.change.monthly_budget))
        .bind(b.change.set_by.as_str())
        .bind(b.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &b.audit, b.now).await?;
        let agent = get(&mut tx, org_id, agent_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn rotate_agent_key(&self, r: AgentCommand<KeyRotation>) -> StoreResult<Agent> {
        let (org_id, agent_id) = (r.org_id.as_str(), r.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE agents SET key_hash = $3, key_mode = $4, updated_at = $5 \
             WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL",
        )
        .bind(agent_id)
        .bind(org_id)
        .bind(&r.change.key_hash)
        .bind(r.change.key_mode.as_str())
        .bind(r.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &r.audit, r.now).await?;
        let agent = get(&mut tx, org_id, agent_id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(agent)
    }

    async fn bindings(&self, agent_id: &AgentId) -> StoreResult<Vec<Binding>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        enabled_bindings(&mut conn, agent_id.as_str()).await
    }

    async fn service_bindings(
        &self,
        agent_id: &AgentId,
        service_id: &str,
    ) -> StoreResult<Vec<Binding>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        service_bindings(&mut conn, agent_id.as_str(), service_id).await
    }

    async fn upsert_bindings(&self, u: AgentCommand<BindingUpsert>) -> StoreResult<Vec<Binding>> {
        let (org_id, agent_id) = (u.org_id.as_str(), u.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The agent's row orders concurrent changes to its bindings: the
        // second reads the rows the first wrote (each statement of a READ
        // COMMITTED transaction sees what committed before it).
        get_locked(&mut tx, org_id, agent_id).await?;
        let upsert = u.change;
        let current = service_bindings(&mut tx, agent_id, &upsert.service_id).await?;
        let s = &upsert.settings;
        for write in &upsert.operations {
            let operation = write.operation.as_deref().unwrap_or("*");
            let row = current
                .iter()
                .find(|b| b.operation.as_deref().unwrap_or("*") == operation);
            if row.map(Binding::rules) != write.expect {
                return Err(changed_meanwhile());
            }
            let by = &write.set_by;
            sqlx::query(UPSERT_BINDING)
                .bind(ids::new_id(ids::BINDING))
                .bind(agent_id)
                .bind(&upsert.service_id)
                .bind(operation)
                .bind(s.require_approval)
                .bind(opt_cents(s.approval_threshold))
                .bind(opt_cents(s.max_cost))
                .bind(opt_cents(s.monthly_budget))
                .bind(opt_u32(s.daily_request_limit))
                .bind(opt_u32(s.rate_limit_per_minute))
                .bind(u.now)
                .bind(by.enabled.as_str())
                .bind(by.require_approval.as_str())
                .bind(by.approval_threshold.as_str())
                .bind(by.max_cost.as_str())
                .bind(by.monthly_budget.as_str())
                .bind(by.daily_request_limit.as_str())
                .bind(by.rate_limit.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        audit::insert(&mut tx, &u.audit, u.now).await?;
        let all = enabled_bindings(&mut tx, agent_id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(all
            .into_iter()
            .filter(|b| b.service_id == upsert.service_id)
            .collect())
    }

    async fn delete_bindings(&self, d: AgentCommand<BindingRemoval>) -> StoreResult<usize> {
        let (org_id, agent_id) = (d.org_id.as_str(), d.agent_id.as_str());
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        get_locked(&mut tx, org_id, agent_id).await?;
        let enabled: Vec<Binding> = service_bindings(&mut tx, agent_id, &d.change.service_id)
            .await?
            .into_iter()
            .filter(|b| b.enabled)
            .collect();
        for b in &enabled {
            sqlx::query(
                "UPDATE bindings SET enabled = FALSE, enabled_set_by_role = $2, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(&b.id)
            // Enabled is a binding's loosest state, so the disabler takes
            // it over (governance::roles::setter_after).
            .bind(d.change.caller.as_str())
            .bind(d.now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        audit::insert(&mut tx, &d.audit, d.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(enabled.len())
    }
}
