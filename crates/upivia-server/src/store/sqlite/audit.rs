//! Audit rows: appending to the hash chain inside a write job, paging, and
//! verifying the whole chain.

use rusqlite::{Connection, params, params_from_iter, types::Value as SqlValue};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{db_error, rows};
use crate::audit::{GENESIS_HASH, entry_hash, verify_chain};
use crate::ids;
use crate::model::{AuditEntry, AuditEvent};
use crate::store::{AuditQuery, AuditVerification, StoreResult};

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
    };
    entry.hash = entry_hash(&entry);
    let e = &entry.event;
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO audit_log (seq, id, org_id, event_type, actor, agent_id, service, operation, \
             status, request_id, cost_cents, details, created_at, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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

/// Walks the whole chain in pages and reports the first broken link.
pub(super) fn verify(conn: &Connection) -> StoreResult<AuditVerification> {
    const PAGE: i64 = 2_000;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut prev_seq = 0_i64;
    let mut checked = 0_i64;
    let sql = format!(
        "SELECT {} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        rows::AUDIT_COLUMNS
    );
    let mut stmt = conn.prepare(&sql).map_err(db_error)?;
    loop {
        let page = stmt
            .query_map(params![prev_seq, PAGE], rows::audit_entry)
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>();
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // A row that no longer decodes was tampered with as well.
                return Ok(AuditVerification {
                    entries_checked: checked,
                    first_break: Some(crate::audit::ChainBreak {
                        seq: prev_seq + 1,
                        id: String::new(),
                        reason: format!("entry does not decode: {e}"),
                    }),
                });
            }
        };
        if page.is_empty() {
            return Ok(AuditVerification {
                entries_checked: checked,
                first_break: None,
            });
        }
        match verify_chain(&prev_hash, prev_seq, &page) {
            Ok((hash, seq)) => {
                checked += i64::try_from(page.len()).unwrap_or(i64::MAX);
                prev_hash = hash;
                prev_seq = seq;
            }
            Err(brk) => {
                return Ok(AuditVerification {
                    entries_checked: checked + (brk.seq - prev_seq - 1).max(0),
                    first_break: Some(brk),
                });
            }
        }
    }
}
