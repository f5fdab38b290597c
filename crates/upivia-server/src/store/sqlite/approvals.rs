//! Approval rows. A decision is one conditional transition from `pending`,
//! so an approval is decided exactly once however many humans click.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::ledger::Posting;
use super::writer::WriteCtx;
use super::{audit, db_error, requests, rows};
use crate::model::{Approval, ApprovalStatus, EntryKind};
use crate::money::Cents;
use crate::store::{
    ApprovalDecision, DecideApproval, DecideRefusal, Decided, StoreError, StoreResult,
};

pub(super) fn list(
    conn: &Connection,
    org_id: &str,
    status: Option<ApprovalStatus>,
) -> StoreResult<Vec<Approval>> {
    let sql = format!(
        "{} WHERE ap.org_id = ?1 AND (?2 IS NULL OR ap.status = ?2) ORDER BY ap.created_at DESC, ap.id DESC LIMIT 500",
        rows::APPROVAL_SELECT
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let out = stmt
        .query_map(params![org_id, status.map(|s| s.as_str())], rows::approval)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

/// Pending approvals whose time ran out by `?1`, oldest first, at most `?2`.
pub(super) fn expired_sql() -> String {
    format!(
        "{} WHERE ap.status = 'pending' AND ap.expires_at <= ?1 ORDER BY ap.expires_at LIMIT ?2",
        rows::APPROVAL_SELECT
    )
}

pub(super) fn expired(
    conn: &Connection,
    now: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<Approval>> {
    let mut stmt = conn.prepare_cached(&expired_sql()).map_err(db_error)?;
    let out = stmt
        .query_map(params![rows::ts(now), i64::from(limit)], rows::approval)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

pub(super) fn get(conn: &Connection, approval_id: &str) -> StoreResult<Option<Approval>> {
    let sql = format!("{} WHERE ap.id = ?1", rows::APPROVAL_SELECT);
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([approval_id], rows::approval).optional())
        .map_err(db_error)
}

pub(super) fn decide(
    ctx: &mut WriteCtx<'_>,
    d: DecideApproval,
) -> StoreResult<Result<Decided, DecideRefusal>> {
    let Some(approval) = get(ctx.conn, &d.approval_id)? else {
        return Ok(Err(DecideRefusal::NotFound));
    };
    if d.org_id
        .as_deref()
        .is_some_and(|org| org != approval.org_id)
    {
        return Ok(Err(DecideRefusal::NotFound));
    }
    if approval.status != ApprovalStatus::Pending {
        return Ok(Err(DecideRefusal::AlreadyDecided(approval.status)));
    }
    let request = requests::get(ctx.conn, &approval.request_id)?.ok_or(StoreError::NotFound)?;
    if request.payload_digest != approval.payload_digest {
        // The stored request no longer matches what the human was shown.
        return Err(StoreError::Corrupt(format!(
            "approval {} does not match its request",
            approval.id
        )));
    }
    let expired = d.now >= approval.expires_at;
    let now = rows::ts(d.now);

    let mut held: Option<(String, Cents)> = None;
    let (approval_status, request_status, reason) = match &d.decision {
        ApprovalDecision::Approve { holds, amount } => {
            if expired {
                return Ok(Err(DecideRefusal::Expired));
            }
            for hold in holds {
                let available = ctx.totals(&hold.account)?.available(&hold.limit);
                if available < *amount {
                    return Ok(Err(DecideRefusal::HoldRefused {
                        account: hold.account.clone(),
                        available,
                    }));
                }
            }
            if *amount > Cents::ZERO {
                held = Some((requests::held_keys(holds), *amount));
                for hold in holds {
                    ctx.post(Posting {
                        org_id: &request.org_id,
                        account: &hold.account,
                        kind: EntryKind::Reserve,
                        amount: *amount,
                        request_id: Some(&request.id),
                        note: None,
                        now: &now,
                        transfer_id: None,
                    })?;
                }
            }
            ("approved", "executing", None)
        }
        ApprovalDecision::ApproveBlocked { reason, message } => {
            if expired {
                return Ok(Err(DecideRefusal::Expired));
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

    let changed = ctx
        .conn
        .prepare_cached(
            "UPDATE approvals SET status = ?2, decided_at = ?3, decided_by = ?4 \
             WHERE id = ?1 AND status = 'pending'",
        )
        .and_then(|mut s| s.execute(params![approval.id, approval_status, now, d.decided_by]))
        .map_err(db_error)?;
    if changed != 1 {
        return Ok(Err(DecideRefusal::AlreadyDecided(approval.status)));
    }
    ctx.conn
        .prepare_cached(
            "UPDATE service_requests SET status = ?2, reason_code = ?3, message = ?4, updated_at = ?5, \
             held_accounts = ?6, held_cents = ?7 WHERE id = ?1 AND status = 'awaiting_approval'",
        )
        .and_then(|mut s| {
            s.execute(params![
                request.id,
                request_status,
                reason.map(|(r, _)| r.as_str()),
                reason.map(|(_, m)| m.as_str()),
                now,
                held.as_ref().map(|(k, _)| k.as_str()),
                held.as_ref().map_or(0, |(_, c)| c.get()),
            ])
        })
        .map_err(db_error)?;
    for event in d.audit {
        audit::append(ctx, event, d.now)?;
    }
    let request = requests::get(ctx.conn, &request.id)?.ok_or(StoreError::NotFound)?;
    Ok(Ok(if request_status == "executing" {
        Decided::Reserved(request)
    } else {
        Decided::Closed(request)
    }))
}
