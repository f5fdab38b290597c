//! `AgentLifecycleStore` on SQLite: deleting, cloning and transferring
//! agents (jobs of the writer, cold: no cache is touched), and the reads
//! behind health and activity (on the read pool).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{SqliteStore, agents, audit, db_error, rows};
use crate::ids::{self, AgentId};
use crate::model::Agent;
use crate::money::Cents;
use crate::store::*;

fn delete(ctx: &mut WriteCtx<'_>, d: AgentCommand<AgentDeletion>) -> StoreResult<usize> {
    let (org_id, agent_id) = (d.org_id.as_str(), d.agent_id.as_str());
    let agent = agents::get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)?;
    if is_protected(&agent) {
        return Err(protected_refusal());
    }
    let children: i64 = ctx
        .conn
        .query_row(
            "SELECT COUNT(*) FROM agents WHERE parent_agent_id = ?1 AND deleted_at IS NULL",
            [agent_id],
            |r| r.get(0),
        )
        .map_err(db_error)?;
    if children > 0 {
        return Err(has_children_refusal(children));
    }
    let now = rows::ts(d.now);
    ctx.conn
        .execute(
            "UPDATE agents SET deleted_at = ?3, updated_at = ?3 \
             WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
            params![agent_id, org_id, now],
        )
        .map_err(db_error)?;
    let removed = ctx
        .conn
        .execute("DELETE FROM bindings WHERE agent_id = ?1", [agent_id])
        .map_err(db_error)?;
    audit::append(ctx, d.audit, d.now)?;
    Ok(removed)
}

fn clone(ctx: &mut WriteCtx<'_>, c: AgentCommand<AgentClone>) -> StoreResult<Agent> {
    let (org_id, source_id) = (c.org_id.as_str(), c.agent_id.as_str());
    let source = agents::get(ctx.conn, org_id, source_id)?.ok_or(StoreError::NotFound)?;
    let mut profile = source.profile.as_object().cloned().unwrap_or_default();
    profile.remove("protected");
    let id = c.change.id.clone();
    let now = rows::ts(c.now);
    ctx.conn
        .execute(
            "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, description, status, \
             key_hash, key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, \
             default_model_id, profile, created_at, updated_at, status_set_by_role, \
             monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role) \
             SELECT ?1, org_id, team_id, ?2, ?3, description, status, ?4, key_mode, \
             monthly_budget_cents, daily_request_limit, rate_limit_per_minute, default_model_id, \
             ?5, ?6, ?6, status_set_by_role, monthly_budget_set_by_role, \
             daily_request_limit_set_by_role, rate_limit_set_by_role \
             FROM agents WHERE id = ?7 AND org_id = ?8 AND deleted_at IS NULL",
            params![
                id,
                c.change.owner_user_id,
                c.change.name,
                c.change.key_hash,
                serde_json::Value::Object(profile).to_string(),
                now,
                source_id,
                org_id
            ],
        )
        .map_err(db_error)?;
    let binding_ids: Vec<String> = ctx
        .conn
        .prepare_cached("SELECT id FROM bindings WHERE agent_id = ?1 ORDER BY id")
        .and_then(|mut s| {
            s.query_map([source_id], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()
        })
        .map_err(db_error)?;
    for old in binding_ids {
        ctx.conn
            .execute(
                "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, created_at, updated_at, enabled, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role) \
                 SELECT ?1, ?2, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, ?3, ?3, enabled, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role FROM bindings WHERE id = ?4",
                params![ids::new_id(ids::BINDING), id, now, old],
            )
            .map_err(db_error)?;
    }
    audit::append(ctx, c.audit, c.now)?;
    audit::append(ctx, c.change.created, c.now)?;
    agents::get(ctx.conn, org_id, &id)?.ok_or(StoreError::NotFound)
}

fn member(conn: &Connection, org_id: &str, to: &NewOwner) -> StoreResult<Option<String>> {
    let (sql, value) = match to {
        NewOwner::UserId(id) => (
            "SELECT m.user_id FROM memberships m WHERE m.org_id = ?1 AND m.user_id = ?2",
            id,
        ),
        NewOwner::Email(email) => (
            "SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ?1 AND lower(u.email) = lower(?2)",
            email,
        ),
    };
    conn.query_row(sql, params![org_id, value], |r| r.get(0))
        .optional()
        .map_err(db_error)
}

fn transfer(ctx: &mut WriteCtx<'_>, t: AgentCommand<AgentTransfer>) -> StoreResult<Agent> {
    let (org_id, agent_id) = (t.org_id.as_str(), t.agent_id.as_str());
    agents::get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)?;
    let Some(owner) = member(ctx.conn, org_id, &t.change.to)? else {
        return Err(StoreError::NotFound);
    };
    ctx.conn
        .execute(
            "UPDATE agents SET owner_user_id = ?3, key_hash = ?4, updated_at = ?5 \
             WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
            params![agent_id, org_id, owner, t.change.key_hash, rows::ts(t.now)],
        )
        .map_err(db_error)?;
    let mut event = t.audit;
    if let serde_json::Value::Object(details) = &mut event.details {
        details.insert("to_user_id".into(), owner.into());
    }
    audit::append(ctx, event, t.now)?;
    agents::get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)
}

fn sample(r: &rusqlite::Row<'_>) -> rusqlite::Result<RequestSample> {
    Ok(RequestSample {
        id: r.get("id")?,
        service: r.get("service")?,
        operation: r.get("operation")?,
        status: r.get("status")?,
        reason_code: r.get("reason_code")?,
        cost: rows::cents_col(r, "cost_cents")?,
        created_at: rows::time_col(r, "created_at")?,
        started_at: rows::opt_time_col(r, "started_at")?,
        updated_at: rows::time_col(r, "updated_at")?,
    })
}

fn requests(conn: &Connection, q: &AgentRequestQuery) -> StoreResult<Vec<RequestSample>> {
    let since = q.since.map(rows::ts);
    conn.prepare_cached(
        "SELECT id, service, operation, status, reason_code, cost_cents, created_at, started_at, updated_at \
         FROM service_requests WHERE agent_id = ?1 AND (?2 IS NULL OR created_at >= ?2) \
         ORDER BY created_at DESC, id DESC LIMIT ?3",
    )
    .and_then(|mut s| {
        s.query_map(params![q.agent_id.as_str(), since, q.limit], sample)?
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(db_error)
}

fn spend(conn: &Connection, agent_id: &str, month: OffsetDateTime) -> StoreResult<AgentSpend> {
    conn.query_row(
        "SELECT COUNT(*) AS requests, \
         COALESCE(SUM(status = 'executed'), 0) AS executed, \
         COALESCE(SUM(status = 'blocked'), 0) AS blocked, \
         COALESCE(SUM(status = 'failed'), 0) AS failed, \
         COALESCE(SUM(CASE WHEN status = 'executed' THEN cost_cents END), 0) AS total, \
         COALESCE(SUM(CASE WHEN status = 'executed' AND created_at >= ?2 THEN cost_cents END), 0) \
           AS month, \
         MAX(created_at) AS last_at \
         FROM service_requests WHERE agent_id = ?1",
        params![agent_id, rows::ts(month)],
        |r| {
            Ok(AgentSpend {
                requests: r.get("requests")?,
                executed: r.get("executed")?,
                blocked: r.get("blocked")?,
                failed: r.get("failed")?,
                total: Cents::new(r.get("total")?),
                month: Cents::new(r.get("month")?),
                last_request_at: rows::opt_time_col(r, "last_at")?,
            })
        },
    )
    .map_err(db_error)
}

#[async_trait]
impl AgentLifecycleStore for SqliteStore {
    async fn delete_agent(&self, d: AgentCommand<AgentDeletion>) -> StoreResult<usize> {
        self.writer.write(move |ctx| delete(ctx, d)).await
    }

    async fn clone_agent(&self, c: AgentCommand<AgentClone>) -> StoreResult<Agent> {
        self.writer.write(move |ctx| clone(ctx, c)).await
    }

    async fn transfer_agent(&self, t: AgentCommand<AgentTransfer>) -> StoreResult<Agent> {
        self.writer.write(move |ctx| transfer(ctx, t)).await
    }

    async fn spawn_agent(&self, s: AgentCommand<AgentSpawn>) -> StoreResult<Spawned> {
        self.writer
            .write(move |ctx| super::agent_spawn::spawn(ctx, s))
            .await
    }

    async fn agent_requests(&self, q: AgentRequestQuery) -> StoreResult<Vec<RequestSample>> {
        self.read(move |c| requests(c, &q)).await
    }

    async fn agent_spend(
        &self,
        agent_id: &AgentId,
        month_start: OffsetDateTime,
    ) -> StoreResult<AgentSpend> {
        let id = agent_id.clone();
        self.read(move |c| spend(c, id.as_str(), month_start)).await
    }
}
