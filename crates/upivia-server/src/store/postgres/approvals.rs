//! Approval rows on PostgreSQL. A decision locks the approval row and is
//! a conditional transition from `pending`, so an approval is decided
//! exactly once however many humans (on however many nodes) click: the
//! second decider waits on the lock and then finds it decided.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::ledger::{self, Posting};
use super::rows::{self, approval_select};
use super::tx::{Step, TxResult};
use super::{PgStore, StoreResult, audit, db_error, requests};
use crate::model::{Approval, ApprovalStatus};
use crate::money::Cents;
use crate::store::{ApprovalDecision, DecideApproval, DecideRefusal, Decided, StoreError};

pub(super) async fn list(
    store: &PgStore,
    org_id: &str,
    status: Option<ApprovalStatus>,
) -> StoreResult<Vec<Approval>> {
    if !rows::storable(org_id) {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(concat!(
        approval_select!(),
        " WHERE ap.org_id = $1 AND ($2::text IS NULL OR ap.status = $2) \
         ORDER BY ap.created_at DESC, ap.id DESC LIMIT 500"
    ))
    .bind(org_id)
    .bind(status.map(|s| s.as_str()))
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(rows::approval).collect()
}

/// Pending approvals whose time ran out by `now`, oldest first.
pub(super) async fn expired(
    store: &PgStore,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<Approval>> {
    let rows = sqlx::query(concat!(
        approval_select!(),
        " WHERE ap.status = 'pending' AND ap.expires_at <= $1 ORDER BY ap.expires_at LIMIT $2"
    ))
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(rows::approval).collect()
}

pub(super) async fn get(store: &PgStore, approval_id: &str) -> StoreResult<Option<Approval>> {
    if !rows::storable(approval_id) {
        return Ok(None);
    }
    let row = sqlx::query(concat!(approval_select!(), " WHERE ap.id = $1"))
        .bind(approval_id)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    row.as_ref().map(rows::approval).transpose()
}

/// The body of `decide_approval`.
pub(super) fn decide<'c>(
    c: &'c mut PgConnection,
    (d, node, reach): &'c (DecideApproval, String, ledger::Reach),
) -> BoxFuture<'c, TxResult<Step<Result<Decided, DecideRefusal>>>> {
    Box::pin(async move {
        let refuse = |r| Ok(Step::Rollback(Err(r)));
        if !rows::storable(&d.approval_id) {
            return refuse(DecideRefusal::NotFound);
        }
        let row = sqlx::query(concat!(
            approval_select!(),
            " WHERE ap.id = $1 FOR UPDATE OF ap"
        ))
        .bind(&d.approval_id)
        .fetch_optional(&mut *c)
        .await?;
        let Some(approval) = row.as_ref().map(rows::approval).transpose()? else {
            return refuse(DecideRefusal::NotFound);
        };
        if d.org_id
            .as_deref()
            .is_some_and(|org| org != approval.org_id)
        {
            return refuse(DecideRefusal::NotFound);
        }
        if approval.status != ApprovalStatus::Pending {
            return refuse(DecideRefusal::AlreadyDecided(approval.status));
        }
        let request = requests::get_on(c, &approval.request_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if request.payload_digest != approval.payload_digest {
            // The stored request no longer matches what the human was shown.
            return Err(StoreError::Corrupt(format!(
                "approval {} does not match its request",
                approval.id
            ))
            .into());
        }
        let expired = d.now >= approval.expires_at;

        let mut held: Option<(String, Cents)> = None;
        let (approval_status, request_status, reason) = match &d.decision {
            ApprovalDecision::Approve { holds, amount } => {
                if expired {
                    return refuse(DecideRefusal::Expired);
                }
                if *amount > Cents::ZERO {
                    held = Some((requests::held_keys(holds), *amount));
                }
                ("approved", "executing", None)
            }
            ApprovalDecision::ApproveBlocked { reason, message } => {
                if expired {
                    return refuse(DecideRefusal::Expired);
                }
                ("approved", "blocked", Some((reason, message)))
            }
            ApprovalDecision::Reject { reason, message } => {
                ("rejected", "blocked", Some((reason, message)))
            }
            ApprovalDecision::Expire { reason, message } => {
                ("expired", "blocked", Some((reason, message)))
            }
        };

        let changed = sqlx::query(
            "UPDATE approvals SET status = $2, decided_at = $3, decided_by = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(&approval.id)
        .bind(approval_status)
        .bind(d.now)
        .bind(&d.decided_by)
        .execute(&mut *c)
        .await?;
        if changed.rows_affected() != 1 {
            return refuse(DecideRefusal::AlreadyDecided(approval.status));
        }
        // An approved request executes on this node.
        sqlx::query(
            "UPDATE service_requests SET status = $2, reason_code = $3, message = $4, \
             updated_at = $5, held_accounts = $6, held_cents = $7, held_stripe = $9, \
             node_id = CASE WHEN $2 = 'executing' THEN $8 END \
             WHERE id = $1 AND status = 'awaiting_approval'",
        )
        .bind(&request.id)
        .bind(request_status)
        .bind(reason.map(|(r, _)| r.as_str()))
        .bind(reason.map(|(_, m)| m.as_str()))
        .bind(d.now)
        .bind(held.as_ref().map(|(k, _)| k.as_str()))
        .bind(held.as_ref().map_or(0, |(_, c)| c.get()))
        .bind(node)
        .bind(ledger::stripe_of(&request.id))
        .execute(&mut *c)
        .await?;
        for event in &d.audit {
            audit::insert(c, event, d.now).await?;
        }
        // The holds last, as when a request opens: the shortest lock hold.
        if let ApprovalDecision::Approve { holds, amount } = &d.decision {
            let posting = Posting {
                org_id: &request.org_id,
                request_id: Some(&request.id),
                note: None,
                now: d.now,
                transfer_id: None,
            };
            let stripe = ledger::stripe_of(&request.id);
            if let Err((account, available)) =
                ledger::reserve(c, holds, *amount, &posting, stripe, reach).await?
            {
                return refuse(DecideRefusal::HoldRefused { account, available });
            }
        }
        let request = requests::get_on(c, &request.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Step::Commit(Ok(if request_status == "executing" {
            Decided::Reserved(request)
        } else {
            Decided::Closed(request)
        })))
    })
}
