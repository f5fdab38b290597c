//! The terminal client's operations views (API.md §2.22): `GET
//! /ops/snapshot` (admins and the owner) and `GET /ops/runs` (recent runs
//! of every workflow the caller may see). The figures are
//! `domains/ops/service.rs`'s.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Query, UserAuth};
use super::workflows::run_json;
use crate::domains::ops::service::{self, Cadence};
use crate::store::RunStatus;

/// Runs listed when no `limit` is given, and the most one page holds.
const DEFAULT_RUNS: u32 = 25;
const MAX_RUNS: u32 = 100;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/snapshot", get(snapshot))
        .route("/ops/runs", get(runs))
}

async fn snapshot(
    State(state): State<AppState>,
    AdminAuth(user): AdminAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let cadence = Cadence {
        worker_interval: state.config.worker_interval,
        lease_ttl: state.workers.lease_ttl(),
    };
    let s = service::snapshot(&state.platform, &user, cadence).await?;
    let leases: Vec<Value> = s
        .leases
        .iter()
        .map(|l| {
            json!({
                "subsystem": l.subsystem,
                "healthy": l.healthy,
                "heartbeat_age_s": l.heartbeat_age.map(|a| a.as_secs()),
            })
        })
        .collect();
    Ok(AxumJson(json!({
        "fleet": {
            "agents_active": s.fleet.agents_active,
            "agents_total": s.fleet.agents_total,
            "rooms_active": s.fleet.rooms_active,
            "workflow_runs_running": s.fleet.workflow_runs_running,
            "workflow_runs_paused": s.fleet.workflow_runs_paused,
        },
        "blockers": {
            "pending_approvals": s.blockers.pending_approvals,
            "pending_human_inputs": s.blockers.pending_human_inputs,
            "active_incidents": s.blockers.active_incidents,
        },
        "spend": {
            "balance_cents": s.spend.balance.get(),
            "month_spend_cents": s.spend.month_spend.get(),
            "forecast_month_cents": s.spend.forecast_month.get(),
            "days_until_balance_exhausted": s.spend.days_until_exhausted,
        },
        "automation": {"scheduler_leases": leases},
    })))
}

#[derive(Deserialize)]
struct RunsQuery {
    status: Option<String>,
    limit: Option<String>,
}

async fn runs(
    State(state): State<AppState>,
    UserAuth(user): UserAuth,
    Query(q): Query<RunsQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(raw) => Some(RunStatus::parse(raw).ok_or_else(|| {
            let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::InvalidRequest(format!(
                "status must be one of {} or all; got {raw:?}",
                known.join(", ")
            ))
        })?),
    };
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_RUNS,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_RUNS).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "limit must be an integer from 1 to {MAX_RUNS}; got {raw:?}"
                ))
            })?,
    };
    let runs = service::runs(&state.platform, &user, status, limit).await?;
    let rows: Vec<Value> = runs
        .iter()
        .map(|(run, name)| run_json(run, Some(name), None))
        .collect();
    Ok(AxumJson(json!({"runs": rows})))
}
