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

/// The agent key's bucket and its per-minute limit (its own, or the
/// server's ceiling); `None` when neither is set.
pub fn key_bucket(agent: &Agent, server_ceiling: Option<u32>) -> Option<(RateKey, u32)> {
    let limit = agent.rate_limit_per_minute.or(server_ceiling)?;
    Some((RateKey::Agent(agent.id.clone()), limit))
}

/// The binding's bucket and its per-minute limit, when it has one.
pub fn binding_bucket(binding: &Binding) -> Option<(RateKey, u32)> {
    let limit = binding.rate_limit_per_minute?;
    Some((RateKey::Binding(binding.id.clone()), limit))
}

/// The agent key's own per-minute limit, or the server's ceiling.
pub async fn check_key(
    coordination: &dyn CoordinationStore,
    agent: &Agent,
    server_ceiling: Option<u32>,
) -> Result<(), GovernanceError> {
    let Some((key, limit)) = key_bucket(agent, server_ceiling) else {
        return Ok(());
    };
    take(coordination, key, limit).await
}

/// The binding's per-minute limit, once policy has found the binding.
pub async fn check_binding(
    coordination: &dyn CoordinationStore,
    binding: &Binding,
) -> Result<(), GovernanceError> {
    let Some((key, limit)) = binding_bucket(binding) else {
        return Ok(());
    };
    take(coordination, key, limit).await
}

async fn take(
    coordination: &dyn CoordinationStore,
    key: RateKey,
    limit: u32,
) -> Result<(), GovernanceError> {
    refusal(coordination.take_rate_token(&key, limit).await?, limit)
}

/// What a check of `key` would answer now, taking no token (the policy
/// simulation).
pub async fn peek(
    coordination: &dyn CoordinationStore,
    key: &RateKey,
    limit: u32,
) -> Result<(), GovernanceError> {
    refusal(coordination.peek_rate_token(key, limit).await?, limit)
}

fn refusal(answer: RateAnswer, limit: u32) -> Result<(), GovernanceError> {
    match answer {
        RateAnswer::Admitted => Ok(()),
        RateAnswer::Limited { retry_after } => {
            Err(GovernanceError::RateLimited { limit, retry_after })
        }
    }
}
