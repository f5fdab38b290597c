//! Spawning a child agent on SQLite: one writer job, so the parent read,
//! the carve out of its budget and the child's rows see no other write in
//! between (two spawns of one parent carve one after the other).

use rusqlite::params;

use super::writer::WriteCtx;
use super::{agents, audit, db_error, ledger, rows};
use crate::ids;
use crate::model::AgentStatus;
use crate::store::*;

pub(super) fn spawn(ctx: &mut WriteCtx<'_>, s: AgentCommand<AgentSpawn>) -> StoreResult<Spawned> {
    let (org_id, parent_id) = (s.org_id.as_str(), s.agent_id.as_str());
    let Some(parent) = agents::get(ctx.conn, org_id, parent_id)? else {
        return Ok(Spawned::ParentStopped);
    };
    if parent.status != AgentStatus::Active {
        return Ok(Spawned::ParentStopped);
    }
    let now = rows::ts(s.now);
    if let Some(carve) = &s.change.carve
        && let Moved::Short { available } = ledger::transfer(ctx, carve, &now)?
    {
        return Ok(Spawned::Short { available });
    }
    let child = &s.change;
    ctx.conn
        .execute(
            "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, description, status, \
             key_hash, key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, \
             default_model_id, profile, created_at, updated_at, status_set_by_role, \
             monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role, \
             parent_agent_id, spawn_depth) \
             SELECT ?1, org_id, team_id, owner_user_id, ?2, ?3, 'active', ?4, key_mode, ?5, \
             daily_request_limit, rate_limit_per_minute, default_model_id, ?6, ?7, ?7, \
             status_set_by_role, monthly_budget_set_by_role, daily_request_limit_set_by_role, \
             rate_limit_set_by_role, id, spawn_depth + 1 \
             FROM agents WHERE id = ?8 AND org_id = ?9 AND deleted_at IS NULL",
            params![
                child.id,
                child.name,
                child.description,
                child.key_hash,
                child.monthly_budget.get(),
                child.profile.to_string(),
                now,
                parent_id,
                org_id
            ],
        )
        .map_err(db_error)?;
    for b in &child.bindings {
        let copied = ctx
            .conn
            .execute(
                "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, created_at, updated_at, enabled, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role) \
                 SELECT ?1, ?2, service_id, ?3, require_approval, \
                 approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
                 daily_request_limit, rate_limit_per_minute, ?4, ?4, 1, \
                 enabled_set_by_role, require_approval_set_by_role, \
                 approval_threshold_set_by_role, max_cost_set_by_role, \
                 monthly_budget_set_by_role, daily_request_limit_set_by_role, \
                 rate_limit_set_by_role FROM bindings \
                 WHERE id = ?5 AND agent_id = ?6 AND enabled = 1",
                params![
                    ids::new_id(ids::BINDING),
                    child.id,
                    b.operation,
                    now,
                    b.source_binding_id,
                    parent_id
                ],
            )
            .map_err(db_error)?;
        if copied != 1 {
            // The parent's binding changed since the domain read it: fail
            // the job (undoing the carve) rather than spawn a child with
            // less than it was promised or more than the parent has.
            return Err(StoreError::Conflict(format!(
                "the parent's binding for {} changed while spawning; try again",
                b.operation
            )));
        }
    }
    audit::append(ctx, s.audit, s.now)?;
    audit::append(ctx, s.change.created, s.now)?;
    agents::get(ctx.conn, org_id, &s.change.id)?
        .map(|a| Spawned::Created(Box::new(a)))
        .ok_or(StoreError::NotFound)
}
