//! Audit rows: appending to the keyed hash chain inside a write job,
//! paging, the chain's record (`audit_chains`), and verifying the whole
//! chain.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value as SqlValue};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{db_error, rows};
use crate::audit::{ChainBreak, ChainRules, ChainVerifier, GLOBAL_CHAIN, entry_hash};
use crate::ids;
use crate::model::{AuditEntry, AuditEvent};
use crate::store::{AuditChainState, AuditHead, AuditQuery, AuditVerification, StoreResult};

/// Chains `event` after the current head and inserts it.
pub(super) fn append(
    ctx: &mut WriteCtx<'_>,
    event: AuditEvent,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let (head_seq, head_hash) = ctx.audit_head();
    let mut entry = AuditEntry {
        seq: head_seq + 1,
        id: ids::new_id(ids::AUDIT),
        event,
        created_at: now,
        prev_hash: head_hash.to_owned(),
        hash: String::new(),
        mac: None,
    };
    entry.hash = entry_hash(&entry);
    entry.mac = Some(ctx.audit_mac(&entry.hash)?);
    let e = &entry.event;
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO audit_log (seq, id, org_id, event_type, actor, agent_id, service, operation, \
             status, request_id, cost_cents, details, created_at, prev_hash, hash, mac) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )
        .map_err(db_error)?;
    stmt.execute(params![
        entry.seq,
        entry.id,
        e.org_id,
        e.event_type,
        e.actor,
        e.agent_id,
        e.service,
        e.operation,
        e.status,
        e.request_id,
        e.cost.map(|c| c.get()),
        e.details.to_string(),
        rows::ts(entry.created_at),
        entry.prev_hash,
        entry.hash,
        entry.mac,
    ])
    .map_err(db_error)?;
    ctx.set_audit_head(entry.seq, entry.hash);
    Ok(())
}

pub(super) fn query(conn: &Connection, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = format!(
        "SELECT {} FROM audit_log WHERE org_id = ?",
        rows::AUDIT_COLUMNS
    );
    let mut args: Vec<SqlValue> = vec![q.org_id.clone().into()];
    let mut filter = |clause: &str, value: SqlValue| {
        sql.push_str(clause);
        args.push(value);
    };
    if let Some(agent) = &q.agent_id {
        filter(" AND agent_id = ?", agent.clone().into());
    }
    if let Some(service) = &q.service {
        filter(" AND service = ?", service.clone().into());
    }
    if let Some(status) = &q.status {
        filter(" AND status = ?", status.clone().into());
    }
    if let Some(from) = q.from {
        filter(" AND created_at >= ?", rows::ts(from).into());
    }
    if let Some(to) = q.to {
        filter(" AND created_at < ?", rows::ts(to).into());
    }
    if let Some(before) = q.before_seq {
        filter(" AND seq < ?", before.into());
    }
    sql.push_str(" ORDER BY seq DESC LIMIT ?");
    args.push(i64::from(q.limit).into());
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    let entries = stmt
        .query_map(params_from_iter(args), rows::audit_entry)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)?;
    Ok(entries)
}

/// Walks the whole chain in pages under `rules` and reports the first
/// broken link.
pub(super) fn verify(conn: &Connection, rules: &ChainRules) -> StoreResult<AuditVerification> {
    const PAGE: i64 = 2_000;
    let mut verifier = ChainVerifier::new(rules);
    let sql = format!(
        "SELECT {} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        rows::AUDIT_COLUMNS
    );
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    let mut after = 0_i64;
    let broken = |verifier: &ChainVerifier<'_>, brk: ChainBreak| AuditVerification {
        entries_checked: verifier.checked(),
        last_seq: None,
        first_break: Some(brk),
    };
    loop {
        let page = stmt
            .query_map(params![after, PAGE], rows::audit_entry)
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>();
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // A row that no longer decodes was tampered with as well.
                let brk = ChainBreak {
                    seq: verifier.checked() + 1,
                    id: String::new(),
                    reason: format!("entry does not decode: {e}"),
                };
                return Ok(broken(&verifier, brk));
            }
        };
        let Some(last) = page.last() else {
            break;
        };
        after = last.seq;
        for entry in &page {
            if let Err(brk) = verifier.feed(entry) {
                return Ok(broken(&verifier, brk));
            }
        }
    }
    let checked = verifier.checked();
    match verifier.finish() {
        Ok(reach) => Ok(AuditVerification {
            entries_checked: checked,
            last_seq: Some(reach.last_seq),
            first_break: None,
        }),
        Err(brk) => Ok(AuditVerification {
            entries_checked: checked,
            last_seq: None,
            first_break: Some(brk),
        }),
    }
}

/// The chain's record, if the database still has it.
pub(super) fn chain_state(conn: &Connection) -> StoreResult<Option<AuditChainState>> {
    conn.query_row(
        "SELECT chain, keyed_from, mac_key_id, checkpoints, checkpoint_seq, checkpoint_at \
         FROM audit_chains WHERE chain = ?1",
        [GLOBAL_CHAIN],
        |r| {
            Ok(AuditChainState {
                chain: r.get(0)?,
                keyed_from: r.get(1)?,
                mac_key_id: r.get(2)?,
                checkpoints: r.get(3)?,
                checkpoint_seq: r.get(4)?,
                checkpoint_at: r.get(5)?,
            })
        },
    )
    .optional()
    .map_err(db_error)
}

/// Records `key_id` as the chain's audit key unless one is recorded, and
/// returns the recorded one (`None`: the chain's record is gone).
pub(super) fn claim_key(conn: &Connection, key_id: &str) -> StoreResult<Option<String>> {
    conn.execute(
        "UPDATE audit_chains SET mac_key_id = ?1 WHERE chain = ?2 AND mac_key_id IS NULL",
        params![key_id, GLOBAL_CHAIN],
    )
    .map_err(db_error)?;
    Ok(chain_state(conn)?.and_then(|s| s.mac_key_id))
}

/// The head as the writer knows it, with the chain's `keyed_from`.
pub(super) fn head(ctx: &mut WriteCtx<'_>) -> StoreResult<AuditHead> {
    let (seq, hash) = ctx.audit_head();
    let (seq, hash) = (seq, hash.to_owned());
    let keyed_from: Option<i64> = ctx
        .conn
        .prepare_cached("SELECT keyed_from FROM audit_chains WHERE chain = ?1")
        .map_err(db_error)?
        .query_row([GLOBAL_CHAIN], |r| r.get(0))
        .optional()
        .map_err(db_error)?;
    let keyed_from = keyed_from.ok_or(crate::store::StoreError::NotFound)?;
    Ok(AuditHead {
        seq,
        hash,
        keyed_from,
    })
}

pub(super) fn record_checkpoint(
    ctx: &mut WriteCtx<'_>,
    seq: i64,
    at: OffsetDateTime,
) -> StoreResult<()> {
    ctx.conn
        .prepare_cached(
            "UPDATE audit_chains SET checkpoints = checkpoints + 1, \
             checkpoint_seq = MAX(COALESCE(checkpoint_seq, 0), ?1), checkpoint_at = ?2 \
             WHERE chain = ?3",
        )
        .map_err(db_error)?
        .execute(params![seq, rows::ts(at), GLOBAL_CHAIN])
        .map_err(db_error)?;
    Ok(())
}

pub(super) fn hash_at(conn: &Connection, seq: i64) -> StoreResult<Option<String>> {
    conn.query_row("SELECT hash FROM audit_log WHERE seq = ?1", [seq], |r| {
        r.get(0)
    })
    .optional()
    .map_err(db_error)
}
