//! Budget requests on SQLite. A decision reads the row, moves the money
//! and marks the row in one writer job: the writer runs one job at a time,
//! so a second decision sees the first, and a transfer that does not fit
//! writes nothing.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{SqliteStore, audit, db_error, ledger, rows};
use crate::ids::OrgId;
use crate::store::{
    BudgetDecision, BudgetRequest, BudgetRequestQuery, BudgetRequestScope, BudgetRequestStatus,
    BudgetRequestStore, NewBudgetRequest, ResolveBudgetRequest, Resolved, StoreError, StoreResult,
};

const COLUMNS: &str = "r.id, r.org_id, r.team_id, t.name AS team_name, r.requested_by_user_id, \
    u.email AS requested_by_email, r.amount_cents, r.reason, r.status, r.note, \
    r.resolved_by_user_id, r.resolved_at, r.transfer_id, r.created_at, r.updated_at";

const FROM: &str = "budget_requests r JOIN teams t ON t.id = r.team_id \
    JOIN users u ON u.id = r.requested_by_user_id";

fn row(row: &Row<'_>) -> rusqlite::Result<BudgetRequest> {
    let status: String = row.get("status")?;
    Ok(BudgetRequest {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        team_id: row.get("team_id")?,
        team_name: row.get("team_name")?,
        requested_by_user_id: row.get("requested_by_user_id")?,
        requested_by_email: row.get("requested_by_email")?,
        amount: rows::cents_col(row, "amount_cents")?,
        reason: row.get("reason")?,
        status: BudgetRequestStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("bad value in column status: {status:?}").into(),
            )
        })?,
        note: row.get("note")?,
        resolved_by_user_id: row.get("resolved_by_user_id")?,
        resolved_at: rows::opt_time_col(row, "resolved_at")?,
        transfer_id: row.get("transfer_id")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
    })
}

fn get(conn: &Connection, org_id: &str, id: &str) -> StoreResult<Option<BudgetRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = ?1 AND r.org_id = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org_id], row).optional())
        .map_err(db_error)
}

fn list(conn: &Connection, q: &BudgetRequestQuery) -> StoreResult<Vec<BudgetRequest>> {
    let viewer = match &q.scope {
        BudgetRequestScope::Organisation => None,
        BudgetRequestScope::VisibleTo(user) => Some(user.as_str()),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE r.org_id = ?1 \
         AND (?2 IS NULL OR r.requested_by_user_id = ?2 OR r.team_id IN \
              (SELECT m.team_id FROM team_members m WHERE m.user_id = ?2 AND m.role = 'manager')) \
         AND (?3 IS NULL OR r.status = ?3) \
         ORDER BY r.created_at DESC, r.id DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    stmt.query_map(
        params![
            q.org_id.as_str(),
            viewer,
            q.status.map(BudgetRequestStatus::as_str),
            q.limit
        ],
        row,
    )
    .map_err(db_error)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_error)
}

fn create(ctx: &mut WriteCtx<'_>, new: NewBudgetRequest) -> StoreResult<BudgetRequest> {
    let org = new.org_id.as_str();
    super::teams::get(ctx.conn, org, &new.team_id)?.ok_or(StoreError::NotFound)?;
    let now = rows::ts(new.now);
    ctx.conn
        .execute(
            "INSERT INTO budget_requests (id, org_id, team_id, requested_by_user_id, amount_cents, \
             reason, status, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
            params![
                new.id,
                org,
                new.team_id,
                new.user_id.as_str(),
                new.amount.get(),
                new.reason,
                now
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, new.audit, new.now)?;
    get(ctx.conn, org, &new.id)?.ok_or(StoreError::NotFound)
}

fn resolve(ctx: &mut WriteCtx<'_>, r: ResolveBudgetRequest) -> StoreResult<Resolved> {
    let org = r.org_id.as_str();
    let current = get(ctx.conn, org, &r.id)?.ok_or(StoreError::NotFound)?;
    if current.status != BudgetRequestStatus::Pending {
        return Ok(Resolved::AlreadyDecided(current));
    }
    let now = rows::ts(r.now);
    let (status, transfer_id) = match &r.decision {
        BudgetDecision::Approve(transfer) => {
            let moved = ledger::transfer(ctx, transfer, &now)?;
            if let Some(short) = Resolved::from_transfer(&moved) {
                return Ok(short);
            }
            (BudgetRequestStatus::Approved, Some(transfer.id.as_str()))
        }
        BudgetDecision::Reject => (BudgetRequestStatus::Rejected, None),
    };
    let changed = ctx
        .conn
        .execute(
            "UPDATE budget_requests SET status = ?1, note = ?2, resolved_by_user_id = ?3, \
             resolved_at = ?4, transfer_id = ?5, updated_at = ?4 \
             WHERE id = ?6 AND org_id = ?7 AND status = 'pending'",
            params![
                status.as_str(),
                r.note,
                r.user_id.as_str(),
                now,
                transfer_id,
                r.id,
                org
            ],
        )
        .map_err(db_error)?;
    if changed != 1 {
        // The writer serialises jobs, so the row read above cannot have
        // moved on; fail the job (undoing the transfer) rather than fund
        // a request twice.
        return Err(StoreError::Corrupt(format!(
            "budget request {} changed under its decision",
            r.id
        )));
    }
    audit::append(ctx, r.audit, r.now)?;
    Ok(Resolved::Decided(
        get(ctx.conn, org, &r.id)?.ok_or(StoreError::NotFound)?,
    ))
}

#[async_trait]
impl BudgetRequestStore for SqliteStore {
    async fn create_budget_request(&self, new: NewBudgetRequest) -> StoreResult<BudgetRequest> {
        self.writer.write(move |ctx| create(ctx, new)).await
    }

    async fn budget_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<BudgetRequest>> {
        self.lookup(|c| get(c, org_id.as_str(), id))
    }

    async fn budget_requests(&self, query: BudgetRequestQuery) -> StoreResult<Vec<BudgetRequest>> {
        self.read(move |c| list(c, &query)).await
    }

    async fn resolve_budget_request(
        &self,
        resolve_: ResolveBudgetRequest,
    ) -> StoreResult<Resolved> {
        self.writer.write(move |ctx| resolve(ctx, resolve_)).await
    }
}
