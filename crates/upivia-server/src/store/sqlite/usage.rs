//! Usage: the executed requests, what they were charged, and their totals
//! per agent and per day. Every query reads the partial index of executed
//! requests by organisation and time.

use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::{db_error, rows};
use crate::money::Cents;
use crate::store::{StoreResult, UsagePage, UsageQuery, UsageSummary, UsageTotal};

/// The filter of a usage query: `?1` org, `?2` agent, `?3` from, `?4` to.
const FILTER: &str = "org_id = ?1 AND status = 'executed' AND (?2 IS NULL OR agent_id = ?2) \
     AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)";

pub(super) fn page(conn: &Connection, q: &UsageQuery) -> StoreResult<UsagePage> {
    let from = q.from.map(rows::ts);
    let to = q.to.map(rows::ts);
    let total: i64 = conn
        .query_row(
            &format!("SELECT COALESCE(SUM(cost_cents), 0) FROM service_requests WHERE {FILTER}"),
            params![q.org_id, q.agent_id, from, to],
            |r| r.get(0),
        )
        .map_err(db_error)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, agent_id, service, operation, cost_cents, created_at \
             FROM service_requests WHERE {FILTER} ORDER BY created_at DESC, id DESC LIMIT ?5"
        ))
        .map_err(db_error)?;
    let records = stmt
        .query_map(
            params![q.org_id, q.agent_id, from, to, i64::from(q.limit)],
            rows::usage_record,
        )
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(UsagePage {
        records,
        total: Cents::new(total),
    })
}

pub(super) fn summary(
    conn: &Connection,
    q: &UsageQuery,
    days_from: OffsetDateTime,
) -> StoreResult<UsageSummary> {
    let from = q.from.map(rows::ts);
    let to = q.to.map(rows::ts);
    let per_agent = totals(
        conn,
        &format!(
            "SELECT agent_id, COUNT(*), COALESCE(SUM(cost_cents), 0) FROM service_requests \
             WHERE {FILTER} GROUP BY agent_id ORDER BY agent_id"
        ),
        params![q.org_id, q.agent_id, from, to],
    )?;
    // Timestamps are stored as RFC 3339 in UTC, so the day is their first
    // ten characters.
    let per_day = totals(
        conn,
        &format!(
            "SELECT substr(created_at, 1, 10) AS day, COUNT(*), COALESCE(SUM(cost_cents), 0) \
             FROM service_requests WHERE {FILTER} GROUP BY day ORDER BY day"
        ),
        params![
            q.org_id,
            q.agent_id,
            rows::ts(days_from),
            Option::<String>::None
        ],
    )?;
    Ok(UsageSummary { per_agent, per_day })
}

fn totals(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<UsageTotal>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    stmt.query_map(params, |r| {
        Ok(UsageTotal {
            key: r.get(0)?,
            requests: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            total: Cents::new(r.get(2)?),
        })
    })
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}
