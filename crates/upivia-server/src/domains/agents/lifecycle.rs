//! Deleting, cloning and transferring agents: who may, and the audit
//! events each writes (in the store's transaction).

use serde_json::json;

use super::super::DomainError;
use super::service::{Managed, event};
use crate::auth;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{AgentClone, AgentCommand, AgentDeletion, AgentTransfer, NewOwner};

fn command<T>(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Agent,
    change: T,
    audit: crate::model::AuditEvent,
) -> AgentCommand<T> {
    AgentCommand {
        org_id: OrgId::from(&user.org_id),
        agent_id: AgentId::from(&agent.id),
        change,
        now: platform.clock.now(),
        audit,
    }
}

/// Deletes the agent and its bindings; returns how many binding rows went.
/// A protected agent is refused (409).
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
) -> Result<usize, DomainError> {
    let a = agent.agent();
    let audit = event(user, &a.id, "agent.deleted", json!({"name": a.name}));
    Ok(platform
        .stores
        .agents
        .delete_agent(command(platform, user, a, AgentDeletion, audit))
        .await?)
}

/// Clones an agent the caller can see (any member may: creating an agent
/// is open to members, and the clone keeps every limit with the role that
/// set it). The caller owns the clone; returns it with its key, once.
pub async fn clone(
    platform: &Platform,
    user: &UserPrincipal,
    source: &Agent,
    name: Option<String>,
) -> Result<(Agent, String), DomainError> {
    let key = auth::new_agent_key(source.key_mode);
    let id = ids::new_id(ids::AGENT);
    let name = name.unwrap_or_else(|| clone_name(&source.name));
    let created = event(
        user,
        &id,
        "agent.created",
        json!({"name": name, "key_mode": source.key_mode.as_str(), "cloned_from": source.id}),
    );
    let audit = event(
        user,
        &source.id,
        "agent.cloned",
        json!({"clone_id": id, "name": name}),
    );
    let change = AgentClone {
        id,
        name,
        key_hash: auth::hash_token(&key),
        owner_user_id: user.user_id.clone(),
        created,
    };
    let clone = platform
        .stores
        .agents
        .clone_agent(command(platform, user, source, change, audit))
        .await?;
    Ok((clone, key))
}

/// The longest agent name, in characters (as `api/text.rs` checks).
const NAME_MAX_CHARS: usize = 200;

/// `<name> (copy)`, kept within the name limit.
fn clone_name(name: &str) -> String {
    const SUFFIX: &str = " (copy)";
    let room = NAME_MAX_CHARS.saturating_sub(SUFFIX.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{base}{SUFFIX}")
}

/// Hands the agent to another member of its organisation with a new key
/// (the old one stops at once); returns the agent and the key, once.
pub async fn transfer(
    platform: &Platform,
    user: &UserPrincipal,
    agent: &Managed,
    to: NewOwner,
) -> Result<(Agent, String), DomainError> {
    let a = agent.agent();
    let key = auth::new_agent_key(a.key_mode);
    let audit = event(
        user,
        &a.id,
        "agent.transferred",
        json!({"from_user_id": a.owner_user_id, "key_rotated": true}),
    );
    let change = AgentTransfer {
        to,
        key_hash: auth::hash_token(&key),
    };
    let moved = platform
        .stores
        .agents
        .transfer_agent(command(platform, user, a, change, audit))
        .await
        .map_err(DomainError::missing("member"))?;
    Ok((moved, key))
}
