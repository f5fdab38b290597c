//! An agent's health: a class computed from its own recorded service
//! requests over a window (`ARCHITECTURE.md`, "Agent health", has the
//! thresholds).
//!
//! - `idle`: no request in the window;
//! - `failing`: at least half of the finished requests (executed or
//!   failed) failed;
//! - `degraded`: at least one in ten failed, or the 95th-percentile
//!   latency is 10 s or more;
//! - `healthy` otherwise (only blocked or pending requests count as
//!   healthy: a policy refusal is governance working, not a fault).
//!
//! Latency runs from the start of execution (after any approval wait) to
//! the last update of a finished request. At most [`MAX_SAMPLES`] of the
//! newest requests of the window are read.

use futures::{StreamExt, TryStreamExt};
use time::{Duration, OffsetDateTime};

use super::super::DomainError;
use crate::ids::{AgentId, OrgId};
use crate::model::{Agent, UserPrincipal};
use crate::platform::Platform;
use crate::store::{AgentRequestQuery, RequestSample};

pub const MAX_SAMPLES: u32 = 5_000;
pub const FAILING_ERROR_RATE: f64 = 0.5;
pub const DEGRADED_ERROR_RATE: f64 = 0.1;
pub const DEGRADED_P95_MS: i64 = 10_000;

/// The windows a caller may ask for; the first is the default.
pub const WINDOWS: &[(&str, Duration)] = &[
    ("24h", Duration::hours(24)),
    ("1h", Duration::hours(1)),
    ("7d", Duration::days(7)),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthClass {
    Healthy,
    Degraded,
    Failing,
    Idle,
}

impl HealthClass {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthClass::Healthy => "healthy",
            HealthClass::Degraded => "degraded",
            HealthClass::Failing => "failing",
            HealthClass::Idle => "idle",
        }
    }
}

/// One agent's health over one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Health {
    pub agent_id: String,
    pub class: HealthClass,
    pub window: &'static str,
    pub requests: usize,
    pub executed: usize,
    pub failed: usize,
    pub blocked: usize,
    /// Failed / (executed + failed); 0 when none finished.
    pub error_rate: f64,
    pub p50_latency_ms: Option<i64>,
    pub p95_latency_ms: Option<i64>,
    pub last_activity_at: Option<OffsetDateTime>,
}

/// The window named `raw` (`None`: the default).
pub fn window(raw: Option<&str>) -> Result<(&'static str, Duration), DomainError> {
    match raw {
        None => Ok(WINDOWS[0]),
        Some(raw) => WINDOWS
            .iter()
            .copied()
            .find(|(n, _)| *n == raw)
            .ok_or_else(|| {
                DomainError::Invalid("invalid field window: must be one of 24h, 1h or 7d".into())
            }),
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The class and statistics of `samples` (the window's requests).
pub fn assess(
    agent_id: &str,
    window: &'static str,
    samples: &[RequestSample],
    last_activity_at: Option<OffsetDateTime>,
) -> Health {
    let mut latencies = Vec::new();
    let (mut executed, mut failed, mut blocked) = (0, 0, 0);
    for s in samples {
        match s.status.as_str() {
            "executed" => executed += 1,
            "failed" => failed += 1,
            "blocked" => blocked += 1,
            _ => continue,
        }
        if s.status != "blocked" {
            let start = s.started_at.unwrap_or(s.created_at);
            let ms = (s.updated_at - start).whole_milliseconds();
            latencies.push(i64::try_from(ms.max(0)).unwrap_or(i64::MAX));
        }
    }
    latencies.sort_unstable();
    let finished = executed + failed;
    let error_rate = if finished == 0 {
        0.0
    } else {
        // Counts are at most MAX_SAMPLES: exact in f64.
        f64::from(u32::try_from(failed).unwrap_or(u32::MAX))
            / f64::from(u32::try_from(finished).unwrap_or(u32::MAX))
    };
    let p50 = percentile(&latencies, 50);
    let p95 = percentile(&latencies, 95);
    let class = if samples.is_empty() {
        HealthClass::Idle
    } else if finished > 0 && error_rate >= FAILING_ERROR_RATE {
        HealthClass::Failing
    } else if error_rate >= DEGRADED_ERROR_RATE || p95.is_some_and(|p| p >= DEGRADED_P95_MS) {
        HealthClass::Degraded
    } else {
        HealthClass::Healthy
    };
    Health {
        agent_id: agent_id.to_owned(),
        class,
        window,
        requests: samples.len(),
        executed,
        failed,
        blocked,
        error_rate,
        p50_latency_ms: p50,
        p95_latency_ms: p95,
        last_activity_at,
    }
}

/// The health of one agent of the caller's organisation.
pub async fn of_agent(
    platform: &Platform,
    agent: &Agent,
    window: (&'static str, Duration),
) -> Result<Health, DomainError> {
    let agents = &platform.stores.agents;
    let id = AgentId::from(&agent.id);
    let now = platform.clock.now();
    let samples = agents
        .agent_requests(AgentRequestQuery {
            agent_id: id.clone(),
            since: Some(now - window.1),
            limit: MAX_SAMPLES,
        })
        .await?;
    let last = match samples.first() {
        Some(newest) => Some(newest.created_at),
        None => agents
            .agent_requests(AgentRequestQuery {
                agent_id: id,
                since: None,
                limit: 1,
            })
            .await?
            .first()
            .map(|s| s.created_at),
    };
    Ok(assess(&agent.id, window.0, &samples, last))
}

/// The health of an agent the caller can see (404 for another
/// organisation's).
pub async fn get(
    platform: &Platform,
    user: &UserPrincipal,
    agent_id: &AgentId,
    window: (&'static str, Duration),
) -> Result<Health, DomainError> {
    let agent = platform
        .stores
        .agents
        .agent(&OrgId::from(&user.org_id), agent_id)
        .await?
        .ok_or(DomainError::NotFound("agent"))?;
    of_agent(platform, &agent, window).await
}

/// Every agent the caller can see (the organisation's), with its health.
pub async fn fleet(
    platform: &Platform,
    user: &UserPrincipal,
    window: (&'static str, Duration),
) -> Result<Vec<(Agent, Health)>, DomainError> {
    let agents = platform
        .stores
        .agents
        .agents(&OrgId::from(&user.org_id), None)
        .await?;
    // One read (two for an agent idle in the window) per agent, a few at
    // a time: the answer waits for the slowest batch, not for every read
    // in a row. The order stays the list's.
    futures::stream::iter(agents)
        .map(|agent| async move {
            let health = of_agent(platform, &agent, window).await?;
            Ok((agent, health))
        })
        .buffered(FLEET_READS_AT_ONCE)
        .try_collect()
        .await
}

/// How many agents' requests the fleet view reads at once: enough to hide
/// the round trips, few enough to leave the pool's connections to others.
const FLEET_READS_AT_ONCE: usize = 4;

#[cfg(test)]
mod tests;
