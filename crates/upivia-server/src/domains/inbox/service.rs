//! The rules of the inbox. An agent raises requests for itself with its
//! key and reads only its own (with the human's response once decided).
//! A member raises requests for agents they own (an admin for any agent
//! of the organisation), or for no agent; a member sees the requests they
//! raised and those of the agents they own, an admin every request of the
//! organisation. A request is decided once, by an admin or the owner of
//! its agent (or, without an agent, by whoever raised it): a second
//! decision is refused (409 `request_already_resolved`), also when two
//! arrive at once. Every change writes its audit event in the same
//! transaction.

use serde_json::json;

use super::super::DomainError;
use crate::governance::trail;
use crate::ids::{self, AgentId, OrgId, UserId};
use crate::model::{Agent, AuditEvent, Role, UserPrincipal};
use crate::platform::Platform;
use crate::store::{
    AgentRequest, DecideRequest, Decision, InboxQuery, InboxStatus, InboxViewer, NewAgentRequest,
    StatusFilter,
};

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub enum InboxCaller<'a> {
    Agent(&'a Agent),
    User(&'a UserPrincipal),
}

impl InboxCaller<'_> {
    fn org_id(&self) -> OrgId {
        match self {
            InboxCaller::Agent(a) => OrgId::from(&a.org_id),
            InboxCaller::User(u) => OrgId::from(&u.org_id),
        }
    }

    fn actor(&self) -> String {
        match self {
            InboxCaller::Agent(a) => trail::agent_actor(&a.id),
            InboxCaller::User(u) => trail::user_actor(&u.user_id),
        }
    }
}

/// A new request as the caller asks for it (already validated in shape).
#[derive(Clone, Debug)]
pub struct RaiseRequest {
    pub request_type: String,
    pub body: String,
    pub agent_id: Option<String>,
    pub title: Option<String>,
    pub link: Option<String>,
}

/// Raises a request for human attention.
pub async fn create(
    platform: &Platform,
    caller: InboxCaller<'_>,
    raise: RaiseRequest,
) -> Result<AgentRequest, DomainError> {
    let org_id = caller.org_id();
    let (agent, user_id): (Option<Agent>, Option<UserId>) = match caller {
        InboxCaller::Agent(agent) => {
            if raise.agent_id.as_deref().is_some_and(|id| id != agent.id) {
                return Err(DomainError::Forbidden(
                    "an agent raises requests for itself only; leave agent_id out or send its own id"
                        .into(),
                ));
            }
            (Some(agent.clone()), None)
        }
        InboxCaller::User(user) => {
            let agent = match &raise.agent_id {
                None => None,
                Some(id) => {
                    let agent = platform
                        .stores
                        .agents
                        .agent(&org_id, &AgentId::from(id))
                        .await?
                        .ok_or(DomainError::NotFound("agent"))?;
                    let owns = agent.owner_user_id.as_deref() == Some(user.user_id.as_str());
                    if user.role < Role::Admin && !owns {
                        return Err(DomainError::Forbidden(
                            "a member raises requests only for agents they own".into(),
                        ));
                    }
                    Some(agent)
                }
            };
            (agent, Some(UserId::from(&user.user_id)))
        }
    };
    let id = ids::new_id(ids::AGENT_REQUEST);
    let title = raise
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| raise.request_type.replace('_', " "));
    let mut audit = AuditEvent::new(org_id.as_str(), "agent_request.created", caller.actor())
        .with_details(json!({
            "agent_request_id": id,
            "request_type": raise.request_type,
            "title": title,
        }));
    if let Some(agent) = &agent {
        audit = audit.with_agent(&agent.id);
    }
    Ok(platform
        .stores
        .inbox
        .create_agent_request(NewAgentRequest {
            id,
            org_id,
            agent_id: agent.as_ref().map(|a| AgentId::from(&a.id)),
            agent_name: agent.as_ref().map(|a| a.name.clone()),
            created_by: caller.actor(),
            created_by_user_id: user_id,
            request_type: raise.request_type,
            title,
            body: raise.body,
            link: raise.link,
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

fn viewer(caller: InboxCaller<'_>) -> InboxViewer {
    match caller {
        InboxCaller::Agent(a) => InboxViewer::Agent(AgentId::from(&a.id)),
        InboxCaller::User(u) if u.role >= Role::Admin => InboxViewer::Everyone,
        InboxCaller::User(u) => InboxViewer::User(UserId::from(&u.user_id)),
    }
}

/// Whether the caller may see the request.
fn visible(caller: InboxCaller<'_>, r: &AgentRequest) -> bool {
    match caller {
        InboxCaller::Agent(a) => r.agent_id.as_deref() == Some(a.id.as_str()),
        InboxCaller::User(u) => {
            u.role >= Role::Admin
                || r.created_by_user_id.as_deref() == Some(u.user_id.as_str())
                || r.agent_owner_user_id.as_deref() == Some(u.user_id.as_str())
        }
    }
}

/// The requests the caller can see, newest first.
pub async fn list(
    platform: &Platform,
    caller: InboxCaller<'_>,
    status: StatusFilter,
    request_type: Option<String>,
    limit: u32,
) -> Result<Vec<AgentRequest>, DomainError> {
    Ok(platform
        .stores
        .inbox
        .agent_requests(InboxQuery {
            org_id: caller.org_id(),
            viewer: viewer(caller),
            status,
            request_type,
            limit,
        })
        .await?)
}

/// One request the caller can see (404 otherwise).
pub async fn get(
    platform: &Platform,
    caller: InboxCaller<'_>,
    id: &str,
) -> Result<AgentRequest, DomainError> {
    platform
        .stores
        .inbox
        .agent_request(&caller.org_id(), id)
        .await?
        .filter(|r| visible(caller, r))
        .ok_or(DomainError::NotFound("agent request"))
}

/// Decides a pending request: `resolved` or `rejected`, with an optional
/// response the agent reads.
pub async fn decide(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
    status: InboxStatus,
    response: Option<String>,
) -> Result<AgentRequest, DomainError> {
    let caller = InboxCaller::User(user);
    let request = get(platform, caller, id).await?;
    let recipient = match &request.agent_id {
        Some(_) => request.agent_owner_user_id.as_deref() == Some(user.user_id.as_str()),
        None => request.created_by_user_id.as_deref() == Some(user.user_id.as_str()),
    };
    if user.role < Role::Admin && !recipient {
        return Err(DomainError::Forbidden(
            "only an admin or the owner of the request's agent may decide it".into(),
        ));
    }
    if request.status != InboxStatus::Pending {
        return Err(already(&request));
    }
    let kind = match status {
        InboxStatus::Rejected => "agent_request.rejected",
        _ => "agent_request.resolved",
    };
    let mut audit = AuditEvent::new(&user.org_id, kind, trail::user_actor(&user.user_id))
        .with_status(status.as_str())
        .with_details(json!({
            "agent_request_id": request.id,
            "request_type": request.request_type,
            "response_chars": response.as_ref().map(|r| r.chars().count()),
        }));
    if let Some(agent) = &request.agent_id {
        audit = audit.with_agent(agent);
    }
    let decision = platform
        .stores
        .inbox
        .decide_agent_request(DecideRequest {
            org_id: OrgId::from(&user.org_id),
            id: request.id.clone(),
            status,
            response,
            user_id: UserId::from(&user.user_id),
            now: platform.clock.now(),
            audit,
        })
        .await?;
    match decision {
        Decision::Decided(r) => Ok(r),
        Decision::AlreadyDecided(r) => Err(already(&r)),
    }
}

fn already(r: &AgentRequest) -> DomainError {
    DomainError::Conflict {
        code: "request_already_resolved",
        message: format!(
            "agent request {} was already decided ({})",
            r.id,
            r.status.as_str()
        ),
    }
}
