//! Requests-per-minute limits: the agent key's (its own limit, or the
//! server's ceiling for keys without one) before any other work, so every
//! request counts, refused or not; the binding's once policy has found the
//! binding. Each is a token bucket of the coordination store: it holds up
//! to `limit` tokens and refills at `limit` per minute, so bursts up to the
//! limit pass and the steady rate is the limit. On PostgreSQL the bucket is
//! a row every node shares (one upsert per check), so N nodes admit the
//! limit, not N times it; on SQLite it is in the one node's memory.

use super::GovernanceError;
use crate::model::{Agent, Binding};
use crate::store::{CoordinationStore, RateAnswer, RateKey};

/// The agent key's own per-minute limit, or the server's ceiling.
pub async fn check_key(
    coordination: &dyn CoordinationStore,
    agent: &Agent,
    server_ceiling: Option<u32>,
) -> Result<(), GovernanceError> {
    let Some(limit) = agent.rate_limit_per_minute.or(server_ceiling) else {
        return Ok(());
    };
    take(coordination, RateKey::Agent(agent.id.clone()), limit).await
}

/// The binding's per-minute limit, once policy has found the binding.
pub async fn check_binding(
    coordination: &dyn CoordinationStore,
    binding: &Binding,
) -> Result<(), GovernanceError> {
    let Some(limit) = binding.rate_limit_per_minute else {
        return Ok(());
    };
    take(coordination, RateKey::Binding(binding.id.clone()), limit).await
}

async fn take(
    coordination: &dyn CoordinationStore,
    key: RateKey,
    limit: u32,
) -> Result<(), GovernanceError> {
    match coordination.take_rate_token(&key, limit).await? {
        RateAnswer::Admitted => Ok(()),
        RateAnswer::Limited { retry_after } => {
            Err(GovernanceError::RateLimited { limit, retry_after })
        }
    }
}
