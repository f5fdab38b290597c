//! Spawning a child agent on PostgreSQL, with the answers of
//! `sqlite/agent_spawn.rs`: the parent's row is locked first (so its
//! standing and bindings hold still), then the carve locks the parent's
//! budget rows, then the child's rows are written, in one transaction.
//! Concurrent spawns of one parent queue on its row and carve in turn.

use sqlx::PgConnection;

use super::agents::get;
use super::tx::{self, Step, TxResult};
use super::{PgStore, audit, ledger};
use crate::ids;
use crate::model::AgentStatus;
use crate::store::*;

async fn body(c: &mut PgConnection, s: &AgentCommand<AgentSpawn>) -> TxResult<Step<Spawned>> {
    let (org_id, parent_id) = (s.org_id.as_str(), s.agent_id.as_str());
    let parent = get(c, org_id, parent_id, true).await?;
    if parent.is_none_or(|p| p.status != AgentStatus::Active) {
        return Ok(Step::Rollback(Spawned::ParentStopped));
    }
    if let Some(carve) = &s.change.carve
        && let Moved::Short { available } = ledger::transfer(c, carve, s.now).await?
    {
        return Ok(Step::Rollback(Spawned::Short { available }));
    }
    let child = &s.change;
    sqlx::query(
        "INSERT INTO agents (id, org_id, team_id, owner_user_id, name, description, status, \
         key_hash, key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, \
         default_model_id, profile, created_at, updated_at, status_set_by_role, \
         monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role, \
         parent_agent_id, spawn_depth) \
         SELECT $1, org_id, team_id, owner_user_id, $2, $3, 'active', $4, key_mode, $5, \
         daily_request_limit, rate_limit_per_minute, default_model_id, $6, $7, $7, \
         status_set_by_role, monthly_budget_set_by_role, daily_request_limit_set_by_role, \
         rate_limit_set_by_role, id, spawn_depth + 1 \
         FROM agents WHERE id = $8 AND org_id = $9 AND deleted_at IS NULL",
    )
    .bind(&child.id)
    .bind(&child.name)
    .bind(&child.description)
    .bind(&child.key_hash)
    .bind(child.monthly_budget.get())
    .bind(child.profile.to_string())
    .bind(s.now)
    .bind(parent_id)
    .bind(org_id)
    .execute(&mut *c)
    .await?;
    for b in &child.bindings {
        let copied = sqlx::query(
            "INSERT INTO bindings (id, agent_id, service_id, operation, require_approval, \
             approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
             daily_request_limit, rate_limit_per_minute, created_at, updated_at, enabled, \
             enabled_set_by_role, require_approval_set_by_role, \
             approval_threshold_set_by_role, max_cost_set_by_role, \
             monthly_budget_set_by_role, daily_request_limit_set_by_role, \
             rate_limit_set_by_role) \
             SELECT $1, $2, service_id, $3, require_approval, \
             approval_threshold_cents, max_cost_cents, monthly_budget_cents, \
             daily_request_limit, rate_limit_per_minute, $4, $4, TRUE, \
             enabled_set_by_role, require_approval_set_by_role, \
             approval_threshold_set_by_role, max_cost_set_by_role, \
             monthly_budget_set_by_role, daily_request_limit_set_by_role, \
             rate_limit_set_by_role FROM bindings \
             WHERE id = $5 AND agent_id = $6 AND enabled",
        )
        .bind(ids::new_id(ids::BINDING))
        .bind(&child.id)
        .bind(&b.operation)
        .bind(s.now)
        .bind(&b.source_binding_id)
        .bind(parent_id)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if copied != 1 {
            return Err(StoreError::Conflict(format!(
                "the parent's binding for {} changed while spawning; try again",
                b.operation
            ))
            .into());
        }
    }
    audit::insert(c, &s.audit, s.now).await?;
    audit::insert(c, &s.change.created, s.now).await?;
    let created = get(c, org_id, &child.id, false)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Step::Commit(Spawned::Created(Box::new(created))))
}

pub(super) async fn spawn(store: &PgStore, s: AgentCommand<AgentSpawn>) -> StoreResult<Spawned> {
    tx::run(&store.pool, &s, |c, s| Box::pin(body(c, s))).await
}
