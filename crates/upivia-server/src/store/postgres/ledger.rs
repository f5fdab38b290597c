//! Ledger rows on PostgreSQL: entries appended with the balance rows they
//! change, reservations checked against locked balance rows, and the
//! whole-database check behind `upivia admin check-ledger`.
//!
//! Each account's `account_balances` rows hold the running sums of its
//! entries: one row, or [`STRIPES`] rows for an organisation, a team pool
//! or an agent's month, whose sums add up to the account's. A transaction
//! that changes an account locks the rows it needs first (`FOR UPDATE`,
//! every row of the transaction in (account, stripe) order, after any
//! daily counter), checks against the locked sums, then adds its entries'
//! amounts to the rows: concurrent requests on several nodes serialise on
//! the rows they share and cannot overspend. A request uses its own
//! stripe of each account; a cap is checked against all of an agent
//! month's stripes; a funds stripe short of money is topped up from the
//! others with all of them locked, so a refusal always sees the whole
//! balance. The entries stay the truth; the check recomputes every
//! account from them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::TryStreamExt;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::rows::get;
use super::tx::{TxError, TxResult};
use super::{PgStore, StoreResult, db_error};
use crate::model::{
    Account, AccountTotals, EntryKind, Hold, HoldLimit, is_funds_key, is_spending_key,
};
use crate::money::Cents;
use crate::store::ledger_check::Transfers;
use crate::store::{LedgerReport, Moved, StoreError, Transfer};

/// How many balance rows a funds account (an organisation, a team pool) or
/// an agent's month is split over. Every request of an organisation holds
/// on its balance, so one row would queue all of them behind one lock;
/// spread over stripes they mostly lock different rows. A request records its stripe
/// (`held_stripe`), so a different count later still closes open holds.
pub(super) const STRIPES: i16 = 8;

/// The stripe a request reserves and closes on, spread by its id. FNV-1a,
/// the same on every node and build (std's hasher is seeded per process).
pub(super) fn stripe_of(request_id: &str) -> i16 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in request_id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i16::try_from(hash % STRIPES.unsigned_abs() as u32).unwrap_or(0)
}

/// A balance row: an account key and its stripe.
pub(super) type Row = (String, i16);

/// Whether `key`'s sums are split over stripes: funds accounts are, and
/// an agent's month (its requests run concurrently; a cap on it is checked
/// against all its stripes). A binding's month, always capped, is one row.
fn striped(key: &str) -> bool {
    is_funds(key) || key.starts_with("agent:")
}

/// The row of `key` that a request on `stripe` uses.
fn row_of(key: &str, stripe: i16) -> Row {
    (key.to_owned(), if striped(key) { stripe } else { 0 })
}

/// Every row of `key`.
fn rows_of(key: &str) -> Vec<Row> {
    if striped(key) {
        (0..STRIPES).map(|s| (key.to_owned(), s)).collect()
    } else {
        vec![(key.to_owned(), 0)]
    }
}

/// One ledger entry to append, and the balance row it moves.
pub(super) struct Entry {
    pub(super) account: String,
    pub(super) stripe: i16,
    pub(super) kind: EntryKind,
    pub(super) amount: Cents,
}

/// What the entries of one transaction have in common.
pub(super) struct Posting<'a> {
    pub(super) org_id: &'a str,
    pub(super) request_id: Option<&'a str>,
    pub(super) note: Option<&'a str>,
    pub(super) now: OffsetDateTime,
    /// The transfer the entries belong to.
    pub(super) transfer_id: Option<&'a str>,
}

fn sums_of(row: &PgRow) -> StoreResult<AccountTotals> {
    Ok(AccountTotals {
        credits: Cents::new(get(row, "credits_cents")?),
        settled: Cents::new(get(row, "settled_cents")?),
        reserved: Cents::new(get(row, "reserved_cents")?),
    })
}

fn totals_of(row: &PgRow) -> StoreResult<(Row, AccountTotals)> {
    Ok(((get(row, "account")?, get(row, "stripe")?), sums_of(row)?))
}

/// `into` plus `more`, or `None` on overflow.
fn add(into: &mut AccountTotals, more: &AccountTotals) -> Option<()> {
    into.credits = into.credits.checked_add(more.credits)?;
    into.settled = into.settled.checked_add(more.settled)?;
    into.reserved = into.reserved.checked_add(more.reserved)?;
    Some(())
}

/// The sums of `key` over the rows of it in `totals`.
fn account_sum(
    totals: &BTreeMap<Row, AccountTotals>,
    key: &str,
) -> Result<AccountTotals, StoreError> {
    let mut sum = AccountTotals::default();
    for (_, t) in totals.range((key.to_owned(), 0)..=(key.to_owned(), i16::MAX)) {
        add(&mut sum, t).ok_or_else(|| StoreError::Overflow {
            account: key.to_owned(),
        })?;
    }
    Ok(sum)
}

/// Locks `rows` in (account, stripe) order, creating the missing ones
/// first when `create`, and returns the sums of those that exist.
pub(super) async fn lock(
    c: &mut PgConnection,
    mut rows: Vec<Row>,
    create: bool,
) -> TxResult<BTreeMap<Row, AccountTotals>> {
    rows.sort();
    rows.dedup();
    let (accounts, stripes): (Vec<String>, Vec<i16>) = rows.iter().cloned().unzip();
    if create {
        // Inserted in key order too: a concurrent insert of the same new
        // row makes this one wait, and that must not close a cycle.
        sqlx::query(
            "INSERT INTO account_balances (account, stripe) \
             SELECT * FROM unnest($1::text[], $2::smallint[]) \
             ON CONFLICT (account, stripe) DO NOTHING",
        )
        .bind(&accounts)
        .bind(&stripes)
        .execute(&mut *c)
        .await?;
    }
    // ORDER BY is applied before the locks are taken, so rows are locked
    // in key order.
    let found = sqlx::query(
        "SELECT b.account, b.stripe, b.credits_cents, b.settled_cents, b.reserved_cents \
         FROM account_balances b \
         JOIN unnest($1::text[], $2::smallint[]) AS k(account, stripe) \
           ON b.account = k.account AND b.stripe = k.stripe \
         ORDER BY b.account, b.stripe FOR UPDATE OF b",
    )
    .bind(&accounts)
    .bind(&stripes)
    .fetch_all(&mut *c)
    .await?;
    let mut totals = BTreeMap::new();
    for row in &found {
        let (key, t) = totals_of(row)?;
        totals.insert(key, t);
    }
    Ok(totals)
}

/// The sums of each of `keys` over its stripes, without locking: enough
/// when nothing is held, because then nothing is written either.
async fn peek(
    c: &mut PgConnection,
    keys: Vec<String>,
) -> TxResult<BTreeMap<String, AccountTotals>> {
    let found = sqlx::query(
        "SELECT account, SUM(credits_cents)::bigint AS credits_cents, \
           SUM(settled_cents)::bigint AS settled_cents, \
           SUM(reserved_cents)::bigint AS reserved_cents \
         FROM account_balances WHERE account = ANY($1) GROUP BY account",
    )
    .bind(&keys)
    .fetch_all(&mut *c)
    .await?;
    let mut totals: BTreeMap<String, AccountTotals> = keys
        .into_iter()
        .map(|k| (k, AccountTotals::default()))
        .collect();
    for row in &found {
        totals.insert(get(row, "account")?, sums_of(row)?);
    }
    Ok(totals)
}

/// Appends `entries` and adds them to their balance rows. With `totals`
/// (the rows as the caller locked and read them) it refuses (`Overflow`,
/// or `Corrupt` when more would be given back than is held) before
/// writing anything; without, the statement locks the rows itself, in
/// order, and the rows' CHECKs refuse a negative sum.
pub(super) async fn post(
    c: &mut PgConnection,
    mut totals: Option<&mut BTreeMap<Row, AccountTotals>>,
    posting: &Posting<'_>,
    entries: &[Entry],
) -> TxResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // What each row gains: credits, settled, reserved.
    let mut deltas: BTreeMap<(&str, i16), (i64, i64, i64)> = BTreeMap::new();
    for e in entries {
        let overflow = || StoreError::Overflow {
            account: e.account.clone(),
        };
        if let Some(totals) = totals.as_deref_mut() {
            let t = totals.entry((e.account.clone(), e.stripe)).or_default();
            t.apply(e.kind, e.amount).ok_or_else(overflow)?;
            if t.reserved.is_negative() {
                return Err(StoreError::Corrupt(format!(
                    "more given back than held on {}",
                    e.account
                ))
                .into());
            }
        }
        let d = deltas.entry((&e.account, e.stripe)).or_default();
        let a = e.amount.get();
        match e.kind {
            EntryKind::Credit => d.0 = d.0.checked_add(a).ok_or_else(overflow)?,
            EntryKind::Debit => d.0 = d.0.checked_sub(a).ok_or_else(overflow)?,
            EntryKind::Reserve => d.2 = d.2.checked_add(a).ok_or_else(overflow)?,
            EntryKind::Release => d.2 = d.2.checked_sub(a).ok_or_else(overflow)?,
            EntryKind::Settle => {
                d.1 = d.1.checked_add(a).ok_or_else(overflow)?;
                d.2 = d.2.checked_sub(a).ok_or_else(overflow)?;
            }
        }
    }
    let n_rows = deltas.len();
    let (mut d_accounts, mut d_stripes, mut d_credits, mut d_settled, mut d_reserved) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((account, stripe), (cr, se, re)) in deltas {
        d_accounts.push(account.to_owned());
        d_stripes.push(stripe);
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
    // One statement: the rows locked in order (a no-op for rows the caller
    // locked; for the others, the update's own locks would follow its
    // plan's order), then their sums moved with the entries appended, in
    // the entries' order (their seq). `locked` is an init plan of the
    // update, so it runs to its end before the first row is updated.
    let updated = sqlx::query(
        "WITH locked AS ( \
           SELECT 1 FROM account_balances b \
           JOIN unnest($1::text[], $2::smallint[]) AS k(account, stripe) \
             ON b.account = k.account AND b.stripe = k.stripe \
           ORDER BY b.account, b.stripe FOR UPDATE OF b), \
         balances AS ( \
           UPDATE account_balances b SET credits_cents = b.credits_cents + d.credits, \
             settled_cents = b.settled_cents + d.settled, \
             reserved_cents = b.reserved_cents + d.reserved \
           FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
             AS d(account, stripe, credits, settled, reserved) \
           WHERE b.account = d.account AND b.stripe = d.stripe \
             AND (SELECT COUNT(*) FROM locked) = $13 RETURNING 1) \
         INSERT INTO ledger_entries (org_id, account, kind, amount_cents, request_id, note, \
           created_at, transfer_id) \
         SELECT $6, e.account, e.kind, e.amount, $7, $8, $9, $14 \
         FROM unnest($10::text[], $11::text[], $12::bigint[]) WITH ORDINALITY \
           AS e(account, kind, amount, ord) \
         WHERE (SELECT COUNT(*) FROM balances) = $13 \
         ORDER BY e.ord",
    )
    .bind(&d_accounts)
    .bind(&d_stripes)
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
    .bind(i64::try_from(n_rows).unwrap_or(i64::MAX))
    .bind(posting.transfer_id)
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

/// What a reservation's transaction learnt in an earlier attempt, so the
/// next one starts right: whether to look at every stripe of a funds
/// account (its own stripe lacked the money: the others top it up, or the
/// account truly has too little) and whether rows must be created first
/// (an account's or stripe's first use). A body told either runs again
/// from the start ([`TxError::Again`]): locking more rows while holding
/// some would break the lock order.
#[derive(Debug, Default)]
pub(super) struct Reach {
    wide: AtomicBool,
    create: AtomicBool,
}

impl Reach {
    pub(super) fn wide(&self) -> bool {
        self.wide.load(Ordering::Relaxed)
    }

    fn create(&self) -> bool {
        self.create.load(Ordering::Relaxed)
    }

    /// Marks the next attempt wide and answers the error that starts it.
    fn widen(&self) -> TxError {
        self.wide.store(true, Ordering::Relaxed);
        TxError::Again
    }

    /// Marks the next attempt as creating rows first.
    fn creating(&self) -> TxError {
        self.create.store(true, Ordering::Relaxed);
        TxError::Again
    }
}

/// Reserves `amount` on every hold, or on none: locks the accounts' rows,
/// checks each hold in order against its limit and answers the first that
/// does not fit (with what it has available), else appends the
/// reservations on `stripe`. `Err(TxError::Again)` when a funds account's
/// stripe lacks the money and `reach` was narrow.
pub(super) async fn reserve(
    c: &mut PgConnection,
    holds: &[Hold],
    amount: Cents,
    posting: &Posting<'_>,
    stripe: i16,
    reach: &Reach,
) -> TxResult<Result<(), (Account, Cents)>> {
    let keys: Vec<String> = holds.iter().map(|h| h.account.key()).collect();
    if amount <= Cents::ZERO {
        let totals = peek(c, keys.clone()).await?;
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
        return Ok(Ok(()));
    }
    let wide = reach.wide();
    // Per hold: its own stripe, or every stripe when the check needs the
    // account's whole sums (a cap always; funds once widened).
    let whole: Vec<bool> = holds
        .iter()
        .zip(&keys)
        .map(|(hold, key)| {
            striped(key)
                && match hold.limit {
                    HoldLimit::Cap(_) => true,
                    HoldLimit::Funds => wide,
                    HoldLimit::Unlimited => false,
                }
        })
        .collect();
    let rows: Vec<Row> = keys
        .iter()
        .zip(&whole)
        .flat_map(|(k, all)| {
            if *all {
                rows_of(k)
            } else {
                vec![row_of(k, stripe)]
            }
        })
        .collect();
    let wanted = rows.len();
    let create = reach.create();
    let mut totals = lock(c, rows, create).await?;
    if !create && totals.len() < wanted {
        return Err(reach.creating());
    }
    for ((hold, key), all) in holds.iter().zip(&keys).zip(&whole) {
        let sums = if *all {
            account_sum(&totals, key)?
        } else {
            totals
                .get(&row_of(key, stripe))
                .copied()
                .unwrap_or_default()
        };
        let available = sums.available(&hold.limit);
        if available < amount {
            if hold.limit == HoldLimit::Funds && striped(key) && !wide {
                return Err(reach.widen());
            }
            return Ok(Err((hold.account.clone(), available)));
        }
    }
    if wide {
        for (hold, key) in holds.iter().zip(&keys) {
            if hold.limit == HoldLimit::Funds && striped(key) {
                top_up(c, &mut totals, key, stripe, amount).await?;
            }
        }
    }
    let entries: Vec<Entry> = keys
        .into_iter()
        .map(|account| Entry {
            stripe: row_of(&account, stripe).1,
            account,
            kind: EntryKind::Reserve,
            amount,
        })
        .collect();
    post(c, Some(&mut totals), posting, &entries).await?;
    Ok(Ok(()))
}

/// Spreads what `key` has available over its stripes (all locked in
/// `totals`, and holding at least `amount` together): `amount` and the
/// remainder to `stripe`, an even share of the rest to each. Only credits
/// move between the rows; the account's sums, and so its entries, stay.
async fn top_up(
    c: &mut PgConnection,
    totals: &mut BTreeMap<Row, AccountTotals>,
    key: &str,
    stripe: i16,
    amount: Cents,
) -> TxResult<()> {
    let available = account_sum(totals, key)?.available(&HoldLimit::Funds);
    let rest = available.get().saturating_sub(amount.get()).max(0);
    let share = rest / i64::from(STRIPES);
    let extra = rest % i64::from(STRIPES);
    let (mut accounts, mut stripes, mut credits) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..STRIPES {
        let t = totals.entry((key.to_owned(), s)).or_default();
        let mine = if s == stripe { amount.get() + extra } else { 0 };
        let overflow = || StoreError::Overflow {
            account: key.to_owned(),
        };
        let credit = t
            .settled
            .get()
            .checked_add(t.reserved.get())
            .and_then(|v| v.checked_add(share))
            .and_then(|v| v.checked_add(mine))
            .ok_or_else(overflow)?;
        t.credits = Cents::new(credit);
        accounts.push(key.to_owned());
        stripes.push(s);
        credits.push(credit);
    }
    sqlx::query(
        "UPDATE account_balances b SET credits_cents = d.credits \
         FROM unnest($1::text[], $2::smallint[], $3::bigint[]) AS d(account, stripe, credits) \
         WHERE b.account = d.account AND b.stripe = d.stripe",
    )
    .bind(&accounts)
    .bind(&stripes)
    .bind(&credits)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// How a request's holds close: the entries to append and what is
/// settled on the organisation. Worked out before any lock is taken, so
/// the caller can write everything else first and lock the balance rows
/// last ([`close`]).
pub(super) struct Closing {
    entries: Vec<Entry>,
    pub(super) settled: Cents,
}

/// What a request holds, as its row records it: the JSON array of account
/// keys, the amount held on each, and its stripe.
pub(super) struct Held {
    pub(super) accounts: Option<String>,
    pub(super) cents: Cents,
    pub(super) stripe: i16,
}

/// Settles `charge` (capped at what is held) out of what a request holds
/// on each of its accounts, and releases the rest; no charge releases
/// everything.
pub(super) fn closing(request_id: &str, held: Held, charge: Option<Cents>) -> StoreResult<Closing> {
    let mut closing = Closing {
        entries: Vec::new(),
        settled: Cents::ZERO,
    };
    let Some(accounts) = held.accounts.filter(|_| held.cents > Cents::ZERO) else {
        return Ok(closing);
    };
    let keys: Vec<String> = serde_json::from_str(&accounts)
        .map_err(|e| StoreError::Corrupt(format!("bad held_accounts on {request_id}: {e}")))?;
    let amount = charge.map_or(Cents::ZERO, |c| c.min(held.cents).max(Cents::ZERO));
    let rest = held.cents.checked_sub(amount).unwrap_or(Cents::ZERO);
    for key in &keys {
        let account = Account::parse(key)
            .ok_or_else(|| StoreError::Corrupt(format!("bad account key {key}")))?;
        let row = row_of(key, held.stripe);
        for (kind, value) in [(EntryKind::Settle, amount), (EntryKind::Release, rest)] {
            if value > Cents::ZERO {
                closing.entries.push(Entry {
                    account: key.clone(),
                    stripe: row.1,
                    kind,
                    amount: value,
                });
            }
        }
        if is_spending_key(&account.key()) {
            closing.settled = amount;
        }
    }
    Ok(closing)
}

/// Appends the entries of `closing` to its rows (they exist: the
/// reservation made them), locking them in the same statement: nothing is
/// checked first, so the rows are held for one statement and the commit.
pub(super) async fn close(
    c: &mut PgConnection,
    posting: &Posting<'_>,
    closing: Closing,
) -> TxResult<()> {
    if closing.entries.is_empty() {
        return Ok(());
    }
    post(c, None, posting, &closing.entries).await
}

/// Credits `amount` to `account` (on its first stripe, creating the row)
/// and returns the account's sums after it.
pub(super) async fn credit(
    c: &mut PgConnection,
    account: &Account,
    amount: Cents,
    posting: &Posting<'_>,
) -> TxResult<AccountTotals> {
    let key = account.key();
    let mut totals = lock(c, vec![(key.clone(), 0)], true).await?;
    let entry = Entry {
        account: key.clone(),
        stripe: 0,
        kind: EntryKind::Credit,
        amount,
    };
    post(c, Some(&mut totals), posting, &[entry]).await?;
    let sums = peek(c, vec![key.clone()]).await?;
    Ok(sums.get(&key).copied().unwrap_or_default())
}

/// Moves a transfer's amount inside the caller's transaction: locks every
/// row of both accounts (in key order, creating them), checks what the
/// source has left under its limit, gathers a striped funds source's
/// money onto stripe 0, and appends the debit and the credit there.
pub(super) async fn transfer(
    c: &mut PgConnection,
    t: &Transfer,
    now: OffsetDateTime,
) -> TxResult<Moved> {
    if t.amount <= Cents::ZERO || t.from == t.to {
        return Err(StoreError::Corrupt(format!(
            "transfer {} of {} from {} to {}",
            t.id,
            t.amount,
            t.from.key(),
            t.to.key()
        ))
        .into());
    }
    let (from, to) = (t.from.key(), t.to.key());
    let mut rows = rows_of(&from);
    rows.push(row_of(&to, 0));
    let mut totals = lock(c, rows, true).await?;
    let available = account_sum(&totals, &from)?.available(&t.from_limit);
    if available < t.amount {
        return Ok(Moved::Short { available });
    }
    if t.from_limit == HoldLimit::Funds && striped(&from) {
        top_up(c, &mut totals, &from, 0, t.amount).await?;
    }
    let posting = Posting {
        org_id: t.org_id.as_str(),
        request_id: None,
        note: Some(&t.note),
        now,
        transfer_id: Some(&t.id),
    };
    let entries = [
        Entry {
            account: from.clone(),
            stripe: 0,
            kind: EntryKind::Debit,
            amount: t.amount,
        },
        Entry {
            account: to.clone(),
            stripe: 0,
            kind: EntryKind::Credit,
            amount: t.amount,
        },
    ];
    post(c, Some(&mut totals), &posting, &entries).await?;
    Ok(Moved::Done {
        from: account_sum(&totals, &from)?,
        to: account_sum(&totals, &to)?,
    })
}

pub(super) async fn totals(store: &PgStore, account: &Account) -> StoreResult<AccountTotals> {
    let mut c = store.pool.acquire().await.map_err(db_error)?;
    let key = account.key();
    let sums = peek(&mut c, vec![key.clone()])
        .await
        .map_err(TxError::into_store)?;
    Ok(sums.get(&key).copied().unwrap_or_default())
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
    let mut transfers = Transfers::default();
    {
        let mut rows = sqlx::query(
            "SELECT account, kind, amount_cents, request_id, transfer_id FROM ledger_entries \
             ORDER BY seq",
        )
        .fetch(&mut *c);
        while let Some(row) = rows.try_next().await.map_err(db_error)? {
            report.entries_checked += 1;
            let account: String = get(&row, "account")?;
            let kind: String = get(&row, "kind")?;
            let amount: i64 = get(&row, "amount_cents")?;
            let request_id: Option<String> = get(&row, "request_id")?;
            let transfer_id: Option<String> = get(&row, "transfer_id")?;
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
                    EntryKind::Reserve => *held = held.saturating_add(amount),
                    EntryKind::Release | EntryKind::Settle => *held = held.saturating_sub(amount),
                    EntryKind::Credit | EntryKind::Debit => {}
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
    // The balance rows: each account's stripes sum to its entries, no
    // stripe of a funds account is below zero, and an account with a cap
    // has its one row only.
    let mut row_sums: BTreeMap<String, AccountTotals> = BTreeMap::new();
    {
        let mut rows = sqlx::query(
            "SELECT account, stripe, credits_cents, settled_cents, reserved_cents \
             FROM account_balances ORDER BY account, stripe",
        )
        .fetch(&mut *c);
        while let Some(row) = rows.try_next().await.map_err(db_error)? {
            let ((key, stripe), row_totals) = totals_of(&row)?;
            if stripe != 0 && !striped(&key) {
                report
                    .problems
                    .push(format!("{key}: has a stripe {stripe} but is not split"));
            }
            if is_funds(&key) && row_totals.available(&HoldLimit::Funds).is_negative() {
                report.problems.push(format!(
                    "{key} stripe {stripe}: overdrawn per its balance row: credits {} \
                     − settled {} − reserved {} < 0",
                    row_totals.credits, row_totals.settled, row_totals.reserved
                ));
            }
            let sum = row_sums.entry(key.clone()).or_default();
            if add(sum, &row_totals).is_none() {
                report
                    .problems
                    .push(format!("{key}: its balance rows overflow"));
            }
        }
    }
    let rows_seen = row_sums
        .keys()
        .filter(|k| !accounts.contains_key(*k))
        .count();
    for (key, row_totals) in &row_sums {
        let from_entries = accounts.get(key).copied().unwrap_or_default();
        if *row_totals != from_entries {
            report.problems.push(format!(
                "{key}: balance rows say credits {} settled {} reserved {}, \
                 its entries sum to credits {} settled {} reserved {}",
                row_totals.credits,
                row_totals.settled,
                row_totals.reserved,
                from_entries.credits,
                from_entries.settled,
                from_entries.reserved
            ));
        }
    }
    for key in accounts.keys() {
        if !row_sums.contains_key(key) {
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
        "SELECT COUNT(*) FROM service_requests r WHERE r.held_cents > 0 \
         AND r.status NOT IN ('executing', 'running') AND NOT EXISTS ( \
           SELECT 1 FROM outcome_reviews o WHERE o.request_id = r.id AND o.status = 'pending')",
    )
    .fetch_one(&mut *c)
    .await
    .map_err(db_error)?;
    if open > 0 {
        report
            .problems
            .push(format!("{open} finished requests still hold money"));
    }
    report.problems.extend(transfers.problems());
    let settled_on_orgs: i64 = accounts
        .iter()
        .filter(|(k, _)| is_spending_key(k))
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
            "settled on balances and pools {settled_on_orgs} but executed requests were charged {charged}"
        ));
    }
    Ok(report)
}

fn is_funds(key: &str) -> bool {
    is_funds_key(key)
}
