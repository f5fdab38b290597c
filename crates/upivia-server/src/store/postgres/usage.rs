//! Usage on PostgreSQL: the executed requests, what they were charged, and
//! their totals per agent and per UTC day, read through the partial index
//! of executed requests by organisation and time.

use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::rows::{self, get};
use super::{PgStore, StoreResult, db_error};
use crate::money::Cents;
use crate::store::{UsagePage, UsageQuery, UsageSummary, UsageTotal};

/// The filter of a usage query: `$1` org, `$2` agent, `$3` from, `$4` to.
macro_rules! usage_filter {
    () => {
        "org_id = $1 AND status = 'executed' AND ($2::text IS NULL OR agent_id = $2) \
         AND ($3::timestamptz IS NULL OR created_at >= $3) \
         AND ($4::timestamptz IS NULL OR created_at < $4)"
    };
}

/// A filter naming what cannot be stored matches nothing.
fn matches_nothing(q: &UsageQuery) -> bool {
    !rows::storable(&q.org_id) || q.agent_id.as_deref().is_some_and(|a| !rows::storable(a))
}

pub(super) async fn page(store: &PgStore, q: &UsageQuery) -> StoreResult<UsagePage> {
    if matches_nothing(q) {
        return Ok(UsagePage {
            records: Vec::new(),
            total: Cents::ZERO,
        });
    }
    let total: i64 = sqlx::query_scalar(concat!(
        "SELECT COALESCE(SUM(cost_cents), 0)::bigint FROM service_requests WHERE ",
        usage_filter!()
    ))
    .bind(&q.org_id)
    .bind(&q.agent_id)
    .bind(q.from)
    .bind(q.to)
    .fetch_one(&store.pool)
    .await
    .map_err(db_error)?;
    let found = sqlx::query(concat!(
        "SELECT id, agent_id, service, operation, cost_cents, created_at \
         FROM service_requests WHERE ",
        usage_filter!(),
        " ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(&q.org_id)
    .bind(&q.agent_id)
    .bind(q.from)
    .bind(q.to)
    .bind(i64::from(q.limit))
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(UsagePage {
        records: found
            .iter()
            .map(rows::usage_record)
            .collect::<StoreResult<_>>()?,
        total: Cents::new(total),
    })
}

pub(super) async fn summary(
    store: &PgStore,
    q: &UsageQuery,
    days_from: OffsetDateTime,
) -> StoreResult<UsageSummary> {
    if matches_nothing(q) {
        return Ok(UsageSummary::default());
    }
    let per_agent = sqlx::query(concat!(
        "SELECT agent_id AS key, COUNT(*) AS requests, \
         COALESCE(SUM(cost_cents), 0)::bigint AS total FROM service_requests WHERE ",
        usage_filter!(),
        " GROUP BY agent_id ORDER BY agent_id"
    ))
    .bind(&q.org_id)
    .bind(&q.agent_id)
    .bind(q.from)
    .bind(q.to)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    let per_day = sqlx::query(concat!(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS key, \
         COUNT(*) AS requests, COALESCE(SUM(cost_cents), 0)::bigint AS total \
         FROM service_requests WHERE ",
        usage_filter!(),
        " GROUP BY key ORDER BY key"
    ))
    .bind(&q.org_id)
    .bind(&q.agent_id)
    .bind(days_from)
    .bind(Option::<OffsetDateTime>::None)
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(UsageSummary {
        per_agent: per_agent.iter().map(total).collect::<StoreResult<_>>()?,
        per_day: per_day.iter().map(total).collect::<StoreResult<_>>()?,
    })
}

fn total(row: &PgRow) -> StoreResult<UsageTotal> {
    Ok(UsageTotal {
        key: get(row, "key")?,
        requests: u64::try_from(get::<i64>(row, "requests")?).unwrap_or(0),
        total: Cents::new(get(row, "total")?),
    })
}
