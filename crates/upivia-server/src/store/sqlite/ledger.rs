//! Ledger rows: appending entries, summing accounts, and the whole-database
//! invariant check behind `upivia admin check-ledger`.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::db_error;
use super::writer::WriteCtx;
use crate::model::{Account, AccountTotals, EntryKind, HoldLimit, is_funds_key, is_spending_key};
use crate::money::Cents;
use crate::store::ledger_check::Transfers;
use crate::store::{LedgerReport, Moved, StoreError, StoreResult, Transfer};

/// Moves a transfer's amount in the writer's transaction: checks what the
/// source has left, then appends its debit and the destination's credit.
pub(super) fn transfer(ctx: &mut WriteCtx<'_>, t: &Transfer, now: &str) -> StoreResult<Moved> {
    if t.amount <= Cents::ZERO || t.from == t.to {
        return Err(StoreError::Corrupt(format!(
            "transfer {} of {} from {} to {}",
            t.id,
            t.amount,
            t.from.key(),
            t.to.key()
        )));
    }
    let available = ctx.totals(&t.from)?.available(&t.from_limit);
    if available < t.amount {
        return Ok(Moved::Short { available });
    }
    let side = |account, kind| Posting {
        org_id: t.org_id.as_str(),
        account,
        kind,
        amount: t.amount,
        request_id: None,
        note: Some(&t.note),
        now,
        transfer_id: Some(&t.id),
    };
    let from = ctx.post(side(&t.from, EntryKind::Debit))?;
    let to = ctx.post(side(&t.to, EntryKind::Credit))?;
    Ok(Moved::Done { from, to })
}

pub(super) fn sum_account(conn: &Connection, account_key: &str) -> StoreResult<AccountTotals> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, COALESCE(SUM(amount_cents), 0) FROM ledger_entries \
             WHERE account = ?1 GROUP BY kind",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map([account_key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(db_error)?;
    let mut totals = AccountTotals::default();
    for row in rows {
        let (kind, sum) = row.map_err(db_error)?;
        let kind = EntryKind::parse(&kind)
            .ok_or_else(|| crate::store::StoreError::Corrupt(format!("bad ledger kind {kind}")))?;
        totals
            .apply(kind, Cents::new(sum))
            .ok_or_else(|| crate::store::StoreError::Overflow {
                account: account_key.to_owned(),
            })?;
    }
    Ok(totals)
}

/// One ledger entry to append.
pub(crate) struct Posting<'a> {
    pub(crate) org_id: &'a str,
    pub(crate) account: &'a Account,
    pub(crate) kind: EntryKind,
    pub(crate) amount: Cents,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) note: Option<&'a str>,
    pub(crate) now: &'a str,
    /// The transfer a debit or a credit belongs to.
    pub(crate) transfer_id: Option<&'a str>,
}

pub(super) const INSERT_ENTRY: &str = "INSERT INTO ledger_entries (org_id, account, kind, \
     amount_cents, request_id, note, created_at, transfer_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

pub(super) fn insert_entry(conn: &Connection, p: &Posting<'_>) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(INSERT_ENTRY).map_err(db_error)?;
    stmt.execute(params![
        p.org_id,
        p.account.key(),
        p.kind.as_str(),
        p.amount.get(),
        p.request_id,
        p.note,
        p.now,
        p.transfer_id
    ])
    .map_err(db_error)?;
    Ok(())
}

/// Recomputes every account and request from the raw entries and checks:
/// no funds account is overdrawn (`credits − settled − reserved ≥ 0`), no
/// reservation gives back more than it held, what each request still holds
/// matches its row (and a finished request holds nothing), and what was
/// settled on organisations equals what executed requests were charged.
pub(super) fn check(conn: &Connection) -> StoreResult<LedgerReport> {
    let mut report = LedgerReport::default();
    let mut accounts: BTreeMap<String, AccountTotals> = BTreeMap::new();
    let mut per_request: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut transfers = Transfers::default();
    {
        let mut stmt = conn
            .prepare(
                "SELECT account, kind, amount_cents, request_id, transfer_id FROM ledger_entries \
                 ORDER BY seq",
            )
            .map_err(db_error)?;
        let mut rows = stmt.query([]).map_err(db_error)?;
        while let Some(row) = rows.next().map_err(db_error)? {
            report.entries_checked += 1;
            let account: String = row.get(0).map_err(db_error)?;
            let kind: String = row.get(1).map_err(db_error)?;
            let amount: i64 = row.get(2).map_err(db_error)?;
            let request_id: Option<String> = row.get(3).map_err(db_error)?;
            let transfer_id: Option<String> = row.get(4).map_err(db_error)?;
            let Some(kind) = EntryKind::parse(&kind) else {
                report
                    .problems
                    .push(format!("unknown entry kind {kind:?} on {account}"));
                continue;
            };
            if amount < 0 {
                report
                    .problems
                    .push(format!("negative amount {amount} on {account}"));
            }
            let totals = accounts.entry(account.clone()).or_default();
            if totals.apply(kind, Cents::new(amount)).is_none() {
                report.problems.push(format!("overflow on {account}"));
            }
            transfers.see(&account, kind, amount, transfer_id.as_deref());
            if let Some(request_id) = request_id {
                let held = per_request.entry((request_id, account)).or_insert(0);
                match kind {
                    EntryKind::Reserve => *held += amount,
                    EntryKind::Release | EntryKind::Settle => *held -= amount,
                    EntryKind::Credit | EntryKind::Debit => {}
                }
            }
        }
    }
    report.accounts_checked = accounts.len();
    for (key, totals) in &accounts {
        if Account::parse(key).is_none() {
            report
                .problems
                .push(format!("unparseable account key {key}"));
        }
        if totals.reserved.is_negative() {
            report
                .problems
                .push(format!("{key}: reserved is negative ({})", totals.reserved));
        }
        if is_funds_key(key) && totals.available(&HoldLimit::Funds).is_negative() {
            report.problems.push(format!(
                "{key}: overdrawn: credits {} − settled {} − reserved {} < 0",
                totals.credits, totals.settled, totals.reserved
            ));
        }
    }
    // What each request's row says it holds, to compare with the entries.
    let mut rows_held: BTreeMap<(String, String), i64> = BTreeMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT id, held_accounts, held_cents FROM service_requests WHERE held_cents > 0",
            )
            .map_err(db_error)?;
        let mut rows = stmt.query([]).map_err(db_error)?;
        while let Some(row) = rows.next().map_err(db_error)? {
            let id: String = row.get(0).map_err(db_error)?;
            let accounts: Option<String> = row.get(1).map_err(db_error)?;
            let held: i64 = row.get(2).map_err(db_error)?;
            let keys: Vec<String> = accounts
                .and_then(|a| serde_json::from_str(&a).ok())
                .unwrap_or_default();
            if keys.is_empty() {
                report
                    .problems
                    .push(format!("{id} holds {held} on no account"));
            }
            for key in keys {
                rows_held.insert((id.clone(), key), held);
            }
        }
    }
    for ((request_id, account), held) in &per_request {
        if *held < 0 {
            report.problems.push(format!(
                "{request_id} on {account}: gave back more than it reserved"
            ));
        }
        let expected = rows_held
            .get(&(request_id.clone(), account.clone()))
            .copied()
            .unwrap_or(0);
        if *held != expected {
            report.problems.push(format!(
                "{request_id} holds {held} on {account} per the ledger, {expected} per its row"
            ));
        }
    }
    for ((request_id, account), held) in &rows_held {
        if !per_request.contains_key(&(request_id.clone(), account.clone())) {
            report.problems.push(format!(
                "{request_id} claims to hold {held} on {account} with no reservation"
            ));
        }
    }
    let open: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM service_requests r WHERE r.held_cents > 0 \
             AND r.status NOT IN ('executing', 'running') AND NOT EXISTS ( \
               SELECT 1 FROM outcome_reviews o WHERE o.request_id = r.id AND o.status = 'pending')",
            [],
            |r| r.get(0),
        )
        .map_err(db_error)?;
    if open > 0 {
        report
            .problems
            .push(format!("{open} finished requests still hold money"));
    }
    report.problems.extend(transfers.problems());
    // Settled where requests spend (the balance, team pools) = charged on
    // executed requests.
    let settled_on_orgs: i64 = accounts
        .iter()
        .filter(|(k, _)| is_spending_key(k))
        .map(|(_, t)| t.settled.get())
        .sum();
    let charged: i64 = conn
        .query_row(
            "SELECT COALESCE(SUM(cost_cents), 0) FROM service_requests WHERE status = 'executed'",
            [],
            |r| r.get(0),
        )
        .map_err(db_error)?;
    if settled_on_orgs != charged {
        report.problems.push(format!(
            "settled on balances and pools {settled_on_orgs} but executed requests were charged {charged}"
        ));
    }
    Ok(report)
}
