//! An agent's accountability ledger: its audit entries (newest first,
//! paged by sequence), its latest service requests, the delegated tasks
//! it created or received, and what it spent; `verify` (in the API, with
//! the sealer) checks the chain that holds these entries.

use time::{Date, OffsetDateTime, Time};

use super::super::DomainError;
use crate::domains::delegation::service as delegation;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, AuditEntry, UserPrincipal};
use crate::platform::Platform;
use crate::store::{AgentRequestQuery, AgentSpend, AuditQuery, DelegatedTask, RequestSample};

/// How many of the latest service requests the ledger shows.
pub const RECENT_REQUESTS: u32 = 20;

/// How many of the latest delegated tasks (created or received) it shows.
pub const RECENT_DELEGATIONS: u32 = 50;

#[derive(Clone, Debug)]
pub struct ActivityQuery {
    pub limit: u32,
    /// Entries strictly older than this sequence number (the cursor).
    pub before_seq: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Activity {
    pub agent: Agent,
    pub entries: Vec<AuditEntry>,
    /// Whether older entries follow the page.
    pub more: bool,
    pub requests: Vec<RequestSample>,
    /// Tasks the agent created or received, newest first.
    pub delegations: Vec<DelegatedTask>,
    pub spend: AgentSpend,
}

fn month_start(now: OffsetDateTime) -> OffsetDateTime {
    let now = now.to_offset(time::UtcOffset::UTC);
    Date::from_calendar_date(now.year(), now.month(), 1)
        .map(|d| d.with_time(Time::MIDNIGHT).assume_utc())
        .unwrap_or(now)
}

/// The ledger of an agent the caller can see (404 for another
/// organisation's); every member may read it, as they read the audit log.
pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
    query: ActivityQuery,
) -> Result<Activity, DomainError> {
    let stores = &platform.stores;
    let agent = stores
        .agents
        .agent(&OrgId::from(&user.org_id), agent_id)
        .await?
        .ok_or(DomainError::NotFound("agent"))?;
    let mut entries = stores
        .governance
        .audit_entries(AuditQuery {
            org_id: user.org_id.clone(),
            agent_id: Some(agent.id.clone()),
            service: None,
            status: None,
            from: None,
            to: None,
            before_seq: query.before_seq,
            limit: query.limit + 1,
        })
        .await?;
    let more = entries.len() > query.limit as usize;
    entries.truncate(query.limit as usize);
    let requests = stores
        .agents
        .agent_requests(AgentRequestQuery {
            agent_id: agent_id.clone(),
            since: None,
            limit: RECENT_REQUESTS,
        })
        .await?;
    let delegations = delegation::of_agent(
        platform,
        &OrgId::from(&user.org_id),
        agent_id,
        RECENT_DELEGATIONS,
    )
    .await?;
    let spend = stores
        .agents
        .agent_spend(agent_id, month_start(platform.clock.now()))
        .await?;
    Ok(Activity {
        agent,
        entries,
        more,
        requests,
        delegations,
        spend,
    })
}
