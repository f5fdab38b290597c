//! Governed requests on PostgreSQL: the first write (idempotency claim,
//! daily limits, request row, audit, holds) and the last (settle or
//! release, the response to replay), each one transaction, and the scans.
//!
//! Where SQLite's one writer makes every check-and-write atomic, here each
//! contended thing is decided by the database: a key by a unique insert
//! (which waits for a concurrent claimer and sees its outcome), a daily
//! limit by a conditional upsert of its counter, a hold by locked balance
//! rows. The holds come last so their locks, the hottest (every request of
//! an organisation shares its balance row), are held for the fewest
//! statements.

use futures::future::BoxFuture;
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::ledger::{self, Posting};
use super::rows::{self, get, request_select};
use super::tx::{Step, TxResult};
use super::{PgStore, StoreResult, audit, db_error, nodes, outcome_reviews};
use crate::model::{Hold, ReasonCode, RequestStatus, ServiceRequest};
use crate::money::Cents;
use crate::store::{
    DailyLimit, Disposition, Finish, FinishRequest, IdempotencyClaim, IdempotencyRecord,
    LimitScope, OpenRequest, Opened, StoreError, StoredResponse,
};

fn record(
    fingerprint: String,
    request_id: String,
    status: Option<i32>,
    body: Option<String>,
) -> StoreResult<IdempotencyRecord> {
    let response = match (status, body) {
        (Some(status), Some(body)) => Some(StoredResponse {
            status: u16::try_from(status)
                .map_err(|_| StoreError::Corrupt(format!("bad stored status {status}")))?,
            body: serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("bad stored response: {e}")))?,
        }),
        _ => None,
    };
    Ok(IdempotencyRecord {
        fingerprint,
        request_id,
        response,
    })
}

async fn idempotency_on(
    c: &mut PgConnection,
    agent_id: &str,
    key: &str,
) -> StoreResult<Option<IdempotencyRecord>> {
    let row = sqlx::query(
        "SELECT fingerprint, request_id, response_status, response_body \
         FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
    )
    .bind(agent_id)
    .bind(key)
    .fetch_optional(&mut *c)
    .await
    .map_err(db_error)?;
    row.map(|r| {
        record(
            get(&r, "fingerprint")?,
            get(&r, "request_id")?,
            get(&r, "response_status")?,
            get(&r, "response_body")?,
        )
    })
    .transpose()
}

pub(super) async fn idempotency(
    store: &PgStore,
    agent_id: &str,
    key: &str,
) -> StoreResult<Option<IdempotencyRecord>> {
    if !rows::storable(agent_id) || !rows::storable(key) {
        return Ok(None);
    }
    let mut c = store.pool.acquire().await.map_err(db_error)?;
    idempotency_on(&mut c, agent_id, key).await
}

/// Forgets at most `limit` of the oldest keys created before
/// `created_before`. Keys another node is purging at the same moment are
/// skipped, not waited for.
pub(super) async fn purge_idempotency(
    store: &PgStore,
    created_before: OffsetDateTime,
    limit: u32,
) -> StoreResult<usize> {
    let done = sqlx::query(
        "DELETE FROM idempotency_keys WHERE (agent_id, key) IN ( \
           SELECT agent_id, key FROM idempotency_keys WHERE created_at < $1 \
           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind(created_before)
    .bind(i64::from(limit))
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
}

/// `agent:<id>:<YYYY-MM-DD>` or `binding:<id>:<YYYY-MM-DD>`, the UTC day.
pub(super) fn limit_key(limit: &DailyLimit) -> String {
    let stamp = crate::clock::rfc3339(limit.day_start);
    let day = stamp.get(..10).unwrap_or(&stamp);
    match &limit.scope {
        LimitScope::Agent(id) => format!("agent:{id}:{day}"),
        LimitScope::Binding(id) => format!("binding:{id}:{day}"),
    }
}

/// Claims the key, or answers the record of whoever holds it. A concurrent
/// claimer's uncommitted row makes the insert wait for its transaction: if
/// that one commits, this one sees its record; if it rolls back (a refusal
/// stores nothing), this claim goes through.
async fn claim(
    c: &mut PgConnection,
    req: &ServiceRequest,
    claim: &IdempotencyClaim,
    response: Option<&StoredResponse>,
) -> TxResult<Option<IdempotencyRecord>> {
    // Twice at most: the record found taken can be purged before it is read.
    for _ in 0..2 {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (agent_id, key, fingerprint, request_id, \
             response_status, response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (agent_id, key) DO NOTHING",
        )
        .bind(&req.agent_id)
        .bind(&claim.key)
        .bind(&claim.fingerprint)
        .bind(&req.id)
        .bind(response.map(|r| i32::from(r.status)))
        .bind(response.map(|r| r.body.to_string()))
        .bind(req.created_at)
        .execute(&mut *c)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(None);
        }
        if let Some(existing) = idempotency_on(c, &req.agent_id, &claim.key).await? {
            return Ok(Some(existing));
        }
    }
    Err(StoreError::Conflict(format!(
        "idempotency key {:?} changed while it was claimed; try again",
        claim.key
    ))
    .into())
}

/// Counts one more request on `key` unless `limit` are counted already.
async fn count_one(c: &mut PgConnection, key: &str, limit: u32) -> TxResult<bool> {
    if limit == 0 {
        return Ok(false);
    }
    let counted = sqlx::query(
        "INSERT INTO daily_counts (key, count) VALUES ($1, 1) \
         ON CONFLICT (key) DO UPDATE SET count = daily_counts.count + 1 \
         WHERE daily_counts.count < $2 RETURNING count",
    )
    .bind(key)
    .bind(i64::from(limit))
    .fetch_optional(&mut *c)
    .await?;
    Ok(counted.is_some())
}

/// The body of `open_request`; `node` executes the request if it is
/// `executing`.
pub(super) fn open<'c>(
    c: &'c mut PgConnection,
    (open, node, reach): &'c (OpenRequest, String, ledger::Reach),
) -> BoxFuture<'c, TxResult<Step<Opened>>> {
    Box::pin(async move {
        let req = &open.request;
        let response = match &open.disposition {
            Disposition::Final { response } | Disposition::AwaitApproval { response, .. } => {
                Some(response)
            }
            Disposition::Reserve { .. } => None,
        };
        if let Some(key) = &open.idempotency
            && let Some(existing) = claim(c, req, key, response).await?
        {
            return Ok(Step::Rollback(Opened::Existing(existing)));
        }

        let (limits, counts) = match &open.disposition {
            Disposition::Final { .. } => (&[][..], false),
            Disposition::AwaitApproval { limits, .. } | Disposition::Reserve { limits, .. } => {
                (&limits[..], true)
            }
        };
        // Counters are locked in key order. The pipeline lists the agent's
        // limit before its binding's, which is key order too, so the limit
        // answered is the first reached, as on SQLite.
        let mut keyed: Vec<(String, &DailyLimit)> =
            limits.iter().map(|l| (limit_key(l), l)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, limit) in &keyed {
            if !count_one(c, key, limit.limit).await? {
                return Ok(Step::Rollback(Opened::LimitReached {
                    scope: limit.scope.clone(),
                    limit: limit.limit,
                }));
            }
        }

        let held = match &open.disposition {
            Disposition::Reserve { holds, amount, .. } => Some((&holds[..], *amount)),
            _ => None,
        };
        insert_request(c, req, counts, held, node).await?;
        if let Disposition::AwaitApproval { approval, .. } = &open.disposition {
            sqlx::query(
                "INSERT INTO approvals (id, org_id, agent_id, request_id, payload_digest, status, \
                 estimated_cost_cents, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8)",
            )
            .bind(&approval.id)
            .bind(&approval.org_id)
            .bind(&approval.agent_id)
            .bind(&req.id)
            .bind(&approval.payload_digest)
            .bind(approval.estimated_cost.get())
            .bind(approval.expires_at)
            .bind(req.created_at)
            .execute(&mut *c)
            .await?;
        }
        if let Some(event) = &open.audit {
            audit::insert(c, event, req.created_at).await?;
        }
        if let Disposition::Reserve { holds, amount, .. } = &open.disposition {
            let posting = Posting {
                org_id: &req.org_id,
                request_id: Some(&req.id),
                note: None,
                now: req.created_at,
                transfer_id: None,
            };
            let stripe = ledger::stripe_of(&req.id);
            if let Err((account, available)) =
                ledger::reserve(c, holds, *amount, &posting, stripe, reach).await?
            {
                return Ok(Step::Rollback(Opened::HoldRefused { account, available }));
            }
        }
        Ok(Step::Commit(Opened::Recorded))
    })
}

async fn insert_request(
    c: &mut PgConnection,
    req: &ServiceRequest,
    counts: bool,
    held: Option<(&[Hold], Cents)>,
    node: &str,
) -> TxResult<()> {
    let (held_accounts, held_cents) = match held {
        Some((holds, amount)) if amount > Cents::ZERO => (Some(held_keys(holds)), amount.get()),
        _ => (None, 0),
    };
    sqlx::query(
        "INSERT INTO service_requests (id, org_id, agent_id, binding_id, service, operation, \
         payload, metadata, payload_digest, status, counts_toward_limits, reason_code, message, \
         estimated_cost_cents, initial_cost_cents, cost_cents, result, provider, external_id, \
         approval_id, idempotency_key, created_at, started_at, updated_at, held_accounts, \
         held_cents, held_stripe, node_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
    )
    .bind(&req.id)
    .bind(&req.org_id)
    .bind(&req.agent_id)
    .bind(&req.binding_id)
    .bind(&req.service)
    .bind(&req.operation)
    .bind(req.payload.to_string())
    .bind(req.metadata.as_ref().map(|m| m.to_string()))
    .bind(&req.payload_digest)
    .bind(req.status.as_str())
    .bind(counts)
    .bind(req.reason_code.map(|r| r.as_str()))
    .bind(&req.message)
    .bind(req.estimated_cost.get())
    .bind(req.initial_cost.map(Cents::get))
    .bind(req.cost.get())
    .bind(req.result.as_ref().map(|r| r.to_string()))
    .bind(&req.provider)
    .bind(&req.external_id)
    .bind(&req.approval_id)
    .bind(&req.idempotency_key)
    .bind(req.created_at)
    .bind(req.started_at)
    .bind(req.updated_at)
    .bind(held_accounts)
    .bind(held_cents)
    .bind(ledger::stripe_of(&req.id))
    .bind((req.status == RequestStatus::Executing).then_some(node))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The JSON list of account keys stored in `held_accounts`.
pub(super) fn held_keys(holds: &[Hold]) -> String {
    serde_json::Value::from(holds.iter().map(|h| h.account.key()).collect::<Vec<_>>()).to_string()
}

pub(super) async fn get_on(
    c: &mut PgConnection,
    request_id: &str,
) -> StoreResult<Option<ServiceRequest>> {
    let row = sqlx::query(concat!(request_select!(), " WHERE r.id = $1"))
        .bind(request_id)
        .fetch_optional(&mut *c)
        .await
        .map_err(db_error)?;
    row.as_ref().map(rows::request).transpose()
}

pub(super) async fn get_request(
    store: &PgStore,
    request_id: &str,
) -> StoreResult<Option<ServiceRequest>> {
    if !rows::storable(request_id) {
        return Ok(None);
    }
    let mut c = store.pool.acquire().await.map_err(db_error)?;
    get_on(&mut c, request_id).await
}

/// The oldest requests in `status`, at most `$1`. The status is spelled
/// out, so the planner can use its partial index.
fn in_status_sql(status: RequestStatus) -> &'static str {
    macro_rules! in_status {
        ($status:literal) => {
            concat!(
                request_select!(),
                " WHERE r.status = '",
                $status,
                "' ORDER BY r.created_at LIMIT $1"
            )
        };
    }
    match status {
        RequestStatus::AwaitingApproval => in_status!("awaiting_approval"),
        RequestStatus::Executing => in_status!("executing"),
        RequestStatus::Running => in_status!("running"),
        RequestStatus::Executed => in_status!("executed"),
        RequestStatus::Blocked => in_status!("blocked"),
        RequestStatus::Failed => in_status!("failed"),
    }
}

/// Requests in `status`, oldest first. `Executing` ones are those of dead
/// nodes only (no node, or one whose beat ran out), and they are taken
/// over: handed to this node in the same statement, so two nodes starting
/// at once never both finish one, and a live node's in-flight requests are
/// never touched.
pub(super) async fn in_status(
    store: &PgStore,
    status: RequestStatus,
    limit: u32,
) -> StoreResult<Vec<ServiceRequest>> {
    let limit = i64::from(limit);
    let rows = if status == RequestStatus::Executing {
        // Built from constants only (the columns and the node lease).
        let sql = format!(
            "WITH taken AS ( \
               UPDATE service_requests SET node_id = $2 WHERE id IN ( \
                 SELECT r.id FROM service_requests r LEFT JOIN nodes n ON n.id = r.node_id \
                 WHERE r.status = 'executing' \
                   AND (r.node_id IS NULL OR n.id IS NULL OR NOT {alive}) \
                 ORDER BY r.created_at LIMIT $1 FOR UPDATE OF r SKIP LOCKED) \
               RETURNING id) \
             {select} WHERE r.id IN (SELECT id FROM taken) ORDER BY r.created_at",
            alive = nodes::alive_sql(),
            select = request_select!(),
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(limit)
            .bind(store.node_id())
            .fetch_all(&store.pool)
            .await
    } else {
        sqlx::query(in_status_sql(status))
            .bind(limit)
            .fetch_all(&store.pool)
            .await
    }
    .map_err(db_error)?;
    rows.iter().map(rows::request).collect()
}

/// The body of `finish_request`.
pub(super) fn finish<'c>(
    c: &'c mut PgConnection,
    f: &'c FinishRequest,
) -> BoxFuture<'c, TxResult<Step<ServiceRequest>>> {
    Box::pin(async move {
        let mut req = f.request.clone();
        if let Some(decision) = &f.review {
            outcome_reviews::lock_pending(c, &req.id, decision).await?;
        }
        let current = sqlx::query(
            "SELECT status, held_accounts, held_cents, held_stripe FROM service_requests \
             WHERE id = $1 FOR UPDATE",
        )
        .bind(&req.id)
        .fetch_optional(&mut *c)
        .await?
        .ok_or(StoreError::NotFound)?;
        let status: String = get(&current, "status")?;
        let accounts: Option<String> = get(&current, "held_accounts")?;
        let held: i64 = get(&current, "held_cents")?;
        let status = RequestStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("bad status {status}")))?;
        // A request left `failed` with its hold (outcome unknown) is
        // finished again only by its review's decision, locked above.
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
            ))
            .into());
        }
        let hold = ledger::Held {
            accounts,
            cents: Cents::new(held),
            stripe: get(&current, "held_stripe")?,
        };
        let mut event = f.audit.clone();
        req.updated_at = f.now;
        let posting = Posting {
            org_id: &f.request.org_id,
            request_id: Some(&f.request.id),
            note: None,
            now: f.now,
            transfer_id: None,
        };
        let mut closing = None;
        let mut keep_hold = false;
        match f.outcome.clone() {
            Finish::Executed {
                result,
                charge,
                provider,
            } => {
                let plan = ledger::closing(&req.id, hold, Some(charge))?;
                let charged = plan.settled;
                closing = Some(plan);
                req.status = RequestStatus::Executed;
                req.cost = charged;
                req.result = Some(result);
                req.provider = Some(provider);
                event.cost = Some(charged);
            }
            Finish::Failed { reason, message } => {
                closing = Some(ledger::closing(&req.id, hold, None)?);
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
                // Kept until it is reconciled, by any node.
                keep_hold = true;
            }
            Finish::Unknown {
                provider,
                message,
                review,
            } => {
                outcome_reviews::open(c, &review, hold.cents).await?;
                req.status = RequestStatus::Failed;
                req.reason_code = Some(ReasonCode::OutcomeUnknown);
                req.message = Some(message);
                req.provider = Some(provider);
                // Kept until an operator decides.
                keep_hold = true;
            }
        }
        if let Some(decision) = &f.review {
            outcome_reviews::decide(c, decision, req.cost, f.now).await?;
            audit::insert(c, &decision.audit, f.now).await?;
        }
        sqlx::query(
            "UPDATE service_requests SET status = $2, cost_cents = $3, result = $4, \
             provider = $5, external_id = $6, initial_cost_cents = $7, started_at = $8, \
             reason_code = $9, message = $10, updated_at = $11, \
             held_cents = CASE WHEN $12 THEN held_cents ELSE 0 END, \
             held_accounts = CASE WHEN $12 THEN held_accounts ELSE NULL END, \
             node_id = NULL WHERE id = $1",
        )
        .bind(&req.id)
        .bind(req.status.as_str())
        .bind(req.cost.get())
        .bind(req.result.as_ref().map(|r| r.to_string()))
        .bind(&req.provider)
        .bind(&req.external_id)
        .bind(req.initial_cost.map(Cents::get))
        .bind(req.started_at)
        .bind(req.reason_code.map(|r| r.as_str()))
        .bind(&req.message)
        .bind(f.now)
        .bind(keep_hold)
        .execute(&mut *c)
        .await?;
        if let Some(key) = &req.idempotency_key {
            // The first answer stays: a reconciled request keeps replaying
            // the `running` reply its client first saw. An unknown outcome
            // is the exception: the operator's decision replaces it.
            let response = (f.render)(&req);
            sqlx::query(
                "UPDATE idempotency_keys SET response_status = $3, response_body = $4 \
                 WHERE agent_id = $1 AND key = $2 AND (response_body IS NULL OR $5)",
            )
            .bind(&req.agent_id)
            .bind(key)
            .bind(i32::from(response.status))
            .bind(response.body.to_string())
            .bind(f.review.is_some())
            .execute(&mut *c)
            .await?;
        }
        audit::insert(c, &event, f.now).await?;
        // The balance rows last: the shortest hold of the hottest locks.
        if let Some(closing) = closing {
            ledger::close(c, &posting, closing).await?;
        }
        Ok(Step::Commit(req))
    })
}
