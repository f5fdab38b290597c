//! `BudgetRequestStore` on PostgreSQL, with the answers of
//! `sqlite/budget_requests.rs`. A decision is a conditional update of the
//! pending row (a second node deciding at once waits for its lock, then
//! finds it decided), then the transfer on the locked balance rows, in one
//! transaction: a transfer that does not fit rolls the decision back.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::tx::{self, Step, TxResult};
use super::{PgStore, audit, db_error, ledger};
use crate::ids::OrgId;
use crate::money::Cents;
use crate::store::*;

const COLUMNS: &str = "r.id, r.org_id, r.team_id, t.name AS team_name, r.requested_by_user_id, \
    u.email AS requested_by_email, r.amount_cents, r.reason, r.status, r.note, \
    r.resolved_by_user_id, r.resolved_at, r.transfer_id, r.created_at, r.updated_at";

const FROM: &str = "budget_requests r JOIN teams t ON t.id = r.team_id \
    JOIN users u ON u.id = r.requested_by_user_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    team_id: String,
    team_name: String,
    requested_by_user_id: String,
    requested_by_email: String,
    amount_cents: i64,
    reason: String,
    status: String,
    note: Option<String>,
    resolved_by_user_id: Option<String>,
    resolved_at: Option<OffsetDateTime>,
    transfer_id: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl Row {
    fn into_request(self) -> StoreResult<BudgetRequest> {
        Ok(BudgetRequest {
            status: BudgetRequestStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("budget request status {:?}", self.status)))?,
            amount: Cents::new(self.amount_cents),
            id: self.id,
            org_id: self.org_id,
            team_id: self.team_id,
            team_name: self.team_name,
            requested_by_user_id: self.requested_by_user_id,
            requested_by_email: self.requested_by_email,
            reason: self.reason,
            note: self.note,
            resolved_by_user_id: self.resolved_by_user_id,
            resolved_at: self.resolved_at,
            transfer_id: self.transfer_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

async fn get(
    conn: &mut PgConnection,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<BudgetRequest>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1 AND r.org_id = $2");
    sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Row::into_request)
        .transpose()
}

async fn resolve(c: &mut PgConnection, r: &ResolveBudgetRequest) -> TxResult<Step<Resolved>> {
    let org = r.org_id.as_str();
    let (status, transfer_id) = match &r.decision {
        BudgetDecision::Approve(t) => (BudgetRequestStatus::Approved, Some(t.id.as_str())),
        BudgetDecision::Reject => (BudgetRequestStatus::Rejected, None),
    };
    let changed = sqlx::query(
        "UPDATE budget_requests SET status = $1, note = $2, resolved_by_user_id = $3, \
         resolved_at = $4, transfer_id = $5, updated_at = $4 \
         WHERE id = $6 AND org_id = $7 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(&r.note)
    .bind(r.user_id.as_str())
    .bind(r.now)
    .bind(transfer_id)
    .bind(&r.id)
    .bind(org)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if changed == 0 {
        let current = get(c, org, &r.id).await?.ok_or(StoreError::NotFound)?;
        return Ok(Step::Rollback(Resolved::AlreadyDecided(current)));
    }
    if let BudgetDecision::Approve(transfer) = &r.decision {
        let moved = ledger::transfer(c, transfer, r.now).await?;
        if let Some(short) = Resolved::from_transfer(&moved) {
            return Ok(Step::Rollback(short));
        }
    }
    audit::insert(c, &r.audit, r.now).await?;
    let current = get(c, org, &r.id).await?.ok_or(StoreError::NotFound)?;
    Ok(Step::Commit(Resolved::Decided(current)))
}

#[async_trait]
impl BudgetRequestStore for PgStore {
    async fn create_budget_request(&self, new: NewBudgetRequest) -> StoreResult<BudgetRequest> {
        let org = new.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        super::teams::get(&mut tx, org, &new.team_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        sqlx::query(
            "INSERT INTO budget_requests (id, org_id, team_id, requested_by_user_id, amount_cents, \
             reason, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7)",
        )
        .bind(&new.id)
        .bind(org)
        .bind(&new.team_id)
        .bind(new.user_id.as_str())
        .bind(new.amount.get())
        .bind(&new.reason)
        .bind(new.now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &new.audit, new.now).await?;
        let created = get(&mut tx, org, &new.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn budget_request(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<BudgetRequest>> {
        let mut c = self.pool.acquire().await.map_err(db_error)?;
        get(&mut c, org_id.as_str(), id).await
    }

    async fn budget_requests(&self, q: BudgetRequestQuery) -> StoreResult<Vec<BudgetRequest>> {
        let viewer = match &q.scope {
            BudgetRequestScope::Organisation => None,
            BudgetRequestScope::VisibleTo(user) => Some(user.as_str()),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.org_id = $1 \
             AND ($2::text IS NULL OR r.requested_by_user_id = $2 OR r.team_id IN \
                  (SELECT m.team_id FROM team_members m WHERE m.user_id = $2 AND m.role = 'manager')) \
             AND ($3::text IS NULL OR r.status = $3) \
             ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
        );
        sqlx::query_as::<_, Row>(AssertSqlSafe(sql))
            .bind(q.org_id.as_str())
            .bind(viewer)
            .bind(q.status.map(BudgetRequestStatus::as_str))
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Row::into_request)
            .collect()
    }

    async fn resolve_budget_request(&self, r: ResolveBudgetRequest) -> StoreResult<Resolved> {
        tx::run(&self.pool, &r, |c, r| Box::pin(resolve(c, r))).await
    }
}
