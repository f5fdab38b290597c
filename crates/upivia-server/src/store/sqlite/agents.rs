//! Agents and their service bindings.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::ids;
use crate::model::{Agent, AuditEvent, Binding, KeyMode, Role};
use crate::store::{AgentPatch, BindingUpsert, BudgetChange, NewAgent, StoreError, StoreResult};

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
             profile, created_at, updated_at, status_set_by_role, monthly_budget_set_by_role, \
             daily_request_limit_set_by_role, rate_limit_set_by_role) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, \
             ?15, ?16, ?17, ?18)",
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
                now,
                a.set_by.status.as_str(),
                a.set_by.monthly_budget.as_str(),
                a.set_by.daily_request_limit.as_str(),
                a.set_by.rate_limit.as_str()
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
    if patch.expect.is_some_and(|e| e != agent.rules()) {
        return Err(changed_meanwhile());
    }
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
    ctx.conn
        .execute(
            "UPDATE agents SET name = ?3, description = ?4, status = ?5, default_model_id = ?6, \
             daily_request_limit = ?7, rate_limit_per_minute = ?8, profile = ?9, updated_at = ?10, \
             status_set_by_role = ?11, monthly_budget_set_by_role = ?12, \
             daily_request_limit_set_by_role = ?13, rate_limit_set_by_role = ?14 \
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
                rows::ts(now),
                agent.set_by.status.as_str(),
                agent.set_by.monthly_budget.as_str(),
                agent.set_by.daily_request_limit.as_str(),
                agent.set_by.rate_limit.as_str()
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
    BudgetChange {
        monthly_budget,
        set_by,
        expect,
    }: BudgetChange,
    now: OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Agent> {
    let agent = get(ctx.conn, org_id, agent_id)?.ok_or(StoreError::NotFound)?;
    if agent.rules() != expect {
        return Err(changed_meanwhile());
    }
    ctx.conn
        .execute(
            "UPDATE agents SET monthly_budget_cents = ?3, monthly_budget_set_by_role = ?4, \
             updated_at = ?5 WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL",
            params![
                agent_id,
                org_id,
                rows::opt_i64(monthly_budget),
                set_by.as_str(),
                rows::ts(now)
            ],
        )
        .map_err(db_error)?;
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
        "SELECT {} FROM bindings WHERE agent_id = ?1 AND enabled = 1 ORDER BY service_id, operation",
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

/// Every row of one service, disabled ones too.
pub(super) fn service_bindings(
    conn: &Connection,
    agent_id: &str,
    service_id: &str,
) -> StoreResult<Vec<Binding>> {
    let sql = format!(
        "SELECT {} FROM bindings WHERE agent_id = ?1 AND service_id = ?2 ORDER BY operation",
        rows::BINDING_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let out = stmt
        .query_map([agent_id, service_id], rows::binding)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

fn changed_meanwhile() -> StoreError {
    StoreError::Conflict(
        "these settings changed while the change was being checked; read them again and retry"
            .into(),
    )
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
    let current = service_bindings(ctx.conn, agent_id, &u.service_id)?;
    let s = &u.settings;
    for write in &u.operations {
        let operation = write.operation.as_deref().unwrap_or("*");
        let row = current
            .iter()
            .find(|b| b.operation.as_deref().unwrap_or("*") == operation);
        if row.map(Binding::rules) != write.expect {
            return Err(changed_meanwhile());
        }
        let by = &write.set_by;
        ctx.conn
            .prepare_cached(
                "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, daily_request_limit, \
                 rate_limit_per_minute, created_at, updated_at, enabled, enabled_set_by_role, \
                 require_approval_set_by_role, approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, 1, ?12, ?13, ?14, ?15, ?16, ?17, ?18) \
                 ON CONFLICT (agent_id, service_id, operation) DO UPDATE SET \
                 require_approval = excluded.require_approval, \
                 approval_threshold_cents = excluded.approval_threshold_cents, \
                 max_cost_cents = excluded.max_cost_cents, \
                 monthly_budget_cents = excluded.monthly_budget_cents, \
                 daily_request_limit = excluded.daily_request_limit, \
                 rate_limit_per_minute = excluded.rate_limit_per_minute, \
                 updated_at = excluded.updated_at, enabled = 1, \
                 enabled_set_by_role = excluded.enabled_set_by_role, \
                 require_approval_set_by_role = excluded.require_approval_set_by_role, \
                 approval_threshold_set_by_role = excluded.approval_threshold_set_by_role, \
                 max_cost_set_by_role = excluded.max_cost_set_by_role, \
                 monthly_budget_set_by_role = excluded.monthly_budget_set_by_role, \
                 daily_request_limit_set_by_role = excluded.daily_request_limit_set_by_role, \
                 rate_limit_set_by_role = excluded.rate_limit_set_by_role",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    ids::new_id(ids::BINDING),
                    agent_id,
                    u.service_id,
                    operation,
                    s.require_approval,
                    rows::opt_i64(s.approval_threshold),
                    rows::opt_i64(s.max_cost),
                    rows::opt_i64(s.monthly_budget),
                    s.daily_request_limit,
                    s.rate_limit_per_minute,
                    ts,
                    by.enabled.as_str(),
                    by.require_approval.as_str(),
                    by.approval_threshold.as_str(),
                    by.max_cost.as_str(),
                    by.monthly_budget.as_str(),
                    by.daily_request_limit.as_str(),
                    by.rate_limit.as_str(),
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

/// Disables the service's enabled bindings, keeping the rows.
pub(super) fn delete_bindings(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    agent_id: &str,
    (service_id, caller): (&str, Role),
    event: AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    if get(ctx.conn, org_id, agent_id)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let enabled: Vec<Binding> = service_bindings(ctx.conn, agent_id, service_id)?
        .into_iter()
        .filter(|b| b.enabled)
        .collect();
    for b in &enabled {
        ctx.conn
            .execute(
                "UPDATE bindings SET enabled = 0, enabled_set_by_role = ?2, updated_at = ?3 \
                 WHERE id = ?1",
                params![
                    b.id,
                    // Enabled is a binding's loosest state, so the disabler
                    // takes it over (governance::roles::setter_after).
                    caller.as_str(),
                    rows::ts(now)
                ],
            )
            .map_err(db_error)?;
    }
    audit::append(ctx, event, now)?;
    Ok(enabled.len())
}
