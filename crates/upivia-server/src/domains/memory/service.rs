//! The rules of agent memory. An agent writes its own memories with its
//! key, and only while it may act: a write is governed like a service
//! request's standing (paused, disabled, an ancestor stopped, the kill
//! switch: 403 with the reason code), counted against the server's
//! per-agent quota (409 `memory_quota_exceeded`, nothing written) and
//! audited in the same transaction as the row.
//!
//! Who sees what: an agent reads only its own memories (another agent of
//! its organisation is 403, any other id 404, as for delegated tasks); a
//! member of the agent's organisation reads them (the list, search, and
//! graph); whoever may manage the agent (an admin, or its owner) edits,
//! archives and deletes them. Another organisation's agent is 404.

use serde_json::{Value, json};

use super::super::DomainError;
use super::graph::{self, Graph};
use crate::domains::agents::service::{self as agents, may_act_for};
use crate::governance::{lineage, policy, trail};
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, AuditEvent, UserPrincipal};
use crate::platform::Platform;
use crate::search;
use crate::store::{Memory, MemoryCreated, NewMemory, StoreError, UpdateMemory};

/// The newest memories a graph is drawn from.
pub const GRAPH_MEMORIES: u32 = 500;

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub enum MemoryCaller<'a> {
    Agent(&'a Agent),
    User(&'a UserPrincipal),
}

impl MemoryCaller<'_> {
    fn org_id(&self) -> OrgId {
        match self {
            MemoryCaller::Agent(a) => OrgId::from(&a.org_id),
            MemoryCaller::User(u) => OrgId::from(&u.org_id),
        }
    }
}

/// A memory as the agent writes it (shapes already checked).
#[derive(Clone, Debug)]
pub struct CreateMemory {
    pub content: String,
    pub tags: Vec<String>,
}

/// A change of a memory; only these fields can change.
#[derive(Clone, Debug, Default)]
pub struct MemoryChange {
    pub content: Option<String>,
    pub tags: Option<Vec<String>>,
    pub archived: Option<bool>,
}

/// The caller must be the agent `agent_id`: another agent of its
/// organisation is refused (403), an agent it cannot see is not told
/// that it exists (404).
pub async fn must_be(
    platform: &Platform,
    agent: &Agent,
    agent_id: &str,
) -> Result<(), DomainError> {
    if agent.id == agent_id {
        return Ok(());
    }
    let exists = platform
        .stores
        .agents
        .agent(&OrgId::from(&agent.org_id), &AgentId::from(agent_id))
        .await?
        .is_some();
    if exists {
        Err(DomainError::Forbidden(format!(
            "an agent key reads and writes only its own memories; {agent_id} is not the calling \
             agent"
        )))
    } else {
        Err(DomainError::NotFound("agent"))
    }
}

/// The agent's memories are the caller's to read.
pub async fn may_read(
    platform: &Platform,
    caller: MemoryCaller<'_>,
    agent_id: &str,
) -> Result<(), DomainError> {
    match caller {
        MemoryCaller::Agent(agent) => must_be(platform, agent, agent_id).await,
        MemoryCaller::User(user) => agents::get(platform, user, &AgentId::from(agent_id))
            .await
            .map(|_| ()),
    }
}

/// The agent's memories are the caller's to change: whoever may manage
/// the agent (and admins, once it is deleted).
async fn may_manage(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
) -> Result<(), DomainError> {
    may_act_for(platform, user, &AgentId::from(agent_id), "memories").await
}

/// A memory the caller may change: its agent is theirs to manage, and the
/// agent has it.
pub async fn managed_memory(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
    memory_id: &str,
) -> Result<Memory, DomainError> {
    may_manage(platform, user, agent_id).await?;
    platform
        .stores
        .memories
        .memory(
            &OrgId::from(&user.org_id),
            &AgentId::from(agent_id),
            memory_id,
        )
        .await?
        .ok_or(DomainError::NotFound("memory"))
}

/// Refuses a write from an agent that may not act now, with the reason
/// code a service request of it would be blocked with.
async fn check_standing(platform: &Platform, agent: &Agent) -> Result<(), DomainError> {
    let org = platform
        .stores
        .identity
        .org(&OrgId::from(&agent.org_id))
        .await?
        .ok_or(DomainError::NotFound("organisation"))?;
    let effective = lineage::effective(platform, agent).await?;
    match policy::agent_block(&effective, &org) {
        None => Ok(()),
        Some((reason, message)) => Err(DomainError::Refused {
            code: reason.as_str(),
            message,
        }),
    }
}

fn event(
    org_id: &str,
    kind: &str,
    actor: String,
    memory: &str,
    agent: &str,
    details: Value,
) -> AuditEvent {
    let mut details = details;
    details["memory_id"] = json!(memory);
    AuditEvent::new(org_id, kind, actor)
        .with_agent(agent)
        .with_details(details)
}

/// The content is not copied into the audit log (it is the agent's data,
/// and the log is kept for good); its size and the tags are.
fn content_details(content: &str, tags: &[String]) -> Value {
    json!({"content_chars": content.chars().count(), "tags": tags})
}

/// Writes a memory of the calling agent.
pub async fn create(
    platform: &Platform,
    agent: &Agent,
    agent_id: &str,
    c: CreateMemory,
) -> Result<Memory, DomainError> {
    must_be(platform, agent, agent_id).await?;
    check_standing(platform, agent).await?;
    let quota = platform.settings.memory_quota_per_agent;
    let id = ids::new_id(ids::MEMORY);
    let actor = trail::agent_actor(&agent.id);
    let audit = event(
        &agent.org_id,
        "memory.created",
        actor.clone(),
        &id,
        &agent.id,
        content_details(&c.content, &c.tags),
    );
    let created = platform
        .stores
        .memories
        .create_memory(NewMemory {
            id,
            org_id: OrgId::from(&agent.org_id),
            agent_id: AgentId::from(&agent.id),
            content: c.content,
            tags: c.tags,
            quota,
            created_by: actor,
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("agent"))?;
    match created {
        MemoryCreated::Created(memory) => Ok(memory),
        MemoryCreated::QuotaReached => Err(DomainError::Conflict {
            code: "memory_quota_exceeded",
            message: format!(
                "agent {} holds {quota} memories, the most this server allows one agent \
                 (archived ones count): delete some to write more",
                agent.id
            ),
        }),
    }
}

/// The agent's live memories, newest first.
pub async fn list(
    platform: &Platform,
    caller: MemoryCaller<'_>,
    agent_id: &str,
    limit: u32,
) -> Result<Vec<Memory>, DomainError> {
    may_read(platform, caller, agent_id).await?;
    Ok(platform
        .stores
        .memories
        .memories(&caller.org_id(), &AgentId::from(agent_id), limit)
        .await?)
}

/// The agent's live memories holding any term of `query`, best first. A
/// query without terms (empty, or stop words only) finds nothing. This is
/// lexical only: where vectors come (an embedding per memory), they are
/// fused here with `search::fuse`, and the route's `semantic` turns true.
pub async fn search(
    platform: &Platform,
    caller: MemoryCaller<'_>,
    agent_id: &str,
    query: &str,
    limit: u32,
) -> Result<Vec<Memory>, DomainError> {
    may_read(platform, caller, agent_id).await?;
    let terms = search::terms(query);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    Ok(platform
        .stores
        .memories
        .search_memories(&caller.org_id(), &AgentId::from(agent_id), &terms, limit)
        .await?)
}

/// Edits or archives a memory (or brings an archived one back).
pub async fn update(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
    memory_id: &str,
    change: MemoryChange,
) -> Result<Memory, DomainError> {
    let memory = managed_memory(platform, user, agent_id, memory_id).await?;
    let (org, agent) = (OrgId::from(&user.org_id), AgentId::from(agent_id));
    let kind = if change.archived == Some(true) && !memory.archived {
        "memory.archived"
    } else {
        "memory.updated"
    };
    let mut details = json!({
        "content_changed": change.content.as_ref().is_some_and(|c| *c != memory.content),
        "archived": change.archived,
    });
    if let Some(content) = &change.content {
        details["content_chars"] = json!(content.chars().count());
    }
    if let Some(tags) = &change.tags {
        details["tags"] = json!(tags);
    }
    let audit = event(
        &user.org_id,
        kind,
        trail::user_actor(&user.user_id),
        &memory.id,
        agent_id,
        details,
    );
    platform
        .stores
        .memories
        .update_memory(UpdateMemory {
            org_id: org,
            agent_id: agent,
            id: memory.id,
            content: change.content,
            tags: change.tags,
            archived: change.archived,
            now: platform.clock.now(),
            audit,
        })
        .await
        .map_err(DomainError::missing("memory"))
}

/// Deletes a memory for good, with its search index entry.
pub async fn delete(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
    memory_id: &str,
) -> Result<(), DomainError> {
    let memory = managed_memory(platform, user, agent_id, memory_id).await?;
    let (org, agent) = (OrgId::from(&user.org_id), AgentId::from(agent_id));
    let audit = event(
        &user.org_id,
        "memory.deleted",
        trail::user_actor(&user.user_id),
        &memory.id,
        agent_id,
        content_details(&memory.content, &memory.tags),
    );
    platform
        .stores
        .memories
        .delete_memory(&org, &agent, &memory.id, platform.clock.now(), audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => DomainError::NotFound("memory"),
            other => other.into(),
        })
}

/// The graph of the agent's newest [`GRAPH_MEMORIES`] live memories, and
/// whether it left older ones out.
pub async fn graph(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
) -> Result<(Graph, bool), DomainError> {
    may_read(platform, MemoryCaller::User(user), agent_id).await?;
    let mut memories = platform
        .stores
        .memories
        .memories(
            &OrgId::from(&user.org_id),
            &AgentId::from(agent_id),
            GRAPH_MEMORIES + 1,
        )
        .await?;
    let more = memories.len() > GRAPH_MEMORIES as usize;
    memories.truncate(GRAPH_MEMORIES as usize);
    Ok((graph::build(&memories), more))
}
