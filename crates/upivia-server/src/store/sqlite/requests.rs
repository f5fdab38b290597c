//! Governed requests: the first write (idempotency claim, limits, holds,
//! request row, audit) and the last (settle or release, usage, response).

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::ledger::Posting;
use super::writer::WriteCtx;
use super::{audit, db_error, outcome_reviews, rows};
use crate::model::{
    Account, EntryKind, Hold, ReasonCode, RequestStatus, ServiceRequest, is_spending_key,
};
use crate::money::Cents;
use crate::store::{
    DailyLimit, Disposition, Finish, FinishRequest, IdempotencyRecord, LimitScope, OpenRequest,
    Opened, StoreError, StoreResult, StoredResponse,
};

pub(super) fn idempotency(
    conn: &Connection,
    agent_id: &str,
    key: &str,
) -> StoreResult<Option<IdempotencyRecord>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT fingerprint, request_id, response_status, response_body \
             FROM idempotency_keys WHERE agent_id = ?1 AND key = ?2",
        )
        .map_err(db_error)?;
    let row = stmt
        .query_row(params![agent_id, key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()
        .map_err(db_error)?;
    let Some((fingerprint, request_id, status, body)) = row else {
        return Ok(None);
    };
    let response = match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("bad stored status {status}")))?,
            body: serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("bad stored response: {e}")))?,
        }),
        _ => None,
    };
    Ok(Some(IdempotencyRecord {
        fingerprint,
        request_id,
        response,
    }))
}

fn limit_key(limit: &DailyLimit) -> String {
    let day = &rows::ts(limit.day_start)[..10];
    match &limit.scope {
        LimitScope::Agent(id) => format!("agent:{id}:{day}"),
        LimitScope::Binding(id) => format!("binding:{id}:{day}"),
    }
}

/// Deletes the oldest keys (by rowid, which grows with creation time: one
/// writer inserts them in order) among the `limit` oldest, when created
/// before `created_before`. Looking at a fixed number of the first rows
/// keeps each call bounded with no index on the creation time.
pub(super) fn purge_idempotency(
    conn: &Connection,
    created_before: OffsetDateTime,
    limit: u32,
) -> StoreResult<usize> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE rowid IN \
         (SELECT rowid FROM idempotency_keys ORDER BY rowid LIMIT ?2) AND created_at < ?1",
    )
    .and_then(|mut s| s.execute(params![rows::ts(created_before), i64::from(limit)]))
    .map_err(db_error)
}

/// Today's requests of an agent that count toward its daily limit.
pub(super) const AGENT_DAY_COUNT: &str = "SELECT COUNT(*) FROM service_requests \
     WHERE agent_id = ?1 AND created_at >= ?2 AND counts_toward_limits = 1";

/// The same for a binding. A binding belongs to one agent, so the agent's
/// index bounds the count to today's requests without an index of its own.
pub(super) const BINDING_DAY_COUNT: &str = "SELECT COUNT(*) FROM service_requests \
     WHERE agent_id = (SELECT agent_id FROM bindings WHERE id = ?1) \
     AND binding_id = ?1 AND created_at >= ?2 AND counts_toward_limits = 1";

pub(super) fn count_today(conn: &Connection, limit: &DailyLimit) -> StoreResult<u32> {
    let (sql, id) = match &limit.scope {
        LimitScope::Agent(id) => (AGENT_DAY_COUNT, id),
        LimitScope::Binding(id) => (BINDING_DAY_COUNT, id),
    };
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row(params![id, rows::ts(limit.day_start)], |r| r.get(0)))
        .map_err(db_error)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(super) fn open(ctx: &mut WriteCtx<'_>, open: &OpenRequest) -> StoreResult<Opened> {
    let req = &open.request;
    if let Some(claim) = &open.idempotency
        && let Some(existing) = idempotency(ctx.conn, &req.agent_id, &claim.key)?
    {
        return Ok(Opened::Existing(existing));
    }

    let (limits, counts) = match &open.disposition {
        Disposition::Final { .. } => (&[][..], false),
        Disposition::AwaitApproval { limits, .. } | Disposition::Reserve { limits, .. } => {
            (&limits[..], true)
        }
    };
    let mut limit_keys = Vec::with_capacity(limits.len());
    for limit in limits {
        let key = limit_key(limit);
        let used = ctx.daily_count(&key, |conn| count_today(conn, limit))?;
        if limit.is_reached(used) {
            return Ok(Opened::LimitReached {
                scope: limit.scope.clone(),
                limit: limit.limit,
            });
        }
        limit_keys.push(key);
    }
    if let Disposition::Reserve { holds, amount, .. } = &open.disposition {
        for hold in holds {
            let available = ctx.totals(&hold.account)?.available(&hold.limit);
            if available < *amount {
                return Ok(Opened::HoldRefused {
                    account: hold.account.clone(),
                    available,
                });
            }
        }
    }

    let held = match &open.disposition {
        Disposition::Reserve { holds, amount, .. } => Some((&holds[..], *amount)),
        _ => None,
    };
    insert_request(ctx.conn, req, counts, held)?;
    let now = rows::ts(req.created_at);
    let response = match &open.disposition {
        Disposition::Final { response } => Some(response),
        Disposition::AwaitApproval {
            approval, response, ..
        } => {
            ctx.conn
                .prepare_cached(
                    "INSERT INTO approvals (id, org_id, agent_id, request_id, payload_digest, status, \
                     estimated_cost_cents, expires_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        approval.id,
                        approval.org_id,
                        approval.agent_id,
                        req.id,
                        approval.payload_digest,
                        approval.estimated_cost.get(),
                        rows::ts(approval.expires_at),
                        now,
                    ])
                })
                .map_err(db_error)?;
            Some(response)
        }
        Disposition::Reserve { holds, amount, .. } => {
            if *amount > Cents::ZERO {
                for hold in holds {
                    ctx.post(Posting {
                        org_id: &req.org_id,
                        account: &hold.account,
                        kind: EntryKind::Reserve,
                        amount: *amount,
                        request_id: Some(&req.id),
                        note: None,
                        now: &now,
                        transfer_id: None,
                    })?;
                }
            }
            None
        }
    };
    for key in &limit_keys {
        ctx.bump_daily(key);
    }
    if let Some(claim) = &open.idempotency {
        ctx.conn
            .prepare_cached(
                "INSERT INTO idempotency_keys (agent_id, key, fingerprint, request_id, response_status, \
                 response_body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    req.agent_id,
                    claim.key,
                    claim.fingerprint,
                    req.id,
                    response.map(|r| i64::from(r.status)),
                    response.map(|r| r.body.to_string()),
                    now,
                ])
            })
            .map_err(db_error)?;
    }
    if let Some(event) = &open.audit {
        audit::append(ctx, event.clone(), req.created_at)?;
    }
    Ok(Opened::Recorded)
}

pub(super) const INSERT_REQUEST: &str = "INSERT INTO service_requests (id, org_id, agent_id, \
     binding_id, service, operation, payload, metadata, payload_digest, status, \
     counts_toward_limits, reason_code, message, estimated_cost_cents, initial_cost_cents, \
     cost_cents, result, provider, external_id, approval_id, idempotency_key, created_at, \
     started_at, updated_at, held_accounts, held_cents) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)";

fn insert_request(
    conn: &Connection,
    req: &ServiceRequest,
    counts: bool,
    held: Option<(&[Hold], Cents)>,
) -> StoreResult<()> {
    let (held_accounts, held_cents) = match held {
        Some((holds, amount)) if amount > Cents::ZERO => (Some(held_keys(holds)), amount.get()),
        _ => (None, 0),
    };
    conn.prepare_cached(INSERT_REQUEST)
        .and_then(|mut s| {
            s.execute(params![
                req.id,
                req.org_id,
                req.agent_id,
                req.binding_id,
                req.service,
                req.operation,
                req.payload.to_string(),
                req.metadata.as_ref().map(|m| m.to_string()),
                req.payload_digest,
                req.status.as_str(),
                counts,
                req.reason_code.map(|r| r.as_str()),
                req.message,
                req.estimated_cost.get(),
                rows::opt_i64(req.initial_cost),
                req.cost.get(),
                req.result.as_ref().map(|r| r.to_string()),
                req.provider,
                req.external_id,
                req.approval_id,
                req.idempotency_key,
                rows::ts(req.created_at),
                req.started_at.map(rows::ts),
                rows::ts(req.updated_at),
                held_accounts,
                held_cents,
            ])
        })
        .map_err(db_error)?;
    Ok(())
}

/// The JSON list of account keys stored in `held_accounts`.
pub(super) fn held_keys(holds: &[Hold]) -> String {
    serde_json::Value::from(holds.iter().map(|h| h.account.key()).collect::<Vec<_>>()).to_string()
}

pub(super) fn get(conn: &Connection, request_id: &str) -> StoreResult<Option<ServiceRequest>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE r.id = ?1",
        rows::REQUEST_COLUMNS,
        rows::REQUEST_FROM
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([request_id], rows::request).optional())
        .map_err(db_error)
}

/// The oldest requests in `status`, at most `?1`. The status is spelled
/// out in the SQL, never bound: only then can SQLite match it to the partial
/// index of that status (migration 0002).
pub(super) fn in_status_sql(status: RequestStatus) -> String {
    format!(
        "SELECT {} FROM {} WHERE r.status = '{}' ORDER BY r.created_at LIMIT ?1",
        rows::REQUEST_COLUMNS,
        rows::REQUEST_FROM,
        status.as_str()
    )
}

pub(super) fn in_status(
    conn: &Connection,
    status: RequestStatus,
    limit: u32,
) -> StoreResult<Vec<ServiceRequest>> {
    let mut stmt = conn
        .prepare_cached(&in_status_sql(status))
        .map_err(db_error)?;
    let out = stmt
        .query_map(params![i64::from(limit)], rows::request)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(out)
}

/// Settles `charge` (capped at `held`) out of what `request_id` holds on
/// each of `accounts`, when given, and releases the rest. Returns what was
/// settled where the request's money is (balance or pool). The caller clears the row's hold.
fn close_holds(
    ctx: &mut WriteCtx<'_>,
    org_id: &str,
    request_id: &str,
    (accounts, held): (Option<String>, Cents),
    charge: Option<Cents>,
    now: &str,
) -> StoreResult<Cents> {
    let Some(accounts) = accounts.filter(|_| held > Cents::ZERO) else {
        return Ok(Cents::ZERO);
    };
    let keys: Vec<String> = serde_json::from_str(&accounts)
        .map_err(|e| StoreError::Corrupt(format!("bad held_accounts on {request_id}: {e}")))?;
    let amount = charge.map_or(Cents::ZERO, |c| c.min(held).max(Cents::ZERO));
    let rest = held.checked_sub(amount).unwrap_or(Cents::ZERO);
    let mut settled = Cents::ZERO;
    for key in keys {
        let account = Account::parse(&key)
            .ok_or_else(|| StoreError::Corrupt(format!("bad account key {key}")))?;
        for (kind, value) in [(EntryKind::Settle, amount), (EntryKind::Release, rest)] {
            if value > Cents::ZERO {
                ctx.post(Posting {
                    org_id,
                    account: &account,
                    kind,
                    amount: value,
                    request_id: Some(request_id),
                    note: None,
                    now,
                    transfer_id: None,
                })?;
            }
        }
        if is_spending_key(&key) {
            settled = amount;
        }
    }
    Ok(settled)
}

pub(super) const FINISH_REQUEST: &str = "UPDATE service_requests SET status = ?2, cost_cents = ?3, \
     result = ?4, provider = ?5, external_id = ?6, initial_cost_cents = ?7, started_at = ?8, \
     reason_code = ?9, message = ?10, updated_at = ?11, \
     held_cents = CASE WHEN ?12 THEN held_cents ELSE 0 END, \
     held_accounts = CASE WHEN ?12 THEN held_accounts ELSE NULL END \
     WHERE id = ?1";

pub(super) fn finish(ctx: &mut WriteCtx<'_>, f: FinishRequest) -> StoreResult<ServiceRequest> {
    let mut req = f.request;
    let current: Option<(String, Option<String>, i64)> = ctx
        .conn
        .prepare_cached(
            "SELECT status, held_accounts, held_cents FROM service_requests WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([&req.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(db_error)?;
    let (status, accounts, held) = current.ok_or(StoreError::NotFound)?;
    let status = RequestStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("bad status {status}")))?;
    // A request left `failed` with its hold (outcome unknown) is finished
    // again only by its review's decision, which the review's own
    // transition makes once.
    let open = matches!(
        (&f.review, status),
        (None, RequestStatus::Executing | RequestStatus::Running)
            | (Some(_), RequestStatus::Failed)
    );
    if !open {
        return Err(StoreError::Conflict(format!(
            "request {} is {} and cannot be finished",
            req.id,
            status.as_str()
        )));
    }
    let hold = (accounts, Cents::new(held));
    let now = rows::ts(f.now);
    let mut event = f.audit;
    req.updated_at = f.now;
    let mut keep_hold = false;
    match f.outcome {
        Finish::Executed {
            result,
            charge,
            provider,
        } => {
            let charged = close_holds(ctx, &req.org_id, &req.id, hold, Some(charge), &now)?;
            req.status = RequestStatus::Executed;
            req.cost = charged;
            req.result = Some(result);
            req.provider = Some(provider);
            event.cost = Some(charged);
        }
        Finish::Failed { reason, message } => {
            close_holds(ctx, &req.org_id, &req.id, hold, None, &now)?;
            req.status = RequestStatus::Failed;
            req.reason_code = Some(reason);
            req.message = Some(message);
        }
        Finish::Running {
            provider,
            external_id,
            initial_cost,
        } => {
            req.status = RequestStatus::Running;
            req.provider = Some(provider);
            req.external_id = Some(external_id);
            req.initial_cost = Some(initial_cost);
            req.started_at = Some(f.now);
            // Kept until it is reconciled.
            keep_hold = true;
        }
        Finish::Unknown {
            provider,
            message,
            review,
        } => {
            outcome_reviews::open(ctx, &review, hold.1)?;
            req.status = RequestStatus::Failed;
            req.reason_code = Some(ReasonCode::OutcomeUnknown);
            req.message = Some(message);
            req.provider = Some(provider);
            // Kept until an operator decides.
            keep_hold = true;
        }
    }
    if let Some(decision) = &f.review {
        outcome_reviews::decide(ctx, &req.id, decision, req.cost, &now)?;
        audit::append(ctx, decision.audit.clone(), f.now)?;
    }
    ctx.conn
        .prepare_cached(FINISH_REQUEST)
        .and_then(|mut s| {
            s.execute(params![
                req.id,
                req.status.as_str(),
                req.cost.get(),
                req.result.as_ref().map(|r| r.to_string()),
                req.provider,
                req.external_id,
                rows::opt_i64(req.initial_cost),
                req.started_at.map(rows::ts),
                req.reason_code.map(|r| r.as_str()),
                req.message,
                now,
                keep_hold,
            ])
        })
        .map_err(db_error)?;
    if let Some(key) = &req.idempotency_key {
        // The first answer stays: a reconciled request keeps replaying the
        // `running` reply its client first saw. An unknown outcome is the
        // exception: the operator's decision replaces it.
        let response = (f.render)(&req);
        ctx.conn
            .prepare_cached(
                "UPDATE idempotency_keys SET response_status = ?3, response_body = ?4 \
                 WHERE agent_id = ?1 AND key = ?2 AND (response_body IS NULL OR ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    req.agent_id,
                    key,
                    i64::from(response.status),
                    response.body.to_string(),
                    f.review.is_some(),
                ])
            })
            .map_err(db_error)?;
    }
    audit::append(ctx, event, f.now)?;
    Ok(req)
}
