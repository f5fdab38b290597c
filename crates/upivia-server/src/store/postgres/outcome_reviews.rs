//! Outcome reviews on PostgreSQL. A decision is a conditional transition
//! from `pending` that locks the review row first, so two operators (on
//! any nodes) deciding at once decide it once: the second waits on the
//! lock and then finds it decided.

use sqlx::PgConnection;

use super::rows::{self, review_select};
use super::tx::TxResult;
use super::{PgStore, StoreResult, db_error};
use crate::model::{OutcomeReview, ReviewStatus};
use crate::money::Cents;
use crate::store::{ReviewDecision, StoreError};

pub(super) async fn list(
    store: &PgStore,
    org_id: &str,
    status: Option<ReviewStatus>,
) -> StoreResult<Vec<OutcomeReview>> {
    if !rows::storable(org_id) {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(concat!(
        review_select!(),
        " WHERE o.org_id = $1 AND ($2::text IS NULL OR o.status = $2) \
         ORDER BY o.created_at DESC, o.id DESC LIMIT 500"
    ))
    .bind(org_id)
    .bind(status.map(|s| s.as_str()))
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(rows::review).collect()
}

pub(super) async fn get(store: &PgStore, review_id: &str) -> StoreResult<Option<OutcomeReview>> {
    if !rows::storable(review_id) {
        return Ok(None);
    }
    let row = sqlx::query(concat!(review_select!(), " WHERE o.id = $1"))
        .bind(review_id)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(rows::review).transpose()
}

/// Opens `review` on what the request holds now.
pub(super) async fn open(
    c: &mut PgConnection,
    review: &OutcomeReview,
    held: Cents,
) -> TxResult<()> {
    sqlx::query(
        "INSERT INTO outcome_reviews (id, org_id, agent_id, request_id, provider, held_cents, \
         status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
    )
    .bind(&review.id)
    .bind(&review.org_id)
    .bind(&review.agent_id)
    .bind(&review.request_id)
    .bind(&review.provider)
    .bind(held.get())
    .bind(review.created_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Locks the pending review of `request_id`, before its request row (the
/// order every decision takes); a review already decided is a conflict.
pub(super) async fn lock_pending(
    c: &mut PgConnection,
    request_id: &str,
    decision: &ReviewDecision,
) -> TxResult<()> {
    let found = sqlx::query(
        "SELECT id FROM outcome_reviews WHERE id = $1 AND request_id = $2 \
         AND status = 'pending' FOR UPDATE",
    )
    .bind(&decision.review_id)
    .bind(request_id)
    .fetch_optional(&mut *c)
    .await?;
    if found.is_none() {
        return Err(StoreError::Conflict(format!(
            "review {} is already decided",
            decision.review_id
        ))
        .into());
    }
    Ok(())
}

/// Closes the review locked by [`lock_pending`].
pub(super) async fn decide(
    c: &mut PgConnection,
    decision: &ReviewDecision,
    charged: Cents,
    now: time::OffsetDateTime,
) -> TxResult<()> {
    sqlx::query(
        "UPDATE outcome_reviews SET status = $2, charged_cents = $3, decided_at = $4, \
         decided_by = $5 WHERE id = $1",
    )
    .bind(&decision.review_id)
    .bind(decision.status.as_str())
    .bind(charged.get())
    .bind(now)
    .bind(&decision.decided_by)
    .execute(&mut *c)
    .await?;
    Ok(())
}
