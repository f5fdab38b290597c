//! Chat sessions: a person and one agent they may manage (its owner, or
//! an admin). A session belongs to the person who opened it; nobody else
//! lists, reads or continues it.

use time::OffsetDateTime;

use crate::domains::DomainError;
use crate::domains::agents::service::manageable;
use crate::ids::{self, AgentId, OrgId};
use crate::model::{Agent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{ChatMessage, ChatSession, ChatSessionFilter, NewChatSession};

pub const SESSION_PREFIX: &str = "chs";
pub const MESSAGE_PREFIX: &str = "chm";
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
const TITLE_MAX: usize = 200;
const MODEL_ID_MAX: usize = 200;

/// Opens a session with `agent_id` (or hands back the caller's open empty
/// one with the same agent and model).
pub async fn open(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &str,
    model_id: Option<String>,
    title: Option<String>,
) -> Result<ChatSession, DomainError> {
    let agent = manageable(platform, user, &AgentId::from(agent_id))
        .await?
        .agent()
        .clone();
    if let Some(m) = &model_id
        && (m.is_empty() || m.len() > MODEL_ID_MAX)
    {
        return Err(DomainError::Invalid(format!(
            "invalid field model_id: 1 to {MODEL_ID_MAX} characters"
        )));
    }
    if title
        .as_ref()
        .is_some_and(|t| t.chars().count() > TITLE_MAX)
    {
        return Err(DomainError::Invalid(format!(
            "invalid field title: at most {TITLE_MAX} characters"
        )));
    }
    Ok(platform
        .stores
        .chat
        .open_chat_session(NewChatSession {
            id: ids::new_id(SESSION_PREFIX),
            org_id: OrgId::from(&user.org_id),
            user_id: user.user_id.clone(),
            agent_id: agent.id,
            model_id,
            title,
            room_id: None,
            now: platform.clock.now(),
        })
        .await?)
}

/// The caller's own session.
pub async fn own(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
) -> Result<ChatSession, DomainError> {
    platform
        .stores
        .chat
        .chat_session(&OrgId::from(&user.org_id), session_id)
        .await?
        .filter(|s| s.user_id == user.user_id)
        .ok_or(DomainError::NotFound("chat session"))
}

/// The caller's own open session and its agent, which the caller must
/// still be allowed to manage.
pub async fn open_for_turn(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
) -> Result<(ChatSession, Agent), DomainError> {
    let session = own(platform, user, session_id).await?;
    if session.closed_at.is_some() {
        return Err(DomainError::Conflict {
            code: "session_closed",
            message: format!("chat session {session_id} is closed: open a new one"),
        });
    }
    let agent = manageable(platform, user, &AgentId::from(&session.agent_id))
        .await?
        .agent()
        .clone();
    Ok((session, agent))
}

pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    mut filter: ChatSessionFilter,
    team_id: Option<&str>,
) -> Result<Vec<ChatSession>, DomainError> {
    let org = OrgId::from(&user.org_id);
    if let Some(team) = team_id {
        let agents = crate::domains::agents::service::list(platform, user, Some(team)).await?;
        filter.agent_ids = Some(agents.into_iter().map(|a| a.id).collect());
    }
    Ok(platform
        .stores
        .chat
        .chat_sessions(&org, &user.user_id, filter)
        .await?)
}

pub async fn history(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: &str,
) -> Result<(ChatSession, Vec<ChatMessage>), DomainError> {
    let session = own(platform, user, session_id).await?;
    let messages = platform
        .stores
        .chat
        .chat_messages(&OrgId::from(&user.org_id), session_id)
        .await?;
    Ok((session, messages))
}

/// Closes one of the caller's sessions (`Some`), or all of them.
pub async fn close(
    platform: &Platform,
    user: &UserPrincipal,
    session_id: Option<&str>,
) -> Result<u64, DomainError> {
    if let Some(id) = session_id {
        own(platform, user, id).await?;
    }
    let now: OffsetDateTime = platform.clock.now();
    Ok(platform
        .stores
        .chat
        .close_chat_sessions(&OrgId::from(&user.org_id), &user.user_id, session_id, now)
        .await?)
}
