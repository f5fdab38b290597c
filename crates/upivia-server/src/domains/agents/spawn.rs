//! Spawning: an agent creates a bounded child with its own key. The
//! child's operations must be a subset of what the parent may do, its
//! limits are the parent's (with the roles that set them, so no member can
//! loosen them past the parent), and its budget is carved out of the
//! parent's: moved, in the same transaction as the child's creation, from
//! the parent's month (a root agent) or the parent's own allowance (a
//! spawned one) into the child's allowance, which the child can never
//! spend past. Depth: a root agent is 1, and nothing spawns past 3.

use serde_json::{Map, Value, json};

use super::super::DomainError;
use crate::auth;
use crate::catalog::OperationSpec;
use crate::clock::month_of;
use crate::governance::lineage::{self, MAX_DEPTH};
use crate::governance::{GovernanceError, policy, resolve, trail};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Account, Agent, AgentStatus, AuditEvent, HoldLimit};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{AgentCommand, AgentSpawn, SpawnBinding, Spawned, Transfer};

/// What the parent asked for.
#[derive(Clone, Debug)]
pub struct SpawnRequest {
    pub name: String,
    pub description: Option<String>,
    /// Operation names (`service.operation`) or bare service ids (every
    /// operation of the service the parent has enabled).
    pub services: Vec<String>,
    pub budget: Cents,
    /// Profile keys kept as sent (`category`, `icon`).
    pub profile: Map<String, Value>,
}

fn refused(code: &'static str, message: String) -> DomainError {
    DomainError::Refused { code, message }
}

/// The operations `services` names (built-in or the organisation's
/// private ones), in order, without repeats; an unknown name is a bad
/// request (422), not a refusal.
async fn operations(
    platform: &Platform,
    parent: &Agent,
    enabled: &[crate::model::Binding],
    services: &[String],
) -> Result<Vec<OperationSpec>, DomainError> {
    let org = OrgId::from(&parent.org_id);
    let mut out: Vec<OperationSpec> = Vec::new();
    let mut push = |op: OperationSpec| {
        if !out.iter().any(|o| o.full_name() == op.full_name()) {
            out.push(op);
        }
    };
    for name in services {
        match name.split_once('.') {
            Some((service, operation)) => {
                let op = resolve::resolve(platform, &org, service, operation)
                    .await
                    .map_err(|e| unknown(e, "field services", name, "an operation"))?;
                push(op.spec.into_owned());
            }
            None => {
                let names = resolve::operations_of(platform, &org, name)
                    .await
                    .map_err(|e| unknown(e, "field services", name, "a service"))?
                    .ok_or_else(|| {
                        DomainError::Invalid(format!(
                            "invalid field services: {name:?} is not a service of the catalog"
                        ))
                    })?;
                let mut any = false;
                for operation in names {
                    let op = resolve::resolve(platform, &org, name, &operation)
                        .await
                        .map_err(|e| unknown(e, "field services", name, "a service"))?;
                    if policy::binding_for(enabled, &op.spec).is_some() {
                        push(op.spec.into_owned());
                        any = true;
                    }
                }
                if !any {
                    return Err(refused(
                        "spawn_services_not_subset",
                        format!(
                            "agent {} has no operation of {name} enabled, so its child cannot have one",
                            parent.id
                        ),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// A name that resolves to nothing is the caller's mistake (422); a store
/// failure stays one.
fn unknown(e: GovernanceError, field: &str, name: &str, what: &str) -> DomainError {
    match e {
        GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. } => {
            DomainError::Invalid(format!(
                "invalid {field}: {name:?} is not {what} of the catalog"
            ))
        }
        GovernanceError::Store(e) => e.into(),
        other => DomainError::Invalid(other.to_string()),
    }
}

/// The account the child's budget is carved from, and its limit.
fn source_of(parent: &Agent, month: String) -> (Account, HoldLimit) {
    if parent.parent_agent_id.is_some() {
        (Account::Allowance(parent.id.clone()), HoldLimit::Funds)
    } else {
        (
            Account::AgentMonth {
                agent_id: parent.id.clone(),
                month,
            },
            parent
                .monthly_budget
                .map_or(HoldLimit::Unlimited, HoldLimit::Cap),
        )
    }
}

/// Spawns the child; returns it with its plaintext key, once.
pub async fn spawn(
    platform: &Platform,
    parent: &Agent,
    request: SpawnRequest,
) -> Result<(Agent, String), DomainError> {
    if lineage::effective(platform, parent).await?.status != AgentStatus::Active {
        return Err(refused(
            "agent_not_active",
            format!("agent {} is not active, so it cannot spawn", parent.id),
        ));
    }
    if parent.spawn_depth >= MAX_DEPTH {
        return Err(refused(
            "spawn_depth_exceeded",
            format!(
                "agent {} is at depth {}, the deepest an agent may be ({MAX_DEPTH}); it cannot spawn",
                parent.id, parent.spawn_depth
            ),
        ));
    }
    let parent_id = AgentId::from(&parent.id);
    let enabled = platform.stores.agents.bindings(&parent_id).await?;
    let ops = operations(platform, parent, &enabled, &request.services).await?;
    let mut bindings = Vec::with_capacity(ops.len());
    let mut missing = Vec::new();
    for op in &ops {
        match policy::binding_for(&enabled, op) {
            Some(b) => bindings.push(SpawnBinding {
                source_binding_id: b.id.clone(),
                operation: op.name.to_string(),
            }),
            None => missing.push(op.full_name()),
        }
    }
    if !missing.is_empty() {
        return Err(refused(
            "spawn_services_not_subset",
            format!(
                "a child may only have operations its parent has; agent {} does not have {}",
                parent.id,
                missing.join(", ")
            ),
        ));
    }
    let now = platform.clock.now();
    let id = ids::new_id(ids::AGENT);
    let carve = (request.budget > Cents::ZERO).then(|| {
        let (from, from_limit) = source_of(parent, month_of(now));
        Transfer {
            id: ids::new_id(ids::TRANSFER),
            org_id: OrgId::from(&parent.org_id),
            from,
            from_limit,
            to: Account::Allowance(id.clone()),
            amount: request.budget,
            note: format!("spawn budget of {id}"),
        }
    });
    let operations: Vec<String> = ops.iter().map(|o| o.full_name()).collect();
    let actor = trail::agent_actor(&parent.id);
    let spawned = AuditEvent::new(&parent.org_id, "agent.spawned", actor.clone())
        .with_agent(&parent.id)
        .with_cost(request.budget)
        .with_details(json!({
            "child_agent_id": id,
            "name": request.name,
            "budget_cents": request.budget.get(),
            "operations": operations,
            "transfer_id": carve.as_ref().map(|t| t.id.clone()),
        }));
    let created = AuditEvent::new(&parent.org_id, "agent.created", actor)
        .with_agent(&id)
        .with_details(json!({
            "name": request.name,
            "key_mode": parent.key_mode.as_str(),
            "parent_agent_id": parent.id,
            "spawn_depth": parent.spawn_depth + 1,
        }));
    let key = auth::new_agent_key(parent.key_mode);
    let outcome = platform
        .stores
        .agents
        .spawn_agent(AgentCommand {
            org_id: OrgId::from(&parent.org_id),
            agent_id: parent_id,
            change: AgentSpawn {
                id,
                name: request.name,
                description: request.description,
                key_hash: auth::hash_token(&key),
                profile: Value::Object(request.profile),
                monthly_budget: request.budget,
                bindings,
                carve,
                created,
            },
            now,
            audit: spawned,
        })
        .await?;
    match outcome {
        Spawned::Created(child) => Ok((*child, key)),
        Spawned::Short { available } => Err(refused(
            "insufficient_budget",
            format!(
                "agent {} has {} cents of its budget left; a child with {} cents needs more",
                parent.id,
                available.get().max(0),
                request.budget.get()
            ),
        )),
        Spawned::ParentStopped => Err(refused(
            "agent_not_active",
            format!("agent {} is not active, so it cannot spawn", parent.id),
        )),
    }
}

/// One operation of an estimate.
#[derive(Clone, Debug)]
pub struct EstimateLine {
    pub operation: String,
    pub base_price_cents: Cents,
    pub pricing: &'static str,
    pub enabled_for_parent: bool,
}

/// What spawning a child with `names` would cost per use of each
/// operation (its base price in the catalog), and whether the parent may
/// pass each on. The sum is the smallest budget that lets the child run
/// each operation once.
pub async fn estimate(
    platform: &Platform,
    parent: &Agent,
    names: &[String],
) -> Result<(Cents, Vec<EstimateLine>), DomainError> {
    let enabled = platform
        .stores
        .agents
        .bindings(&AgentId::from(&parent.id))
        .await?;
    let mut lines = Vec::with_capacity(names.len());
    let mut total = Cents::ZERO;
    for name in names {
        let invalid = || {
            DomainError::Invalid(format!(
                "invalid query operations: {name:?} is not an operation of the catalog"
            ))
        };
        let (service, operation) = name.split_once('.').ok_or_else(invalid)?;
        let op = resolve::resolve(platform, &OrgId::from(&parent.org_id), service, operation)
            .await
            .map_err(|e| unknown(e, "query operations", name, "an operation"))?
            .spec
            .into_owned();
        total = total.saturating_add(op.base_price_cents);
        lines.push(EstimateLine {
            operation: op.full_name(),
            base_price_cents: op.base_price_cents,
            pricing: op.pricing.as_str(),
            enabled_for_parent: policy::binding_for(&enabled, &op).is_some(),
        });
    }
    Ok((total, lines))
}
