//! `GET /audit-logs`: the organisation's audit trail, newest first, with
//! filters and an opaque keyset cursor (stable under concurrent appends).
//! `GET /audit-logs/checkpoints` (an admin of the operator's organisation:
//! the chain holds every organisation's entries): the latest signed
//! checkpoints of the chain head; `GET /audit-logs/public-key`: the key
//! that signs them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{Query, UserAuth};
use super::usage::parse_time;
use crate::audit::GLOBAL_CHAIN;
use crate::clock::rfc3339;
use crate::model::{AuditEntry, Role};
use crate::store::AuditQuery;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/audit-logs", get(list))
        .route("/audit-logs/checkpoints", get(checkpoints))
        .route("/audit-logs/public-key", get(public_key))
}

pub(super) const DEFAULT_LIMIT: u32 = 50;
pub(super) const MAX_LIMIT: u32 = 500;

#[derive(Deserialize)]
struct ListAuditLogs {
    agent_id: Option<String>,
    service: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit:{seq}"))
}

pub(super) fn decode_cursor(raw: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::InvalidRequest("cursor is not one this server issued".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("audit:")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

pub(super) fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
            }),
    }
}

pub(super) fn row(e: &AuditEntry) -> Value {
    let ev = &e.event;
    json!({
        "id": e.id,
        "seq": e.seq,
        "event_type": ev.event_type,
        "actor": ev.actor,
        "agent_id": ev.agent_id,
        "service": ev.service,
        "operation": ev.operation,
        "status": ev.status,
        "request_id": ev.request_id,
        "cost_cents": ev.cost.map(|c| c.get()),
        "details": ev.details,
        "created_at": rfc3339(e.created_at),
        // Null until the entry has its place in the chain (on PostgreSQL
        // entries are chained just after their transaction commits).
        "prev_hash": Some(&e.prev_hash).filter(|h| !h.is_empty()),
        "hash": Some(&e.hash).filter(|h| !h.is_empty()),
    })
}

/// One page plus whether another follows (one extra row is fetched to know).
pub(super) async fn page(
    state: &AppState,
    mut query: AuditQuery,
) -> Result<(Vec<AuditEntry>, Option<String>), ApiError> {
    let limit = query.limit;
    query.limit = limit + 1;
    let mut entries = state
        .platform
        .stores
        .governance
        .audit_entries(query)
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next = if more {
        entries.last().map(|e| encode_cursor(e.seq))
    } else {
        None
    };
    Ok((entries, next))
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListAuditLogs>,
) -> Result<AxumJson<Value>, ApiError> {
    let query = AuditQuery {
        org_id: user.0.org_id.clone(),
        agent_id: q.agent_id,
        service: q.service,
        status: q.status,
        from: parse_time("from", q.from.as_deref())?,
        to: parse_time("to", q.to.as_deref())?,
        before_seq: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: parse_limit(q.limit.as_deref())?,
    };
    let (entries, next) = page(&state, query).await?;
    Ok(AxumJson(json!({
        "logs": entries.iter().map(row).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

#[derive(Deserialize)]
struct ListCheckpoints {
    limit: Option<String>,
}

const MAX_CHECKPOINTS: u32 = 1_000;

/// Newest first, each exactly as a line of the checkpoint file.
async fn checkpoints(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListCheckpoints>,
) -> Result<AxumJson<Value>, ApiError> {
    user.require(Role::Admin)?;
    super::admin::operator_only(&state, &user.0).await?;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_CHECKPOINTS).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest(format!(
                    "limit must be an integer from 1 to {MAX_CHECKPOINTS}"
                ))
            })?,
    };
    let public = state.sealer.public_key();
    Ok(AxumJson(json!({
        "chain": GLOBAL_CHAIN,
        "key_id": public.id(),
        "public_key": public.to_pem(),
        "checkpoints": state
            .sealer
            .recent(state.platform.stores.governance.as_ref(), limit as usize)
            .await
            .map_err(super::admin::audit_error)?,
    })))
}

/// Any member may fetch it; an auditor should still compare it with a copy
/// exported out of band, since a server can only vouch for itself.
async fn public_key(
    State(state): State<AppState>,
    _user: UserAuth,
) -> Result<AxumJson<Value>, ApiError> {
    let public = state.sealer.public_key();
    Ok(AxumJson(json!({
        "algorithm": "ed25519",
        "key_id": public.id(),
        "public_key": public.to_pem(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        assert!(decode_cursor("not-base64!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("audit:-1")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("other:5")).is_err());
    }
}
