//! `GET /usage`: charged executions with filters and their total.

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
use crate::store::UsageQuery;

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
    let org_id = user.0.org_id.clone();
    let page = state
        .platform
        .store
        .usage(UsageQuery {
            org_id: org_id.clone(),
            agent_id: q.agent_id.clone(),
            from: parse_time("from", q.from.as_deref())?,
            to: parse_time("to", q.to.as_deref())?,
            limit,
        })
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
        let totals = state.platform.store.totals(Account::Org(org_id)).await?;
        let mut per_agent = std::collections::BTreeMap::<String, i64>::new();
        for r in &page.records {
            *per_agent.entry(r.agent_id.clone()).or_default() += r.cost.get();
        }
        body["balance_cents"] = json!(totals.available(&HoldLimit::Funds).get());
        body["per_agent"] = json!(
            per_agent
                .into_iter()
                .map(|(agent_id, cents)| json!({"agent_id": agent_id, "total_cents": cents}))
                .collect::<Vec<_>>()
        );
    }
    Ok(AxumJson(body))
}
