//! What the operator's snapshot counts, and the recent runs of every
//! workflow a member may see. Every figure is read from the stores on each
//! call; nothing is kept.
//!
//! - fleet: live agents (and those `active`), workflow runs `pending` or
//!   `running` (running) and `waiting_approval` (paused); rooms do not
//!   exist yet: 0.
//! - blockers: the approvals inbox's pending rows (request approvals,
//!   outcome reviews, workflow gates and publish requests); human inputs do
//!   not exist yet: 0; incidents are the agents whose health over the last
//!   24 h is `failing` (`domains/agents/health.rs`).
//! - spend: the organisation balance, what executed requests were charged
//!   this UTC month, its forecast and the days the balance lasts
//!   (`spend.rs`).
//! - scheduler leases: the workers' heartbeat and each leased job's last
//!   claim (`workers`, `CoordinationStore::leases`).

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::super::DomainError;
use super::spend;
use crate::domains::agents::health::{self, HealthClass};
use crate::domains::workflows::{inbox, service as workflows};
use crate::ids::OrgId;
use crate::model::{
    Account, AgentStatus, ApprovalStatus, HoldLimit, ReviewStatus, Role, UserPrincipal,
};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{Job, RunStatus, UsageQuery, WorkflowRun};

/// Open runs are counted up to this many per status.
const RUN_COUNT_CAP: u32 = 10_000;

/// The health window incidents are judged on.
const INCIDENT_WINDOW: (&str, time::Duration) = ("24h", time::Duration::DAY);

pub struct Snapshot {
    pub fleet: Fleet,
    pub blockers: Blockers,
    pub spend: Spend,
    pub leases: Vec<LeaseHealth>,
}

pub struct Fleet {
    pub agents_active: usize,
    pub agents_total: usize,
    pub rooms_active: usize,
    pub workflow_runs_running: usize,
    pub workflow_runs_paused: usize,
}

pub struct Blockers {
    pub pending_approvals: usize,
    pub pending_human_inputs: usize,
    pub active_incidents: usize,
}

pub struct Spend {
    pub balance: Cents,
    pub month_spend: Cents,
    pub forecast_month: Cents,
    pub days_until_exhausted: Option<i64>,
}

/// One background subsystem: healthy while its last beat or claim is
/// within ten of its intervals (at least 5 s), the readiness rule.
pub struct LeaseHealth {
    pub subsystem: &'static str,
    pub healthy: bool,
    /// `None`: never seen.
    pub heartbeat_age: Option<Duration>,
}

/// How the workers run: their interval and the leases' length.
#[derive(Clone, Copy, Debug)]
pub struct Cadence {
    pub worker_interval: Duration,
    pub lease_ttl: Duration,
}

/// The snapshot of the caller's organisation; admins and the owner.
pub async fn snapshot(
    platform: &Platform,
    user: &UserPrincipal,
    cadence: Cadence,
) -> Result<Snapshot, DomainError> {
    if user.role < Role::Admin {
        return Err(DomainError::Forbidden(
            "the operations snapshot is for admins and the owner".into(),
        ));
    }
    Ok(Snapshot {
        fleet: fleet(platform, user).await?,
        blockers: blockers(platform, user).await?,
        spend: spending(platform, user).await?,
        leases: leases(platform, cadence).await?,
    })
}

async fn fleet(platform: &Platform, user: &UserPrincipal) -> Result<Fleet, DomainError> {
    let org = OrgId::from(&user.org_id);
    let agents = platform.stores.agents.agents(&org, None).await?;
    let runs = &platform.stores.workflows;
    let mut running = 0;
    for status in [RunStatus::Pending, RunStatus::Running] {
        running += runs
            .runs(&org, None, Some(status), RUN_COUNT_CAP)
            .await?
            .len();
    }
    let paused = runs
        .runs(&org, None, Some(RunStatus::WaitingApproval), RUN_COUNT_CAP)
        .await?
        .len();
    let rooms_active = platform.stores.rooms.count_active_rooms(&org).await?;
    Ok(Fleet {
        agents_active: agents
            .iter()
            .filter(|a| a.status == AgentStatus::Active)
            .count(),
        agents_total: agents.len(),
        rooms_active: usize::try_from(rooms_active).unwrap_or(usize::MAX),
        workflow_runs_running: running,
        workflow_runs_paused: paused,
    })
}

async fn blockers(platform: &Platform, user: &UserPrincipal) -> Result<Blockers, DomainError> {
    let org = OrgId::from(&user.org_id);
    let governance = &platform.stores.governance;
    let approvals = governance
        .approvals(&org, Some(ApprovalStatus::Pending))
        .await?
        .len();
    let reviews = governance
        .outcome_reviews(&org, Some(ReviewStatus::Pending))
        .await?
        .len();
    let gates = inbox::list(platform, user, Some(ApprovalStatus::Pending))
        .await?
        .len();
    let failing = health::fleet(platform, user, INCIDENT_WINDOW)
        .await?
        .iter()
        .filter(|(_, h)| h.class == HealthClass::Failing)
        .count();
    let human_inputs = crate::domains::human_input::service::pending_count(platform, &org).await?;
    Ok(Blockers {
        pending_approvals: approvals + reviews + gates,
        pending_human_inputs: usize::try_from(human_inputs).unwrap_or(usize::MAX),
        active_incidents: failing,
    })
}

async fn spending(platform: &Platform, user: &UserPrincipal) -> Result<Spend, DomainError> {
    let now = platform.clock.now();
    let governance = &platform.stores.governance;
    let balance = governance
        .totals(Account::Org(user.org_id.clone()))
        .await?
        .available(&HoldLimit::Funds);
    let (month_start, _) = spend::month_bounds(now);
    let trend_start = crate::clock::start_of_day(now) - time::Duration::days(spend::TREND_DAYS - 1);
    let from = month_start.min(trend_start);
    let summary = governance
        .usage_summary(
            UsageQuery {
                org_id: user.org_id.clone(),
                from: Some(from),
                ..UsageQuery::default()
            },
            from,
        )
        .await?;
    let day = |t: OffsetDateTime| t.date().to_string();
    let (month_day, trend_day) = (day(month_start), day(trend_start));
    let sum = |since: &str| {
        summary
            .per_day
            .iter()
            .filter(|d| d.key.as_str() >= since)
            .fold(Cents::ZERO, |total, d| total.saturating_add(d.total))
    };
    let month_spend = sum(&month_day);
    Ok(Spend {
        balance,
        month_spend,
        forecast_month: spend::forecast_month(month_spend, now),
        days_until_exhausted: spend::days_until_exhausted(balance, sum(&trend_day)),
    })
}

/// The workers' heartbeat (every node beats the one row), then each
/// leased job. A lease is claimed for `lease_ttl` at every pass, so its
/// last claim is its expiry less that; recovery runs leased only where
/// nodes share the database.
async fn leases(platform: &Platform, cadence: Cadence) -> Result<Vec<LeaseHealth>, DomainError> {
    let allowed = |every: Duration| (every * 10).max(Duration::from_secs(5));
    let age = |now: OffsetDateTime, at: OffsetDateTime| {
        Duration::try_from(now - at).unwrap_or(Duration::ZERO)
    };
    let mut out = Vec::new();
    let beat = platform.stores.governance.last_heartbeat("workers").await?;
    let beat_age = beat.map(|at| age(platform.clock.now(), at));
    out.push(LeaseHealth {
        subsystem: "workers",
        healthy: beat_age.is_some_and(|a| a <= allowed(cadence.worker_interval)),
        heartbeat_age: beat_age,
    });
    let coordination = platform.stores.coordination.as_ref();
    let held: HashMap<Job, OffsetDateTime> = coordination
        .leases()
        .await?
        .into_iter()
        .map(|l| (l.job, l.expires_at))
        .collect();
    // Leases are judged by the coordination store's clock (the
    // database's on PostgreSQL), not the platform's.
    let now = OffsetDateTime::now_utc();
    for job in Job::ALL {
        if job == Job::Recovery && !coordination.shared() {
            continue;
        }
        let every = match job {
            Job::RateBucketRetention => Duration::from_secs(60),
            _ => cadence.worker_interval,
        };
        let claimed_age = held
            .get(&job)
            .map(|expires| age(now, *expires - cadence.lease_ttl));
        out.push(LeaseHealth {
            subsystem: job.as_str(),
            healthy: claimed_age.is_some_and(|a| a <= allowed(every)),
            heartbeat_age: claimed_age,
        });
    }
    Ok(out)
}

/// The organisation's workflow runs the caller may see (those of the
/// workflows `workflows::list` shows), newest first, at most `limit`.
pub async fn runs(
    platform: &Platform,
    user: &UserPrincipal,
    status: Option<RunStatus>,
    limit: u32,
) -> Result<Vec<(WorkflowRun, String)>, DomainError> {
    let org = OrgId::from(&user.org_id);
    let visible = workflows::list(platform, user, None).await?;
    let names: HashMap<&str, &str> = visible
        .iter()
        .map(|w| (w.id.as_str(), w.name.as_str()))
        .collect();
    let store = &platform.stores.workflows;
    let page = store.runs(&org, None, status, limit).await?;
    let hidden = page
        .iter()
        .any(|r| !names.contains_key(r.workflow_id.as_str()));
    let mut runs = if hidden && page.len() == usize::try_from(limit).unwrap_or(usize::MAX) {
        // Runs the caller may not see fill the page: read each visible
        // workflow's newest instead, and merge.
        let mut merged = Vec::new();
        for w in &visible {
            merged.extend(store.runs(&org, Some(w.id.clone()), status, limit).await?);
        }
        merged.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        merged
    } else {
        page
    };
    runs.retain(|r| names.contains_key(r.workflow_id.as_str()));
    runs.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(runs
        .into_iter()
        .map(|r| {
            let name = names[r.workflow_id.as_str()].to_owned();
            (r, name)
        })
        .collect())
}
