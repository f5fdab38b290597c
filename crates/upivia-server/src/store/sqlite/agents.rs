//! Agents and their service bindings.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::ids;
use crate::model::{Agent, AuditEvent, Binding, KeyMode};
use crate::money::Cents;
use crate::store::{AgentPatch, BindingUpsert, NewAgent, StoreError, StoreResult};

pub(super) fn by_key(conn: &Connection, key_hash: &str) -> StoreResult<Option<Agent>> {
    let sql = format!(
        "SELECT {} FROM agents WHERE key_hash = ?1 AND deleted_at IS NULL",
        rows::AGENT_COLUMNS
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([key_hash], rows::agent).optional())
        .map_err(db_error)
}

pub(super) fn get(conn: &Connection, org_id: &str, agent_id: &str) -> StoreResult<Option<Agent>> {
    let sql = format!(
        "SELECT {} FROM agents WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
        rows::AGENT_COLUMNS
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params![agent_id, org_id], rows::agent)
                .optional()
        })
        .map_err(db_error)
}

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    team_id: Option<&str>,
) -> StoreResult<Vec<Agent>> {
    let sql = format!(
        "SELECT {} FROM agents WHERE org_id = ?1 AND deleted_at IS NULL \
         AND (?2 IS NULL OR team_id = ?2) ORDER BY created_at, id",
        rows::AGENT_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let out = stmt
        .query_map(params![org_id, team_id], rows::agent)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

pub(super) fn create(ctx: &mut WriteCtx<'_>, a: NewAgent) -> StoreResult<Agent> {
    let id = ids::new_id(ids::AGENT);
    let now = rows::ts(a.now);
    if let Some(team) = &a.team_id {
        let exists: Option<String> = ctx
            .conn
            .query_row(
                "SELECT id FROM teams WHERE id = ?1 AND org_id = ?2",
                params![team, a.org_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
    }
    ctx.conn
        .execute(
            "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, description, status, key_hash, \
             key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, default_model_id, \
             profile, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
            params![
                id,
                a.org_id,
                a.team_id,
                a.owner_user_id,
                a.name,
                a.description,
                a.key_hash,
                a.key_mode.as_str(),
                rows::opt_i64(a.monthly_budget),
                a.daily_request_limit,
                a.rate_limit_per_minute,
                a.default_model_id,
                a.profile.to_string(),
                now
            ],
        )
        .map_err(db_error)?;
    audit::append(
        ctx,
        AuditEvent::new(&a.org_id, "agent.created", a.actor.clone())
            .with_agent(&id)
            .with_details(serde_json::json!({"name": a.name, "key_mode": a.key_mode.as_str()})),
        a.now,
    )?;
    get(ctx.conn, &a.org_id, &id)?.ok_or(StoreError::NotFound)
}

pub(super) fn update(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    patch: AgentPatch,
    now: OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Agent> {
    let mut agent = get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)?;
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
    ctx.conn
        .execute(
            "UPDATE agents SET name = ?3, description = ?4, status = ?5, default_model_id = ?6, \
             daily_request_limit = ?7, rate_limit_per_minute = ?8, profile = ?9, updated_at = ?10 \
             WHERE id = ?1 AND org_id = ?2",
            params![
                agent.id,
                org_id,
                agent.name,
                agent.description,
                agent.status.as_str(),
                agent.default_model_id,
                agent.daily_request_limit,
                agent.rate_limit_per_minute,
                agent.profile.to_string(),
                rows::ts(now)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, now)?;
    get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn set_budget(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    monthly_budget: Option<Cents>,
    now: OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Agent> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE agents SET monthly_budget_cents = ?3, updated_at = ?4 \
             WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
            params![
                agent_id,
                org_id,
                rows::opt_i64(monthly_budget),
                rows::ts(now)
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)?;
    get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn rotate_key(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    key_hash: &str,
    key_mode: KeyMode,
    now: OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Agent> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE agents SET key_hash = ?3, key_mode = ?4, updated_at = ?5 \
             WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
            params![agent_id, org_id, key_hash, key_mode.as_str(), rows::ts(now)],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)?;
    get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)
}

pub(super) fn bindings(conn: &Connection, agent_id: &str) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {} FROM bindings WHERE agent_id = ?1 ORDER BY service_id, operation",
        rows::BINDING_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let out = stmt
        .query_map([agent_id], rows::binding)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

pub(super) fn upsert_bindings(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    u: BindingUpsert,
    now: OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Vec<Binding>> {
    if get(ctx.conn, org_id, agent_id)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let ts = rows::ts(now);
    let s = &u.settings;
    for operation in &u.operations {
        ctx.conn
            .prepare_cached(
                "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, daily_request_limit, \
                 rate_limit_per_minute, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
                 ON CONFLICT (agent_id, service_id, operation) DO UPDATE SET \
                 require_approval = excluded.require_approval, \
                 approval_threshold_cents = excluded.approval_threshold_cents, \
                 max_cost_cents = excluded.max_cost_cents, \
                 monthly_budget_cents = excluded.monthly_budget_cents, \
                 daily_request_limit = excluded.daily_request_limit, \
                 rate_limit_per_minute = excluded.rate_limit_per_minute, \
                 updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    ids::new_id(ids::BINDING),
                    agent_id,
                    u.service_id,
                    operation.as_deref().unwrap_or("*"),
                    s.require_approval,
                    rows::opt_i64(s.approval_threshold),
                    rows::opt_i64(s.max_cost),
                    rows::opt_i64(s.monthly_budget),
                    s.daily_request_limit,
                    s.rate_limit_per_minute,
                    ts
                ])
            })
            .map_err(db_error)?;
    }
    audit::append(ctx, event, now)?;
    let all = bindings(ctx.conn, agent_id)?;
    Ok(all
        .into_iter()
        .filter(|b| b.service_id == u.service_id)
        .collect())
}

pub(super) fn delete_bindings(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    service_id: &str,
    event: AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    if get(ctx.conn, org_id, agent_id)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let removed = ctx
        .conn
        .execute(
            "DELETE FROM bindings WHERE agent_id = ?1 AND service_id = ?2",
            params![agent_id, service_id],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, now)?;
    Ok(removed)
}
