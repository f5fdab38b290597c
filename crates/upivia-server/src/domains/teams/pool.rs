//! Team pools: money moved from the organisation balance into a team, which
//! the team's agents then spend instead of the balance. Only the owner
//! moves money in directly (a budget request approved by a manager is the
//! other way); the team's members and the owner read a pool.

use serde_json::json;

use super::super::DomainError;
use super::service::{event, org, team_of};
use crate::ids::{self, OrgId};
use crate::model::{Account, AccountTotals, HoldLimit, Role, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{Moved, Team, Transfer, TransferCommand};

/// A team's pool as the ledger has it.
#[derive(Clone, Debug)]
pub struct Pool {
    pub team: Team,
    pub totals: AccountTotals,
}

impl Pool {
    /// What the team's agents may still reserve.
    pub fn available(&self) -> Cents {
        self.totals.available(&HoldLimit::Funds)
    }
}

/// The transfer that funds `team_id` from the organisation balance.
pub(crate) fn funding(org_id: &OrgId, team_id: &str, amount: Cents, note: String) -> Transfer {
    Transfer {
        id: ids::new_id(ids::TRANSFER),
        org_id: org_id.clone(),
        from: Account::Org(org_id.as_str().to_owned()),
        from_limit: HoldLimit::Funds,
        to: Account::Team(team_id.to_owned()),
        amount,
        note,
    }
}

/// The words for an organisation balance too small to fund `amount`.
pub(crate) fn short(available: Cents, amount: Cents) -> DomainError {
    DomainError::Conflict {
        code: "insufficient_balance",
        message: format!(
            "the organisation balance has {} cents available; moving {} cents needs more",
            available.get().max(0),
            amount.get()
        ),
    }
}

/// A team's pool, for its members and the owner.
pub async fn read(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<Pool, DomainError> {
    let (team, mine) = team_of(platform, user, team_id).await?;
    if user.role != Role::Owner && mine.is_none() {
        return Err(DomainError::Forbidden(
            "only the team's members and the owner may read its budget".into(),
        ));
    }
    let totals = platform
        .stores
        .governance
        .totals(Account::Team(team.id.clone()))
        .await?;
    Ok(Pool { team, totals })
}

/// A team the caller may move money into: the owner only (a team of
/// another organisation is not found). Checked before the body is read.
pub async fn allocatable(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
) -> Result<Team, DomainError> {
    let (team, _) = team_of(platform, user, team_id).await?;
    if user.role == Role::Owner {
        Ok(team)
    } else {
        Err(DomainError::Forbidden(format!(
            "only the owner may allocate money to a team; you are {}",
            user.role.as_str()
        )))
    }
}

/// Moves `amount` from the organisation balance into the pool of a team
/// [`allocatable`] returned, in one ledger transaction with its audit
/// event.
pub async fn allocate(
    platform: &Platform,
    user: &UserPrincipal,
    team: Team,
    amount: Cents,
    note: String,
) -> Result<Pool, DomainError> {
    let transfer = funding(&org(user), &team.id, amount, note.clone());
    let audit = event(
        user,
        "team.budget_allocated",
        json!({
            "team_id": team.id,
            "amount_cents": amount.get(),
            "transfer_id": transfer.id,
            "note": note,
        }),
    )
    .with_cost(amount);
    let moved = platform
        .stores
        .governance
        .transfer(TransferCommand {
            transfer,
            now: platform.clock.now(),
            audit,
        })
        .await?;
    match moved {
        Moved::Done { to, .. } => Ok(Pool { team, totals: to }),
        Moved::Short { available } => Err(short(available, amount)),
    }
}
