//! Ledger rows on PostgreSQL: entries appended with the balance rows they
//! change, reservations checked against locked balance rows, and the
//! whole-database check behind `upivia admin check-ledger`.
//!
//! Each account's `account_balances` row holds the running sums of its
//! entries. A transaction that changes an account locks its row first
//! (`FOR UPDATE`, every account of the transaction in key order, after any
//! daily counter), checks against the locked sums, then adds its entries'
//! amounts to the row: concurrent requests on several nodes serialise on
//! the rows they share and cannot overspend. The entries stay the truth;
//! the check recomputes every row from them.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::rows::get;
use super::tx::TxResult;
use super::{PgStore, StoreResult, db_error};
use crate::model::{Account, AccountTotals, EntryKind, Hold, HoldLimit};
use crate::money::Cents;
use crate::store::{LedgerReport, StoreError};

/// One ledger entry to append.
pub(super) struct Entry {
    pub(super) account: String,
    pub(super) kind: EntryKind,
    pub(super) amount: Cents,
}

/// What the entries of one transaction have in common.
pub(super) struct Posting<'a> {
    pub(super) org_id: &'a str,
    pub(super) request_id: Option<&'a str>,
    pub(super) note: Option<&'a str>,
    pub(super) now: OffsetDateTime,
}

fn totals_of(row: &PgRow) -> StoreResult<(String, AccountTotals)> {
    Ok((
        get(row, "account")?,
        AccountTotals {
            credits: Cents::new(get(row, "credits_cents")?),
            settled: Cents::new(get(row, "settled_cents")?),
            reserved: Cents::new(get(row, "reserved_cents")?),
        },
    ))
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys.dedup();
    keys
}

/// Locks the balance rows of `keys` in key order, creating the missing
/// ones first when `create`, and returns their sums (an account without a
/// row has none).
pub(super) async fn lock(
    c: &mut PgConnection,
    keys: Vec<String>,
    create: bool,
) -> TxResult<BTreeMap<String, AccountTotals>> {
    let keys = sorted(keys);
    if create {
        // Inserted in key order too: a concurrent insert of the same new
        // row makes this one wait, and that must not close a cycle.
        sqlx::query(
            "INSERT INTO account_balances (account) SELECT unnest($1::text[]) \
             ON CONFLICT (account) DO NOTHING",
        )
        .bind(&keys)
        .execute(&mut *c)
        .await?;
    }
    // ORDER BY is applied before the locks are taken, so rows are locked
    // in key order.
    let rows = sqlx::query(
        "SELECT account, credits_cents, settled_cents, reserved_cents FROM account_balances \
         WHERE account = ANY($1) ORDER BY account FOR UPDATE",
    )
    .bind(&keys)
    .fetch_all(&mut *c)
    .await?;
    let mut totals: BTreeMap<String, AccountTotals> = keys
        .into_iter()
        .map(|k| (k, AccountTotals::default()))
        .collect();
    for row in &rows {
        let (key, t) = totals_of(row)?;
        totals.insert(key, t);
    }
    Ok(totals)
}

/// The sums of `keys` without locking them: enough when nothing is held,
/// because then nothing is written either.
async fn peek(
    c: &mut PgConnection,
    keys: Vec<String>,
) -> TxResult<BTreeMap<String, AccountTotals>> {
    let rows = sqlx::query(
        "SELECT account, credits_cents, settled_cents, reserved_cents FROM account_balances \
         WHERE account = ANY($1)",
    )
    .bind(&keys)
    .fetch_all(&mut *c)
    .await?;
    let mut totals: BTreeMap<String, AccountTotals> = keys
        .into_iter()
        .map(|k| (k, AccountTotals::default()))
        .collect();
    for row in &rows {
        let (key, t) = totals_of(row)?;
        totals.insert(key, t);
    }
    Ok(totals)
}

/// Appends `entries` and adds them to the balance rows, which the caller
/// locked and read into `totals`. Refuses (`Overflow`, or `Corrupt` when
/// more would be given back than is held) before writing anything.
pub(super) async fn post(
    c: &mut PgConnection,
    totals: &mut BTreeMap<String, AccountTotals>,
    posting: &Posting<'_>,
    entries: &[Entry],
) -> TxResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // What each account's row gains: credits, settled, reserved.
    let mut deltas: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for e in entries {
        let t = totals.entry(e.account.clone()).or_default();
        t.apply(e.kind, e.amount)
            .ok_or_else(|| StoreError::Overflow {
                account: e.account.clone(),
            })?;
        if t.reserved.is_negative() {
            return Err(
                StoreError::Corrupt(format!("more given back than held on {}", e.account)).into(),
            );
        }
        let d = deltas.entry(&e.account).or_default();
        let a = e.amount.get();
        let overflow = || StoreError::Overflow {
            account: e.account.clone(),
        };
        match e.kind {
            EntryKind::Credit => d.0 = d.0.checked_add(a).ok_or_else(overflow)?,
            EntryKind::Reserve => d.2 = d.2.checked_add(a).ok_or_else(overflow)?,
            EntryKind::Release => d.2 = d.2.checked_sub(a).ok_or_else(overflow)?,
            EntryKind::Settle => {
                d.1 = d.1.checked_add(a).ok_or_else(overflow)?;
                d.2 = d.2.checked_sub(a).ok_or_else(overflow)?;
            }
        }
    }
    let (mut d_accounts, mut d_credits, mut d_settled, mut d_reserved) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (account, (cr, se, re)) in deltas {
        d_accounts.push(account.to_owned());
        d_credits.push(cr);
        d_settled.push(se);
        d_reserved.push(re);
    }
    let mut e_accounts = Vec::with_capacity(entries.len());
    let mut e_kinds = Vec::with_capacity(entries.len());
    let mut e_amounts = Vec::with_capacity(entries.len());
    for e in entries {
        e_accounts.push(e.account.clone());
        e_kinds.push(e.kind.as_str());
        e_amounts.push(e.amount.get());
    }
    // One statement: the rows' sums move with the entries appended, in
    // the entries' order (their seq).
    let updated = sqlx::query(
        "WITH balances AS ( \
           UPDATE account_balances b SET credits_cents = b.credits_cents + d.credits, \
             settled_cents = b.settled_cents + d.settled, \
             reserved_cents = b.reserved_cents + d.reserved \
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
             AS d(account, credits, settled, reserved) \
           WHERE b.account = d.account RETURNING 1) \
         INSERT INTO ledger_entries (org_id, account, kind, amount_cents, request_id, note, created_at) \
         SELECT $5, e.account, e.kind, e.amount, $6, $7, $8 \
         FROM unnest($9::text[], $10::text[], $11::bigint[]) WITH ORDINALITY \
           AS e(account, kind, amount, ord) \
         WHERE (SELECT COUNT(*) FROM balances) = $12 \
         ORDER BY e.ord",
    )
    .bind(&d_accounts)
    .bind(&d_credits)
    .bind(&d_settled)
    .bind(&d_reserved)
    .bind(posting.org_id)
    .bind(posting.request_id)
    .bind(posting.note)
    .bind(posting.now)
    .bind(&e_accounts)
    .bind(&e_kinds)
    .bind(&e_amounts)
    .bind(i64::try_from(d_accounts.len()).unwrap_or(i64::MAX))
    .execute(&mut *c)
    .await?;
    if updated.rows_affected() != entries.len() as u64 {
        // A balance row the caller should have locked is missing.
        return Err(StoreError::Corrupt(format!(
            "no balance row for some of {}",
            d_accounts.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// Reserves `amount` on every hold, or on none: locks the accounts, checks
/// each hold in order against its limit and answers the first that does
/// not fit (with what it has available), else appends the reservations.
pub(super) async fn reserve(
    c: &mut PgConnection,
    holds: &[Hold],
    amount: Cents,
    posting: &Posting<'_>,
) -> TxResult<Result<(), (Account, Cents)>> {
    let keys: Vec<String> = holds.iter().map(|h| h.account.key()).collect();
    let mut totals = if amount > Cents::ZERO {
        lock(c, keys.clone(), true).await?
    } else {
        peek(c, keys.clone()).await?
    };
    for (hold, key) in holds.iter().zip(&keys) {
        let available = totals
            .get(key)
            .copied()
            .unwrap_or_default()
            .available(&hold.limit);
        if available < amount {
            return Ok(Err((hold.account.clone(), available)));
        }
    }
    if amount > Cents::ZERO {
        let entries: Vec<Entry> = keys
            .into_iter()
            .map(|account| Entry {
                account,
                kind: EntryKind::Reserve,
                amount,
            })
            .collect();
        post(c, &mut totals, posting, &entries).await?;
    }
    Ok(Ok(()))
}

/// How a request's holds close: the entries to append and what is
/// settled on the organisation. Worked out before any lock is taken, so
/// the caller can write everything else first and lock the balance rows
/// last ([`close`]).
pub(super) struct Closing {
    keys: Vec<String>,
    entries: Vec<Entry>,
    pub(super) settled: Cents,
}

/// Settles `charge` (capped at `held`) out of what a request holds on each
/// of `accounts` (a JSON array of keys), and releases the rest; no charge
/// releases everything.
pub(super) fn closing(
    request_id: &str,
    (accounts, held): (Option<String>, Cents),
    charge: Option<Cents>,
) -> StoreResult<Closing> {
    let mut closing = Closing {
        keys: Vec::new(),
        entries: Vec::new(),
        settled: Cents::ZERO,
    };
    let Some(accounts) = accounts.filter(|_| held > Cents::ZERO) else {
        return Ok(closing);
    };
    let keys: Vec<String> = serde_json::from_str(&accounts)
        .map_err(|e| StoreError::Corrupt(format!("bad held_accounts on {request_id}: {e}")))?;
    let amount = charge.map_or(Cents::ZERO, |c| c.min(held).max(Cents::ZERO));
    let rest = held.checked_sub(amount).unwrap_or(Cents::ZERO);
    for key in &keys {
        let account = Account::parse(key)
            .ok_or_else(|| StoreError::Corrupt(format!("bad account key {key}")))?;
        for (kind, value) in [(EntryKind::Settle, amount), (EntryKind::Release, rest)] {
            if value > Cents::ZERO {
                closing.entries.push(Entry {
                    account: key.clone(),
                    kind,
                    amount: value,
                });
            }
        }
        if matches!(account, Account::Org(_)) {
            closing.settled = amount;
        }
    }
    closing.keys = keys;
    Ok(closing)
}

/// Locks the accounts of `closing` (their rows exist: the reservation made
/// them) and appends its entries.
pub(super) async fn close(
    c: &mut PgConnection,
    posting: &Posting<'_>,
    closing: Closing,
) -> TxResult<()> {
    if closing.entries.is_empty() {
        return Ok(());
    }
    let mut totals = lock(c, closing.keys, false).await?;
    post(c, &mut totals, posting, &closing.entries).await
}

/// Credits `amount` to `account` (creating its balance row) and returns
/// the account's sums after it.
pub(super) async fn credit(
    c: &mut PgConnection,
    account: &Account,
    amount: Cents,
    posting: &Posting<'_>,
) -> TxResult<AccountTotals> {
    let key = account.key();
    let mut totals = lock(c, vec![key.clone()], true).await?;
    let entry = Entry {
        account: key.clone(),
        kind: EntryKind::Credit,
        amount,
    };
    post(c, &mut totals, posting, &[entry]).await?;
    Ok(totals.get(&key).copied().unwrap_or_default())
}

pub(super) async fn totals(store: &PgStore, account: &Account) -> StoreResult<AccountTotals> {
    let row = sqlx::query(
        "SELECT account, credits_cents, settled_cents, reserved_cents FROM account_balances \
         WHERE account = $1",
    )
    .bind(account.key())
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    match row {
        Some(row) => Ok(totals_of(&row)?.1),
        None => Ok(AccountTotals::default()),
    }
}

/// Recomputes every account and request from the raw entries, in one
/// snapshot, and checks what SQLite's check does (no funds account
/// overdrawn, no reservation giving back more than it held, each request's
/// row agreeing with its entries, finished requests holding nothing, money
/// settled on organisations equal to what executed requests were charged),
/// and also that every balance row equals the sums of its account's
/// entries and that no funds account's row is below zero.
pub(super) async fn check(store: &PgStore) -> StoreResult<LedgerReport> {
    let mut tx = store.pool.begin().await.map_err(db_error)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    let report = check_in(&mut tx).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(report)
}

async fn check_in(c: &mut PgConnection) -> StoreResult<LedgerReport> {
    let mut report = LedgerReport::default();
    let mut accounts: BTreeMap<String, AccountTotals> = BTreeMap::new();
    let mut per_request: BTreeMap<(String, String), i64> = BTreeMap::new();
    {
        let mut rows = sqlx::query(
            "SELECT account, kind, amount_cents, request_id FROM ledger_entries ORDER BY seq",
        )
        .fetch(&mut *c);
        while let Some(row) = rows.try_next().await.map_err(db_error)? {
            report.entries_checked += 1;
            let account: String = get(&row, "account")?;
            let kind: String = get(&row, "kind")?;
            let amount: i64 = get(&row, "amount_cents")?;
            let request_id: Option<String> = get(&row, "request_id")?;
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
            if let Some(request_id) = request_id {
                let held = per_request.entry((request_id, account)).or_insert(0);
                match kind {
                    EntryKind::Reserve => *held = held.saturating_add(amount),
                    EntryKind::Release | EntryKind::Settle => *held = held.saturating_sub(amount),
                    EntryKind::Credit => {}
                }
            }
        }
    }
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
        if is_funds(key) && totals.available(&HoldLimit::Funds).is_negative() {
            report.problems.push(format!(
                "{key}: overdrawn: credits {} − settled {} − reserved {} < 0",
                totals.credits, totals.settled, totals.reserved
            ));
        }
    }
    // The balance rows, each equal to its entries' sums.
    let mut rows_seen = 0usize;
    let mut with_row: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    {
        let mut rows = sqlx::query(
            "SELECT account, credits_cents, settled_cents, reserved_cents FROM account_balances \
             ORDER BY account",
        )
        .fetch(&mut *c);
        while let Some(row) = rows.try_next().await.map_err(db_error)? {
            let (key, row_totals) = totals_of(&row)?;
            let from_entries = accounts.get(&key).copied().unwrap_or_default();
            if !accounts.contains_key(&key) {
                rows_seen += 1;
            }
            if row_totals != from_entries {
                report.problems.push(format!(
                    "{key}: balance row says credits {} settled {} reserved {}, \
                     its entries sum to credits {} settled {} reserved {}",
                    row_totals.credits,
                    row_totals.settled,
                    row_totals.reserved,
                    from_entries.credits,
                    from_entries.settled,
                    from_entries.reserved
                ));
            }
            if is_funds(&key) && row_totals.available(&HoldLimit::Funds).is_negative() {
                report.problems.push(format!(
                    "{key}: overdrawn per its balance row: credits {} − settled {} − reserved {} < 0",
                    row_totals.credits, row_totals.settled, row_totals.reserved
                ));
            }
            with_row.insert(key);
        }
    }
    for key in accounts.keys() {
        if !with_row.contains(key) {
            report
                .problems
                .push(format!("{key}: has entries but no balance row"));
        }
    }
    report.accounts_checked = accounts.len() + rows_seen;
    // What each request's row says it holds, to compare with the entries.
    let mut rows_held: BTreeMap<(String, String), i64> = BTreeMap::new();
    {
        let mut rows = sqlx::query(
            "SELECT id, held_accounts, held_cents FROM service_requests WHERE held_cents > 0",
        )
        .fetch(&mut *c);
        while let Some(row) = rows.try_next().await.map_err(db_error)? {
            let id: String = get(&row, "id")?;
            let held_accounts: Option<String> = get(&row, "held_accounts")?;
            let held: i64 = get(&row, "held_cents")?;
            let keys: Vec<String> = held_accounts
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
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM service_requests \
         WHERE held_cents > 0 AND status NOT IN ('executing', 'running')",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(db_error)?;
    if open > 0 {
        report
            .problems
            .push(format!("{open} finished requests still hold money"));
    }
    let settled_on_orgs: i64 = accounts
        .iter()
        .filter(|(k, _)| k.starts_with("org:"))
        .fold(0i64, |sum, (_, t)| sum.saturating_add(t.settled.get()));
    let charged: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(cost_cents), 0)::bigint FROM service_requests \
         WHERE status = 'executed'",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(db_error)?;
    if settled_on_orgs != charged {
        report.problems.push(format!(
            "settled on organisations {settled_on_orgs} but executed requests were charged {charged}"
        ));
    }
    Ok(report)
}

fn is_funds(key: &str) -> bool {
    key.starts_with("org:") || key.starts_with("team:")
}
