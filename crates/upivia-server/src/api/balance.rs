//! The organisation balance (or a team pool with `team_id`, for the team's
//! members and the owner), and the
//! owner-only credit that funds it.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{Json, OwnerAuth, Query, UserAuth};
use super::{AppState, teams};
use crate::domains::teams::pool;
use crate::governance::trail;
use crate::ids::OrgId;
use crate::model::{Account, AuditEvent, HoldLimit};
use crate::money::Cents;
use crate::store::Credit;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/balance", get(fetch))
        .route("/balance/credits", post(credit))
}

#[derive(Deserialize)]
struct BalanceQuery {
    team_id: Option<String>,
}

async fn fetch(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<BalanceQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(team_id) = q.team_id.as_deref().filter(|t| !t.is_empty()) {
        let pool = pool::read(&state.platform, &user.0, team_id).await?;
        let mut out = teams::pool_json(&pool);
        if let Value::Object(o) = &mut out {
            o.insert("amount_cents".into(), pool.available().get().into());
            o.insert("credits_cents".into(), pool.totals.credits.get().into());
            o.insert("settled_cents".into(), pool.totals.settled.get().into());
        }
        return Ok(AxumJson(out));
    }
    let account = Account::Org(user.0.org_id.clone());
    let totals = state.platform.stores.governance.totals(account).await?;
    let available = totals.available(&HoldLimit::Funds);
    Ok(AxumJson(json!({
        "amount_cents": available.get(),
        "currency": "USD",
        "credits_cents": totals.credits.get(),
        "settled_cents": totals.settled.get(),
        "reserved_cents": totals.reserved.get(),
    })))
}

#[derive(Deserialize)]
struct CreditBalance {
    amount_cents: i64,
    #[serde(default)]
    note: Option<String>,
}

async fn credit(
    State(state): State<AppState>,
    OwnerAuth(principal): OwnerAuth,
    Json(body): Json<CreditBalance>,
) -> Result<AxumJson<Value>, ApiError> {
    if body.amount_cents <= 0 {
        return Err(ApiError::Unprocessable(
            "invalid field amount_cents: must be a positive integer".into(),
        ));
    }
    let note = body.note.unwrap_or_default();
    if note.len() > 500 {
        return Err(ApiError::Unprocessable(
            "invalid field note: at most 500 bytes".into(),
        ));
    }
    // PostgreSQL text cannot hold a NUL: refused on every backend alike.
    if note.contains('\0') {
        return Err(ApiError::Unprocessable(
            "invalid field note: must not contain NUL characters".into(),
        ));
    }
    let amount = Cents::new(body.amount_cents);
    let now = state.platform.clock.now();
    let audit = AuditEvent::new(
        &principal.org_id,
        "balance.credited",
        trail::user_actor(&principal.user_id),
    )
    .with_cost(amount)
    .with_details(json!({"amount_cents": amount.get(), "note": note}));
    let totals = state
        .platform
        .stores
        .governance
        .credit(Credit {
            account: Account::Org(principal.org_id.clone()),
            org_id: OrgId::from(&principal.org_id),
            amount,
            note,
            now,
            audit,
        })
        .await?;
    Ok(AxumJson(json!({
        "amount_cents": totals.available(&HoldLimit::Funds).get(),
        "currency": "USD",
        "credited_cents": amount.get(),
    })))
}
