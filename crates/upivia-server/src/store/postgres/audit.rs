//! Audit rows on PostgreSQL: inserted unchained inside the transaction of
//! the change they record (`insert`), chained afterwards in commit order
//! by one node at a time (`start_chainer`), listed, verified, sealed, and
//! the chain's record (`audit_chains`).
//!
//! Chaining gives each entry its place `chain_seq` (contiguous from 1)
//! with `prev_hash`, `hash` and `mac` computed exactly as SQLite's writer
//! does, so one verifier serves both. An entry is chainable once its
//! transaction and every older one have finished (its `xid` is below the
//! snapshot's xmin): nothing committed later can then take a place before
//! it. The chainer's transaction holds an advisory lock, which dies with
//! its connection, so a node that crashes mid-pass holds nothing; and
//! nodes never queue on it per request, since only chainers take it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, db_error};
use crate::audit::{
    AuditKey, ChainBreak, ChainRules, ChainVerifier, GLOBAL_CHAIN, entry_hash, entry_mac,
};
use crate::clock::rfc3339;
use crate::ids;
use crate::model::{AuditEntry, AuditEvent};
use crate::money::Cents;
use crate::store::{
    AuditChainState, AuditHead, AuditQuery, AuditVerification, SharedSeal, SignHead, StoreResult,
};

/// The advisory lock a chainer's transaction holds (one node chains or
/// seals at a time). ASCII "UPIVIA" and 1.
pub const CHAIN_LOCK: i64 = 0x5550_4956_4941_0001;
/// How often each node tries to chain what is chainable.
const CHAIN_EVERY: Duration = Duration::from_millis(200);
/// Entries chained per transaction; a pass repeats while they are full.
const BATCH: i64 = 1_000;
/// How long `head` and sealing wait for entries committed before them
/// whose chaining an older, still open transaction holds back.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);
/// An entry unchained this long after its insert, with every transaction
/// before it finished, was kept out of the chain.
const LEFT_OUT_AFTER: Duration = Duration::from_secs(60);
/// How long a seal waits for another node's chainer or sealer.
const SEAL_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

macro_rules! entry_columns {
    () => {
        "seq, id, org_id, event_type, actor, agent_id, service, operation, status, request_id, \
         cost_cents, details, created_at, chain_seq, prev_hash, hash, mac"
    };
}

/// Inserts `event` unchained; the chainer chains it once its transaction
/// and every older one have finished.
pub(super) async fn insert(
    conn: &mut PgConnection,
    event: &AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, org_id, event_type, actor, agent_id, service, operation, \
         status, request_id, cost_cents, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(ids::new_id(ids::AUDIT))
    .bind(&event.org_id)
    .bind(&event.event_type)
    .bind(&event.actor)
    .bind(&event.agent_id)
    .bind(&event.service)
    .bind(&event.operation)
    .bind(&event.status)
    .bind(&event.request_id)
    .bind(event.cost.map(|c| c.get()))
    .bind(event.details.to_string())
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// A row as an entry numbered `seq`; the error says what does not decode.
fn entry_of(row: &PgRow, seq: i64) -> Result<AuditEntry, String> {
    let text = |e: sqlx::Error| e.to_string();
    let details: String = row.try_get("details").map_err(text)?;
    let details = serde_json::from_str(&details).map_err(|e| format!("details: {e}"))?;
    Ok(AuditEntry {
        seq,
        id: row.try_get("id").map_err(text)?,
        event: AuditEvent {
            org_id: row.try_get("org_id").map_err(text)?,
            event_type: row.try_get("event_type").map_err(text)?,
            actor: row.try_get("actor").map_err(text)?,
            agent_id: row.try_get("agent_id").map_err(text)?,
            service: row.try_get("service").map_err(text)?,
            operation: row.try_get("operation").map_err(text)?,
            status: row.try_get("status").map_err(text)?,
            request_id: row.try_get("request_id").map_err(text)?,
            cost: row
                .try_get::<Option<i64>, _>("cost_cents")
                .map_err(text)?
                .map(Cents::new),
            details,
        },
        created_at: row.try_get("created_at").map_err(text)?,
        // Unchained rows have none yet; a chained row without them fails
        // its hash check.
        prev_hash: row
            .try_get::<Option<String>, _>("prev_hash")
            .map_err(text)?
            .unwrap_or_default(),
        hash: row
            .try_get::<Option<String>, _>("hash")
            .map_err(text)?
            .unwrap_or_default(),
        mac: row.try_get("mac").map_err(text)?,
    })
}

// ---------------------------------------------------------------------------
// Chaining

/// Chains every few hundred milliseconds until the store stops or is
/// dropped (held weakly, like the node's beat). A store without the audit
/// key does not chain: its entries wait for a node that has it.
pub(super) fn start_chainer(store: &Arc<PgStore>) {
    let Some(key) = store.audit_key.clone() else {
        return;
    };
    let weak: Weak<PgStore> = Arc::downgrade(store);
    let stop = store.stop.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Some(store) = weak.upgrade() else { return };
            match chain_all(&store, &key).await {
                Ok(_) if failing => {
                    tracing::info!("audit chaining works again");
                    failing = false;
                }
                Ok(_) => {}
                // Every 200 ms while the database is away: say it once.
                Err(e) if failing => tracing::debug!(error = %e, "audit chaining failed"),
                Err(e) => {
                    tracing::warn!(error = %e, "audit chaining failed; retrying");
                    failing = true;
                }
            }
        }
    });
}

/// Chains in passes until one is short, or another node holds the lock.
async fn chain_all(store: &PgStore, key: &AuditKey) -> StoreResult<i64> {
    let mut total = 0;
    loop {
        let mut tx = store.pool.begin().await.map_err(db_error)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(CHAIN_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if !locked {
            // Another node is chaining: what it leaves, the next pass takes.
            tx.rollback().await.map_err(db_error)?;
            return Ok(total);
        }
        let chained = chain_locked(&mut tx, key).await?;
        tx.commit().await.map_err(db_error)?;
        total += chained;
        if chained < BATCH {
            return Ok(total);
        }
    }
}

/// Under the lock: gives up to [`BATCH`] chainable entries their place
/// after the head, in `seq` order, and moves the head. Returns how many.
async fn chain_locked(conn: &mut PgConnection, key: &AuditKey) -> StoreResult<i64> {
    let head = sqlx::query(
        "SELECT head_seq, head_hash, keyed_from FROM audit_chains WHERE chain = $1 FOR UPDATE",
    )
    .bind(GLOBAL_CHAIN)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?
    .ok_or_else(|| corrupt("the audit chain's record (audit_chains 'global') is gone"))?;
    let (mut seq, mut prev): (i64, String) = (
        head.try_get("head_seq").map_err(db_error)?,
        head.try_get("head_hash").map_err(db_error)?,
    );
    let keyed_from: i64 = head.try_get("keyed_from").map_err(db_error)?;
    // The xmin of this statement's own snapshot: every transaction below
    // it has finished, so the committed ones are all visible here.
    let rows = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM audit_log WHERE chain_seq IS NULL \
         AND xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY seq LIMIT $1"
    ))
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let n = rows.len();
    let (mut seqs, mut chain_seqs) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut prevs, mut hashes, mut macs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for row in &rows {
        let row_seq: i64 = row.try_get("seq").map_err(db_error)?;
        seq += 1;
        let mut entry = entry_of(row, seq)
            .map_err(|e| corrupt(format!("audit_log row {row_seq} cannot be chained: {e}")))?;
        entry.prev_hash = prev;
        entry.hash = entry_hash(&entry);
        let mac = (seq >= keyed_from).then(|| entry_mac(key, &entry.hash));
        seqs.push(row_seq);
        chain_seqs.push(seq);
        prevs.push(entry.prev_hash);
        hashes.push(entry.hash.clone());
        macs.push(mac);
        prev = entry.hash;
    }
    let updated = sqlx::query(
        "UPDATE audit_log AS a SET chain_seq = v.chain_seq, prev_hash = v.prev_hash, \
         hash = v.hash, mac = v.mac \
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]) \
         AS v(seq, chain_seq, prev_hash, hash, mac) \
         WHERE a.seq = v.seq AND a.chain_seq IS NULL",
    )
    .bind(&seqs)
    .bind(&chain_seqs)
    .bind(&prevs)
    .bind(&hashes)
    .bind(&macs)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?
    .rows_affected();
    if updated != n as u64 {
        return Err(corrupt(format!(
            "chaining {n} audit entries updated {updated} rows: someone chains beside the lock"
        )));
    }
    sqlx::query("UPDATE audit_chains SET head_seq = $1, head_hash = $2 WHERE chain = $3")
        .bind(seq)
        .bind(&prev)
        .bind(GLOBAL_CHAIN)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Chains until every entry committed before the call is chained, waiting
/// at most [`SETTLE_WITHIN`] for older transactions that hold some back.
async fn settle(store: &PgStore, key: &AuditKey) -> StoreResult<()> {
    let target: Option<i64> =
        sqlx::query_scalar("SELECT max(seq) FROM audit_log WHERE chain_seq IS NULL")
            .fetch_one(&store.pool)
            .await
            .map_err(db_error)?;
    let Some(target) = target else {
        return Ok(());
    };
    let deadline = Instant::now() + SETTLE_WITHIN;
    loop {
        chain_all(store, key).await?;
        let waiting: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM audit_log WHERE chain_seq IS NULL AND seq <= $1 ORDER BY seq LIMIT 1",
        )
        .bind(target)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
        let Some(waiting) = waiting else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            tracing::warn!(
                seq = waiting,
                "audit entries are still unchained: an older transaction is open"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn read_head(conn: &mut PgConnection) -> StoreResult<AuditHead> {
    let row =
        sqlx::query("SELECT head_seq, head_hash, keyed_from FROM audit_chains WHERE chain = $1")
            .bind(GLOBAL_CHAIN)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?
            .ok_or(crate::store::StoreError::NotFound)?;
    Ok(AuditHead {
        seq: row.try_get("head_seq").map_err(db_error)?,
        hash: row.try_get("head_hash").map_err(db_error)?,
        keyed_from: row.try_get("keyed_from").map_err(db_error)?,
    })
}

/// The sealed head, after chaining what was written before the call: a
/// checkpoint of it covers everything this node wrote.
pub(super) async fn head(store: &PgStore) -> StoreResult<AuditHead> {
    if let Some(key) = &store.audit_key {
        settle(store, key).await?;
    }
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    read_head(&mut conn).await
}

pub(super) async fn hash_at(store: &PgStore, seq: i64) -> StoreResult<Option<String>> {
    let hash: Option<Option<String>> =
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE chain_seq = $1")
            .bind(seq)
            .fetch_optional(&store.pool)
            .await
            .map_err(db_error)?;
    Ok(hash.flatten())
}

// ---------------------------------------------------------------------------
// Checkpoints

/// Chains what was written before the call, then, under the chainer's
/// lock (waiting for another node's pass or seal), asks `sign` for a line
/// of the head and records it: one node signs at a time, each head once.
pub(super) async fn seal(
    store: &PgStore,
    sign: &SignHead<'_>,
    now: OffsetDateTime,
) -> StoreResult<SharedSeal> {
    if let Some(key) = &store.audit_key {
        settle(store, key).await?;
    }
    let mut tx = store.pool.begin().await.map_err(db_error)?;
    sqlx::query(SEAL_LOCK_TIMEOUT)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if let Some(key) = &store.audit_key {
        while chain_locked(&mut tx, key).await? == BATCH {}
    }
    let head = read_head(&mut tx).await?;
    let latest: Option<String> =
        sqlx::query_scalar("SELECT line FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
    let Some(line) = sign(&head, latest.as_deref()) else {
        tx.commit().await.map_err(db_error)?;
        return Ok(SharedSeal::Unchanged);
    };
    sqlx::query("INSERT INTO audit_checkpoints (seq, line, recorded_at) VALUES ($1, $2, $3)")
        .bind(head.seq)
        .bind(&line)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    record(&mut tx, head.seq, now).await?;
    tx.commit().await.map_err(db_error)?;
    Ok(SharedSeal::Signed(line))
}

async fn record(conn: &mut PgConnection, seq: i64, at: OffsetDateTime) -> StoreResult<()> {
    sqlx::query(
        "UPDATE audit_chains SET checkpoints = checkpoints + 1, \
         checkpoint_seq = GREATEST(COALESCE(checkpoint_seq, 0), $1), checkpoint_at = $2 \
         WHERE chain = $3",
    )
    .bind(seq)
    .bind(at)
    .bind(GLOBAL_CHAIN)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

pub(super) async fn record_checkpoint(
    store: &PgStore,
    seq: i64,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let mut conn = store.pool.acquire().await.map_err(db_error)?;
    record(&mut conn, seq, at).await
}

/// The recorded checkpoint lines, oldest first; with `newest`, the latest
/// that many.
pub(super) async fn checkpoints(store: &PgStore, newest: Option<u32>) -> StoreResult<Vec<String>> {
    let lines = match newest {
        None => {
            sqlx::query_scalar("SELECT line FROM audit_checkpoints ORDER BY seq")
                .fetch_all(&store.pool)
                .await
        }
        Some(n) => {
            sqlx::query_scalar(
                "SELECT line FROM (SELECT seq, line FROM audit_checkpoints \
                 ORDER BY seq DESC LIMIT $1) AS latest ORDER BY seq",
            )
            .bind(i64::from(n))
            .fetch_all(&store.pool)
            .await
        }
    };
    lines.map_err(db_error)
}

// ---------------------------------------------------------------------------
// Reading

/// A filter value, bound in the order its clause was added.
enum Arg {
    Text(String),
    Time(OffsetDateTime),
    Int(i64),
}

/// The organisation's entries, newest first by `seq` (the listing order,
/// which cursors use); unchained ones have empty chain fields.
pub(super) async fn entries(store: &PgStore, q: AuditQuery) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = String::from(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM audit_log WHERE org_id = $1"
    ));
    let mut args = vec![Arg::Text(q.org_id.clone())];
    let mut filter = |column: &str, op: &str, value: Arg| {
        args.push(value);
        sql.push_str(&format!(" AND {column} {op} ${}", args.len()));
    };
    if let Some(agent) = &q.agent_id {
        filter("agent_id", "=", Arg::Text(agent.clone()));
    }
    if let Some(service) = &q.service {
        filter("service", "=", Arg::Text(service.clone()));
    }
    if let Some(status) = &q.status {
        filter("status", "=", Arg::Text(status.clone()));
    }
    if let Some(from) = q.from {
        filter("created_at", ">=", Arg::Time(from));
    }
    if let Some(to) = q.to {
        filter("created_at", "<", Arg::Time(to));
    }
    if let Some(before) = q.before_seq {
        filter("seq", "<", Arg::Int(before));
    }
    args.push(Arg::Int(i64::from(q.limit)));
    sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", args.len()));
    // Built from the constants above; every value is bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match arg {
            Arg::Text(v) => query.bind(v),
            Arg::Time(v) => query.bind(v),
            Arg::Int(v) => query.bind(v),
        };
    }
    let rows = query.fetch_all(&store.pool).await.map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.try_get("seq").map_err(db_error)?;
            entry_of(row, seq).map_err(|e| corrupt(format!("audit_log row {seq}: {e}")))
        })
        .collect()
}

/// Walks the chain by `chain_seq` in pages under `rules` and reports the
/// first broken link; then, if it holds, the first entry kept out of it.
/// A store with the audit key first chains what was written before the
/// call, so the walk covers it.
pub(super) async fn verify(store: &PgStore, rules: ChainRules) -> StoreResult<AuditVerification> {
    const PAGE: i64 = 2_000;
    if let Some(key) = &store.audit_key {
        settle(store, key).await?;
    }
    let mut verifier = ChainVerifier::new(&rules);
    let broken = |checked: i64, brk: ChainBreak| AuditVerification {
        entries_checked: checked,
        last_seq: None,
        first_break: Some(brk),
    };
    let mut after = 0_i64;
    loop {
        let page = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM audit_log WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2"
        ))
        .bind(after)
        .bind(PAGE)
        .fetch_all(&store.pool)
        .await
        .map_err(db_error)?;
        if page.is_empty() {
            break;
        }
        for row in &page {
            let chain_seq: i64 = row.try_get("chain_seq").map_err(db_error)?;
            after = chain_seq;
            let entry = match entry_of(row, chain_seq) {
                Ok(entry) => entry,
                // A row that no longer decodes was tampered with as well.
                Err(e) => {
                    let brk = ChainBreak {
                        seq: chain_seq,
                        id: row.try_get("id").unwrap_or_default(),
                        reason: format!("entry does not decode: {e}"),
                    };
                    return Ok(broken(verifier.checked(), brk));
                }
            };
            if let Err(brk) = verifier.feed(&entry) {
                return Ok(broken(verifier.checked(), brk));
            }
        }
    }
    let checked = verifier.checked();
    let reach = match verifier.finish() {
        Ok(reach) => reach,
        Err(brk) => return Ok(broken(checked, brk)),
    };
    if let Some(brk) = left_out(store, reach.last_seq).await? {
        return Ok(broken(checked, brk));
    }
    Ok(AuditVerification {
        entries_checked: checked,
        last_seq: Some(reach.last_seq),
        first_break: None,
    })
}

/// The first entry kept out of the chain: unchained long after its insert
/// although every transaction before it finished (or with an `xid` no
/// transaction has had yet, which only a forged row carries). Looked at
/// twice, a chainer's interval apart, so one that a long transaction held
/// back until just now is not mistaken for it.
async fn left_out(store: &PgStore, last_seq: i64) -> StoreResult<Option<ChainBreak>> {
    const SUSPECT: &str = "SELECT seq, id FROM audit_log WHERE chain_seq IS NULL \
         AND ($1::bigint IS NULL OR seq = $1) \
         AND inserted_at < now() - make_interval(secs => $2) \
         AND (xid < pg_snapshot_xmin(pg_current_snapshot()) \
              OR xid >= pg_snapshot_xmax(pg_current_snapshot())) \
         ORDER BY seq LIMIT 1";
    let bound = LEFT_OUT_AFTER.as_secs_f64();
    let first = sqlx::query(SUSPECT)
        .bind(None::<i64>)
        .bind(bound)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    let Some(first) = first else {
        return Ok(None);
    };
    let seq: i64 = first.try_get("seq").map_err(db_error)?;
    tokio::time::sleep(CHAIN_EVERY * 5).await;
    let again = sqlx::query(SUSPECT)
        .bind(Some(seq))
        .bind(bound)
        .fetch_optional(&store.pool)
        .await
        .map_err(db_error)?;
    let Some(row) = again else {
        return Ok(None);
    };
    Ok(Some(ChainBreak {
        seq: last_seq + 1,
        id: row.try_get("id").map_err(db_error)?,
        reason: format!(
            "left out of the chain: audit_log row {seq} was inserted over {} s ago and every \
             transaction before it has finished, but no node chained it (is a node with the \
             audit key running? does something hold the chainer's lock?)",
            LEFT_OUT_AFTER.as_secs()
        ),
    }))
}

/// The chain's record, if the database still has it.
pub(super) async fn chain_state(store: &PgStore) -> StoreResult<Option<AuditChainState>> {
    let row = sqlx::query(
        "SELECT chain, keyed_from, mac_key_id, checkpoints, checkpoint_seq, checkpoint_at \
         FROM audit_chains WHERE chain = $1",
    )
    .bind(GLOBAL_CHAIN)
    .fetch_optional(&store.pool)
    .await
    .map_err(db_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(AuditChainState {
        chain: row.try_get("chain").map_err(db_error)?,
        keyed_from: row.try_get("keyed_from").map_err(db_error)?,
        mac_key_id: row.try_get("mac_key_id").map_err(db_error)?,
        checkpoints: row.try_get("checkpoints").map_err(db_error)?,
        checkpoint_seq: row.try_get("checkpoint_seq").map_err(db_error)?,
        checkpoint_at: row
            .try_get::<Option<OffsetDateTime>, _>("checkpoint_at")
            .map_err(db_error)?
            .map(rfc3339),
    }))
}

/// Records `key_id` as the chain's audit key unless one is recorded, and
/// returns the recorded one (`None`: the chain's record is gone).
pub(super) async fn claim_key(store: &PgStore, key_id: &str) -> StoreResult<Option<String>> {
    sqlx::query("UPDATE audit_chains SET mac_key_id = $1 WHERE chain = $2 AND mac_key_id IS NULL")
        .bind(key_id)
        .bind(GLOBAL_CHAIN)
        .execute(&store.pool)
        .await
        .map_err(db_error)?;
    Ok(chain_state(store).await?.and_then(|s| s.mac_key_id))
}

/// The same for the checkpoint signing key: every node must sign with it.
pub(super) async fn claim_signing_key(
    store: &PgStore,
    key_id: &str,
) -> StoreResult<Option<String>> {
    sqlx::query(
        "UPDATE audit_chains SET signing_key_id = $1 WHERE chain = $2 AND signing_key_id IS NULL",
    )
    .bind(key_id)
    .bind(GLOBAL_CHAIN)
    .execute(&store.pool)
    .await
    .map_err(db_error)?;
    let recorded: Option<Option<String>> =
        sqlx::query_scalar("SELECT signing_key_id FROM audit_chains WHERE chain = $1")
            .bind(GLOBAL_CHAIN)
            .fetch_optional(&store.pool)
            .await
            .map_err(db_error)?;
    Ok(recorded.flatten())
}
