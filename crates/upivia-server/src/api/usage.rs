//! `GET /usage`: charged executions with filters and their total.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Query, UserAuth};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::model::{Account, HoldLimit};
use crate::store::{UsageQuery, UsageTotal};

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/usage", get(list))
}

#[derive(Deserialize)]
struct ListUsage {
    agent_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    include_chart: Option<String>,
}

pub(super) fn parse_time(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<time::OffsetDateTime>, ApiError> {
    raw.map(|r| {
        parse_rfc3339(r).ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "{field} must be an ISO-8601 datetime with a time zone"
            ))
        })
    })
    .transpose()
}

/// Days in the activity chart, today (UTC) included.
const CHART_DAYS: i64 = 14;

/// The activity view's extras: the balance, per-agent totals over the
/// page's filter (all of it, not just the page), and a day-by-day series
/// of the last [`CHART_DAYS`] days (same agent filter), days without
/// charges included as zeros.
async fn chart(state: &AppState, query: UsageQuery) -> Result<Value, ApiError> {
    let org = Account::Org(query.org_id.clone());
    let today = state
        .platform
        .clock
        .now()
        .to_offset(time::UtcOffset::UTC)
        .date();
    let first = today - time::Duration::days(CHART_DAYS - 1);
    let summary = state
        .platform
        .stores
        .governance
        .usage_summary(query, first.midnight().assume_utc())
        .await?;
    let totals = state.platform.stores.governance.totals(org).await?;
    let per_day: HashMap<&str, &UsageTotal> = summary
        .per_day
        .iter()
        .map(|t| (t.key.as_str(), t))
        .collect();
    let days: Vec<Value> = (0..CHART_DAYS)
        .map(|i| {
            let date = (first + time::Duration::days(i)).to_string();
            let (requests, cents) = per_day
                .get(date.as_str())
                .map_or((0, 0), |t| (t.requests, t.total.get()));
            json!({"date": date, "requests": requests, "total_cents": cents})
        })
        .collect();
    let per_agent: Vec<Value> = summary
        .per_agent
        .iter()
        .map(|t| json!({"agent_id": t.key, "requests": t.requests, "total_cents": t.total.get()}))
        .collect();
    Ok(json!({
        "balance_cents": totals.available(&HoldLimit::Funds).get(),
        "per_agent": per_agent,
        "chart": {"days": days},
    }))
}

pub(super) fn parse_flag(raw: Option<&str>) -> bool {
    matches!(raw, Some("1") | Some("true") | Some("yes"))
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListUsage>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest("limit must be an integer from 1 to 500".into())
            })?,
    };
    let query = UsageQuery {
        org_id: user.0.org_id.clone(),
        agent_id: q.agent_id.clone(),
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        limit,
    };
    let page = state
        .platform
        .stores
        .governance
        .usage(query.clone())
        .await?;
    let records: Vec<Value> = page
        .records
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "agent_id": r.agent_id,
                "request_id": r.request_id,
                "service": r.service,
                "operation": r.operation,
                "cost_cents": r.cost.get(),
                "created_at": rfc3339(r.created_at),
            })
        })
        .collect();
    let mut body = json!({"total_cents": page.total.get(), "records": records});
    if parse_flag(q.include_chart.as_deref()) {
        let extras = chart(&state, query).await?;
        if let (Some(body), Value::Object(extras)) = (body.as_object_mut(), extras) {
            body.extend(extras);
        }
    }
    Ok(AxumJson(body))
}
