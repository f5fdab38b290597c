//! Refusals by standing: a request from a paused or disabled agent, or from
//! any agent while the organisation's kill switch is on. These are answered
//! without a write, so a revoked key costs the database nothing per request:
//!
//! - the client gets the usual `blocked` outcome, whose `request_id` is a
//!   self-describing *refusal id* (`rfs_…`: when, why, which operation, and
//!   a digest of the agent) that `GET /service-requests/{id}` decodes and
//!   answers with the same outcome, for that agent only;
//! - each refusal is counted in `upivia_refused_requests_total` and in an
//!   in-memory window per agent; a worker pass writes one
//!   `service_request.refused_summary` audit entry per agent for each window
//!   that is [`WINDOW`] old, with the counts by reason.
//!
//! Nothing is stored under an idempotency key: the request never happened
//! as far as the database knows, so the same key sent once the agent may
//! act again runs the request for real.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::pipeline::Answer;
use super::{GovernanceError, trail};
use crate::clock::rfc3339;
use crate::model::{Agent, AuditEvent, ReasonCode};
use crate::platform::Platform;

/// How long refusals of one agent are summed before their summary is
/// written: at most one audit entry per agent per window.
pub const WINDOW: Duration = Duration::seconds(60);

/// The prefix of refusal ids; request rows use `req_`.
pub const ID_PREFIX: &str = "rfs_";

const ID_VERSION: u8 = 1;
const AGENT_DIGEST_LEN: usize = 8;
/// Longer ids cannot be ours (service and operation names are short).
const MAX_ID_LEN: usize = 256;

/// The reasons answered here; every other block is recorded as a request.
const STANDING: [ReasonCode; 3] = [
    ReasonCode::AgentPaused,
    ReasonCode::AgentDisabled,
    ReasonCode::KillSwitch,
];

/// A refusal as its id describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub id: String,
    pub reason: ReasonCode,
    pub service: String,
    pub operation: String,
    pub at: OffsetDateTime,
}

/// Answers a refused submission: counts it, and renders the outcome.
pub(super) fn refuse(
    platform: &Platform,
    agent: &Agent,
    service: &str,
    operation: &str,
    reason: ReasonCode,
) -> Result<Answer, GovernanceError> {
    let now = platform.clock.now();
    let refusal = Refusal {
        id: encode_id(&agent.id, reason, service, operation, now),
        reason,
        service: service.to_owned(),
        operation: operation.to_owned(),
        at: now,
    };
    platform
        .refusals
        .count(&agent.org_id, &agent.id, reason, now);
    metrics::counter!("upivia_refused_requests_total", "reason_code" => reason.as_str())
        .increment(1);
    metrics::counter!("upivia_decisions_total", "status" => "blocked").increment(1);
    Ok(Answer {
        status: 200,
        body: render(&refusal, &agent.id),
        replayed: false,
    })
}

/// The message of a standing refusal, the same when the id is read back.
pub fn message(reason: ReasonCode, agent_id: &str) -> String {
    match reason {
        ReasonCode::AgentPaused => format!("agent {agent_id} is paused"),
        ReasonCode::AgentDisabled => format!("agent {agent_id} is disabled"),
        _ => "the organisation's kill switch is on: every request is blocked".into(),
    }
}

/// The `blocked` outcome of a refusal, in the shape of every outcome.
pub fn render(refusal: &Refusal, agent_id: &str) -> Value {
    json!({
        "status": "blocked",
        "request_id": refusal.id,
        "service": refusal.service,
        "operation": refusal.operation,
        "estimated_cost_cents": 0,
        "created_at": rfc3339(refusal.at),
        "reason_code": refusal.reason.as_str(),
        "message": message(refusal.reason, agent_id),
        "cost_cents": 0,
        "recorded": false,
    })
}

fn agent_digest(agent_id: &str) -> [u8; AGENT_DIGEST_LEN] {
    let digest = Sha256::digest(agent_id.as_bytes());
    let mut out = [0; AGENT_DIGEST_LEN];
    out.copy_from_slice(&digest[..AGENT_DIGEST_LEN]);
    out
}

fn reason_byte(reason: ReasonCode) -> u8 {
    match reason {
        ReasonCode::AgentPaused => 1,
        ReasonCode::AgentDisabled => 2,
        _ => 3,
    }
}

/// `rfs_` + base64url(version, time in ms, random, reason, agent digest,
/// service NUL operation). The random part keeps ids unique; the digest
/// ties the id to its agent without naming it.
pub fn encode_id(
    agent_id: &str,
    reason: ReasonCode,
    service: &str,
    operation: &str,
    at: OffsetDateTime,
) -> String {
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut raw =
        Vec::with_capacity(1 + 8 + 8 + 1 + AGENT_DIGEST_LEN + service.len() + 1 + operation.len());
    raw.push(ID_VERSION);
    raw.extend_from_slice(&ms.to_be_bytes());
    raw.extend_from_slice(&rand::random::<u64>().to_be_bytes());
    raw.push(reason_byte(reason));
    raw.extend_from_slice(&agent_digest(agent_id));
    raw.extend_from_slice(service.as_bytes());
    raw.push(0);
    raw.extend_from_slice(operation.as_bytes());
    format!("{ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Reads a refusal id back for `agent_id`; `None` if it is not a refusal
/// id, is malformed, or belongs to another agent.
pub fn decode_id(id: &str, agent_id: &str) -> Option<Refusal> {
    let encoded = id.strip_prefix(ID_PREFIX)?;
    if id.len() > MAX_ID_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let (&version, rest) = raw.split_first()?;
    if version != ID_VERSION || rest.len() < 8 + 8 + 1 + AGENT_DIGEST_LEN + 1 {
        return None;
    }
    let (ms, rest) = rest.split_at(8);
    let (_random, rest) = rest.split_at(8);
    let (&reason, rest) = rest.split_first()?;
    let (digest, names) = rest.split_at(AGENT_DIGEST_LEN);
    if digest != agent_digest(agent_id) {
        return None;
    }
    let reason = STANDING.into_iter().find(|r| reason_byte(*r) == reason)?;
    let (service, operation) = std::str::from_utf8(names).ok()?.split_once('\0')?;
    let ms = i128::from(u64::from_be_bytes(ms.try_into().ok()?));
    let at = OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()?;
    Some(Refusal {
        id: id.to_owned(),
        reason,
        service: service.to_owned(),
        operation: operation.to_owned(),
        at,
    })
}

// -- counting ----------------------------------------------------------------

/// Refusals per agent since its window opened, kept in memory until a
/// worker pass writes them.
#[derive(Debug, Default)]
pub struct RefusalLog {
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub org_id: String,
    pub agent_id: String,
    pub opened_at: OffsetDateTime,
    pub last_at: OffsetDateTime,
    pub counts: BTreeMap<&'static str, u64>,
}

impl Window {
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    fn merge(&mut self, other: Window) {
        self.opened_at = self.opened_at.min(other.opened_at);
        self.last_at = self.last_at.max(other.last_at);
        for (reason, n) in other.counts {
            *self.counts.entry(reason).or_default() += n;
        }
    }
}

impl RefusalLog {
    pub fn count(&self, org_id: &str, agent_id: &str, reason: ReasonCode, now: OffsetDateTime) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = windows
            .entry(agent_id.to_owned())
            .or_insert_with(|| Window {
                org_id: org_id.to_owned(),
                agent_id: agent_id.to_owned(),
                opened_at: now,
                last_at: now,
                counts: BTreeMap::new(),
            });
        window.last_at = window.last_at.max(now);
        *window.counts.entry(reason.as_str()).or_default() += 1;
    }

    /// Takes the windows opened at least [`WINDOW`] before `now` (all of
    /// them with `all`).
    pub fn take_due(&self, now: OffsetDateTime, all: bool) -> Vec<Window> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let due: Vec<String> = windows
            .iter()
            .filter(|(_, w)| all || now - w.opened_at >= WINDOW)
            .map(|(k, _)| k.clone())
            .collect();
        due.iter().filter_map(|k| windows.remove(k)).collect()
    }

    /// Puts back a window whose summary could not be written.
    pub fn restore(&self, window: Window) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match windows.get_mut(&window.agent_id) {
            Some(current) => current.merge(window),
            None => {
                windows.insert(window.agent_id.clone(), window);
            }
        }
    }
}

/// The audit entry summing one window.
pub fn summary_event(window: &Window) -> AuditEvent {
    AuditEvent::new(
        &window.org_id,
        "service_request.refused_summary",
        trail::SYSTEM,
    )
    .with_agent(&window.agent_id)
    .with_status("blocked")
    .with_details(json!({
        "count": window.total(),
        "by_reason": window.counts,
        "first_at": rfc3339(window.opened_at),
        "last_at": rfc3339(window.last_at),
        "window_secs": WINDOW.whole_seconds(),
    }))
}

/// Writes the summaries that are due (every pending one with `all`, at
/// shutdown); returns how many. A window whose write fails is kept for
/// the next pass.
pub async fn flush(platform: &Platform, all: bool) -> Result<usize, GovernanceError> {
    let now = platform.clock.now();
    let due = platform.refusals.take_due(now, all);
    let mut written = 0;
    let mut pending = due.into_iter();
    while let Some(window) = pending.next() {
        if let Err(e) = platform
            .stores
            .governance
            .append_audit(summary_event(&window), now)
            .await
        {
            platform.refusals.restore(window);
            pending.for_each(|w| platform.refusals.restore(w));
            return Err(e.into());
        }
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
