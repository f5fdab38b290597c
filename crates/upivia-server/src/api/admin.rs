//! Operator endpoints: the organisation kill switch, and verification of
//! the ledger and of the audit chain. The checks cover the whole database,
//! every organisation's entries, so only the operator's organisation (the
//! one the first start created) may run them.

use axum::extract::State;
use axum::routing::{get, patch};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::extract::{AdminAuth, Json};
use crate::audit::AuditError;
use crate::governance::roles;
use crate::ids::{OrgId, UserId};
use crate::model::UserPrincipal;
use crate::store::KillSwitchChange;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/org", patch(update_org))
        .route("/admin/ledger/check", get(check_ledger))
        .route("/admin/audit/verify", get(verify_audit))
}

#[derive(Deserialize)]
struct UpdateOrg {
    kill_switch: Option<bool>,
}

async fn update_org(
    State(state): State<AppState>,
    AdminAuth(principal): AdminAuth,
    Json(body): Json<UpdateOrg>,
) -> Result<AxumJson<Value>, ApiError> {
    let now = state.platform.clock.now();
    let current = state
        .platform
        .stores
        .identity
        .org(&OrgId::from(&principal.org_id))
        .await?
        .ok_or(ApiError::NotFound("organisation"))?;
    let org = match body.kill_switch {
        Some(on) => {
            let expect = (current.kill_switch, current.kill_switch_set_by);
            let set_by = roles::check_kill_switch(expect.0, expect.1, on, principal.role)?;
            state
                .platform
                .stores
                .identity
                .set_kill_switch(KillSwitchChange {
                    org_id: OrgId::from(&principal.org_id),
                    on,
                    set_by,
                    expect,
                    user_id: UserId::from(&principal.user_id),
                    now,
                })
                .await?
        }
        None => current,
    };
    Ok(AxumJson(json!({"org": {
        "id": org.id,
        "name": org.name,
        "kill_switch": org.kill_switch,
        "kill_switch_set_by_role": org.kill_switch_set_by.as_str(),
    }})))
}

/// Refuses a user of any organisation but the operator's: a platform-wide
/// answer would show them how much the other organisations do, and on a
/// problem their account, request or audit entry ids.
pub(super) async fn operator_only(
    state: &AppState,
    principal: &UserPrincipal,
) -> Result<(), ApiError> {
    let primary = state.platform.stores.identity.primary_org().await?;
    match primary {
        Some(org) if org.id == principal.org_id => Ok(()),
        _ => Err(ApiError::Forbidden(
            "platform-wide checks are for the operator's organisation only".into(),
        )),
    }
}

async fn check_ledger(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
) -> Result<AxumJson<Value>, ApiError> {
    operator_only(&state, &admin).await?;
    let report = state.platform.stores.governance.check_ledger().await?;
    Ok(AxumJson(json!({
        "ok": report.problems.is_empty(),
        "accounts_checked": report.accounts_checked,
        "entries_checked": report.entries_checked,
        "problems": report.problems,
    })))
}

/// The same verification as `upivia audit verify`, with this server's
/// audit key, public key and checkpoint file.
async fn verify_audit(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
) -> Result<AxumJson<Value>, ApiError> {
    operator_only(&state, &admin).await?;
    let report = state
        .sealer
        .verify(state.platform.stores.governance.as_ref())
        .await
        .map_err(audit_error)?;
    Ok(AxumJson(json!({
        "ok": report.ok(),
        "entries_checked": report.entries_checked,
        "first_break": report.first_break.map(|b| json!({"seq": b.seq, "id": b.id, "reason": b.reason})),
        "keyed": report.keyed,
        "checkpoints_checked": report.checkpoints_checked,
        "last_checkpoint": report.last_checkpoint.map(|c| json!({"seq": c.seq, "time": c.time})),
        "unsigned_entries": report.unsigned_entries,
    })))
}

pub(super) fn audit_error(e: AuditError) -> ApiError {
    match e {
        AuditError::Store(e) => e.into(),
        other => ApiError::Internal(Box::new(other)),
    }
}
