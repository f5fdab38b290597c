//! The rules of managing agents: admins manage every agent of their
//! organisation, members the agents they own; loosening a governance value
//! needs the role that set it (`governance::roles`); every change writes
//! its audit event in the same transaction.

use serde_json::{Map, Value, json};

use super::super::DomainError;
use crate::auth;
use crate::governance::roles::{self, AgentChange, RoleError};
use crate::governance::trail;
use crate::ids::{AgentId, OrgId, UserId};
use crate::model::agent::BindingSettings;
use crate::model::{Agent, AgentStatus, AuditEvent, Binding, KeyMode, Role, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{
    AgentCommand, AgentPatch, BindingRemoval, BindingUpsert, BindingWrite, BudgetChange,
    KeyRotation, NewAgent,
};

/// An agent the caller may manage; only [`manageable`] makes one, so every
/// change below has passed that check.
#[derive(Clone, Debug)]
pub struct Managed(Agent);

impl Managed {
    pub fn agent(&self) -> &Agent {
        &self.0
    }

    /// The store command for a change of this agent, made now.
    fn command<T>(
        &self,
        platform: &Platform,
        user: &UserPrincipal,
        change: T,
        audit: AuditEvent,
    ) -> AgentCommand<T> {
        AgentCommand {
            org_id: OrgId::from(&user.org_id),
            agent_id: AgentId::from(&self.0.id),
            change,
            now: platform.clock.now(),
            audit,
        }
    }
}

/// The server's per-key ceiling, which counts as an admin's setting.
fn ceiling(platform: &Platform) -> Option<u32> {
    platform.settings.key_rate_limit_per_minute
}

pub(super) fn event(
    user: &UserPrincipal,
    agent_id: &str,
    kind: &str,
    details: Value,
) -> AuditEvent {
    AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_agent(agent_id)
        .with_details(details)
}

/// An agent of the caller's organisation that the caller may manage.
pub async fn manageable(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
) -> Result<Managed, DomainError> {
    let agent = platform
        .stores
        .agents
        .agent(&OrgId::from(&user.org_id), agent_id)
        .await?
        .ok_or(DomainError::NotFound("agent"))?;
    if user.role >= Role::Admin || agent.owner_user_id.as_deref() == Some(user.user_id.as_str()) {
        Ok(Managed(agent))
    } else {
        Err(DomainError::Forbidden(
            "only an admin or the agent's owner may change it".into(),
        ))
    }
}

/// Whether the caller may change something that acts for `agent_id` (a
/// trigger, a scheduled task, a workflow): whoever may manage the agent,
/// and, once the agent is deleted, admins only. `what` names the thing in
/// the refusal.
pub async fn may_act_for(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
    what: &str,
) -> Result<(), DomainError> {
    match manageable(platform, user, agent_id).await {
        Ok(_) => Ok(()),
        Err(DomainError::NotFound(_)) if user.role >= Role::Admin => Ok(()),
        Err(DomainError::NotFound(_)) => Err(DomainError::Forbidden(format!(
            "only an admin may change the {what} of an agent that no longer exists"
        ))),
        Err(DomainError::Forbidden(_)) => Err(DomainError::Forbidden(format!(
            "only an admin or the agent's owner may change its {what}"
        ))),
        Err(e) => Err(e),
    }
}

/// The organisation's agents (of one team, if given).
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: Option<&str>,
) -> Result<Vec<Agent>, DomainError> {
    Ok(platform
        .stores
        .agents
        .agents(&OrgId::from(&user.org_id), team_id)
        .await?)
}

/// An agent of the caller's organisation with its enabled bindings.
pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
) -> Result<(Agent, Vec<Binding>), DomainError> {
    let stores = &platform.stores;
    let agent = stores
        .agents
        .agent(&OrgId::from(&user.org_id), agent_id)
        .await?
        .ok_or(DomainError::NotFound("agent"))?;
    let bindings = stores.agents.bindings(&AgentId::from(&agent.id)).await?;
    Ok((agent, bindings))
}

/// A new agent as the caller asks for it; the caller becomes its owner.
#[derive(Clone, Debug)]
pub struct CreateAgent {
    pub team_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub key_mode: KeyMode,
    pub monthly_budget: Option<Cents>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub default_model_id: Option<String>,
    pub profile: Value,
}

/// Creates an agent; returns it with its key (shown this once).
pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    new: CreateAgent,
) -> Result<(Agent, String), DomainError> {
    let set_by = roles::check_new_agent(new.rate_limit_per_minute, user.role, ceiling(platform))?;
    if let Some(team_id) = &new.team_id {
        may_file_into(platform, user, team_id).await?;
    }
    let key = auth::new_agent_key(new.key_mode);
    let agent = platform
        .stores
        .agents
        .create_agent(NewAgent {
            org_id: user.org_id.clone(),
            team_id: new.team_id,
            owner_user_id: Some(user.user_id.clone()),
            name: new.name,
            description: new.description,
            key_hash: auth::hash_token(&key),
            key_mode: new.key_mode,
            monthly_budget: new.monthly_budget,
            daily_request_limit: new.daily_request_limit,
            rate_limit_per_minute: new.rate_limit_per_minute,
            default_model_id: new.default_model_id,
            profile: new.profile,
            set_by,
            now: platform.clock.now(),
            actor: trail::user_actor(&user.user_id),
        })
        .await
        .map_err(DomainError::missing("team"))?;
    Ok((agent, key))
}

/// An agent in a team spends from that team (its pool, once pools hold
/// money), so only an admin or one of the team's members may put one
/// there. A team of another organisation, or none, is 404 either way.
async fn may_file_into(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<(), DomainError> {
    let org = OrgId::from(&user.org_id);
    let teams = &platform.stores.teams;
    if teams.team(&org, team_id).await?.is_none() {
        return Err(DomainError::NotFound("team"));
    }
    if user.role >= Role::Admin
        || teams
            .membership(&org, team_id, &UserId::from(&user.user_id))
            .await?
            .is_some()
    {
        return Ok(());
    }
    Err(DomainError::Forbidden(
        "only an admin or a member of the team may put an agent in it".into(),
    ))
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UpdateAgent {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<AgentStatus>,
    pub default_model_id: Option<String>,
    pub daily_request_limit: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub profile: Map<String, Value>,
    /// The fields the caller sent, named in the audit event.
    pub fields: Vec<String>,
}

pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
    update: UpdateAgent,
) -> Result<Agent, DomainError> {
    let daily_request_limit = update.daily_request_limit.map(Some);
    let rate_limit_per_minute = update.rate_limit_per_minute.map(Some);
    let change = AgentChange {
        status: update.status,
        monthly_budget: None,
        daily_request_limit,
        rate_limit_per_minute,
    };
    let set_by = roles::check_agent(agent.agent(), &change, user.role, ceiling(platform))?;
    let patch = AgentPatch {
        name: update.name,
        description: update.description.map(Some),
        status: update.status,
        default_model_id: update.default_model_id.map(Some),
        daily_request_limit,
        rate_limit_per_minute,
        profile: update.profile,
        set_by: Some(set_by),
        expect: Some(agent.agent().rules()),
    };
    let audit = event(
        user,
        &agent.agent().id,
        "agent.updated",
        json!({"fields": update.fields, "status": update.status.map(|s| s.as_str())}),
    );
    Ok(platform
        .stores
        .agents
        .update_agent(agent.command(platform, user, patch, audit))
        .await?)
}

/// A new key for the agent, in the same mode; the old key stops at once.
/// Returns the agent and the new key (shown this once).
pub async fn rotate_key(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
) -> Result<(Agent, String), DomainError> {
    let key_mode = agent.agent().key_mode;
    let key = auth::new_agent_key(key_mode);
    let rotation = KeyRotation {
        key_hash: auth::hash_token(&key),
        key_mode,
    };
    let audit = event(user, &agent.agent().id, "agent.key_rotated", json!({}));
    let updated = platform
        .stores
        .agents
        .rotate_agent_key(agent.command(platform, user, rotation, audit))
        .await?;
    Ok((updated, key))
}

/// Sets the agent's monthly cap (`None`: no cap).
pub async fn set_budget(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
    cap: Option<Cents>,
) -> Result<Agent, DomainError> {
    let change = AgentChange {
        monthly_budget: Some(cap),
        ..AgentChange::default()
    };
    let set_by = roles::check_agent(agent.agent(), &change, user.role, ceiling(platform))?;
    let budget = BudgetChange {
        monthly_budget: cap,
        set_by: set_by.monthly_budget,
        expect: agent.agent().rules(),
    };
    let audit = event(
        user,
        &agent.agent().id,
        "agent.budget_set",
        json!({"monthly_budget_cents": cap.map(Cents::get)}),
    );
    Ok(platform
        .stores
        .agents
        .set_agent_budget(agent.command(platform, user, budget, audit))
        .await?)
}

/// Enabling a catalog service (or some of its operations) for an agent.
#[derive(Clone, Debug)]
pub struct EnableService {
    /// A service of the catalog.
    pub service_id: String,
    /// Operations of that service; `None` binds them all.
    pub operations: Vec<Option<String>>,
    pub settings: BindingSettings,
}

/// Enables (or updates) the bindings; returns the agent's enabled ones.
pub async fn enable_service(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
    enable: EnableService,
) -> Result<Vec<Binding>, DomainError> {
    let agents = &platform.stores.agents;
    let current = agents
        .service_bindings(&AgentId::from(&agent.agent().id), &enable.service_id)
        .await?;
    let writes = enable
        .operations
        .iter()
        .map(|operation| {
            let row = current.iter().find(|b| b.operation == *operation);
            Ok(BindingWrite {
                operation: operation.clone(),
                set_by: roles::check_binding(
                    &current,
                    operation.as_deref(),
                    &enable.settings,
                    user.role,
                )?,
                expect: row.map(Binding::rules),
            })
        })
        .collect::<Result<Vec<_>, RoleError>>()?;
    let settings = &enable.settings;
    let details = json!({
        "service_id": enable.service_id,
        "operations": enable.operations,
        "require_approval": settings.require_approval,
        "approval_threshold_cents": settings.approval_threshold.map(Cents::get),
        "max_cost_cents": settings.max_cost.map(Cents::get),
        "monthly_budget_cents": settings.monthly_budget.map(Cents::get),
        "daily_request_limit": settings.daily_request_limit,
        "rate_limit_per_minute": settings.rate_limit_per_minute,
    });
    let audit = event(user, &agent.agent().id, "binding.enabled", details);
    let upsert = BindingUpsert {
        service_id: enable.service_id,
        operations: writes,
        settings: enable.settings,
    };
    Ok(agents
        .upsert_bindings(agent.command(platform, user, upsert, audit))
        .await?)
}

/// Disables the agent's bindings of a service; returns how many were on.
pub async fn disable_service(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
    service_id: String,
) -> Result<usize, DomainError> {
    let audit = event(
        user,
        &agent.agent().id,
        "binding.disabled",
        json!({"service_id": service_id}),
    );
    let removal = BindingRemoval {
        service_id,
        caller: user.role,
    };
    Ok(platform
        .stores
        .agents
        .delete_bindings(agent.command(platform, user, removal, audit))
        .await?)
}
