//! Outcome reviews: a request that died after its provider was called
//! keeps its hold under a review an operator decides once. The decision is
//! a conditional transition from `pending`, made in the transaction that
//! settles or releases the request.

use rusqlite::{Connection, OptionalExtension, params};

use super::writer::WriteCtx;
use super::{db_error, rows};
use crate::model::{OutcomeReview, ReviewStatus};
use crate::money::Cents;
use crate::store::{ReviewDecision, StoreError, StoreResult};

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    status: Option<ReviewStatus>,
) -> StoreResult<Vec<OutcomeReview>> {
    let sql = format!(
        "{} WHERE o.org_id = ?1 AND (?2 IS NULL OR o.status = ?2) \
         ORDER BY o.created_at DESC, o.id DESC LIMIT 500",
        rows::REVIEW_SELECT
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let out = stmt
        .query_map(params![org_id, status.map(|s| s.as_str())], rows::review)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

pub(super) fn get(conn: &Connection, review_id: &str) -> StoreResult<Option<OutcomeReview>> {
    let sql = format!("{} WHERE o.id = ?1", rows::REVIEW_SELECT);
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([review_id], rows::review).optional())
        .map_err(db_error)
}

/// Opens `review` on what the request holds now.
pub(super) fn open(ctx: &mut WriteCtx<'_>, review: &OutcomeReview, held: Cents) -> StoreResult<()> {
    ctx.conn
        .prepare_cached(
            "INSERT INTO outcome_reviews (id, org_id, agent_id, request_id, provider, held_cents, \
             status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
        )
        .and_then(|mut s| {
            s.execute(params![
                review.id,
                review.org_id,
                review.agent_id,
                review.request_id,
                review.provider,
                held.get(),
                rows::ts(review.created_at),
            ])
        })
        .map_err(db_error)?;
    Ok(())
}

/// Closes the pending review of `request_id`; a review already decided
/// (or of another request) is a conflict, and the caller's transaction
/// writes nothing.
pub(super) fn decide(
    ctx: &mut WriteCtx<'_>,
    request_id: &str,
    decision: &ReviewDecision,
    charged: Cents,
    now: &str,
) -> StoreResult<()> {
    let changed = ctx
        .conn
        .prepare_cached(
            "UPDATE outcome_reviews SET status = ?3, charged_cents = ?4, decided_at = ?5, \
             decided_by = ?6 WHERE id = ?1 AND request_id = ?2 AND status = 'pending'",
        )
        .and_then(|mut s| {
            s.execute(params![
                decision.review_id,
                request_id,
                decision.status.as_str(),
                charged.get(),
                now,
                decision.decided_by,
            ])
        })
        .map_err(db_error)?;
    if changed != 1 {
        return Err(StoreError::Conflict(format!(
            "review {} is already decided",
            decision.review_id
        )));
    }
    Ok(())
}
