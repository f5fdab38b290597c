//! Budget requests: any member of a team (or an admin) asks for money for
//! its pool; the owner or a manager of that team decides once. Approving
//! moves the amount from the organisation balance into the pool in the
//! same transaction as the decision. Nobody but the owner approves their
//! own request: a manager asking for money cannot grant it to themselves.

use serde_json::json;

use super::super::DomainError;
use super::pool::{funding, short};
use super::service::{event, org, team_of};
use crate::ids::{self, UserId};
use crate::model::{Role, UserPrincipal};
use crate::money::Cents;
use crate::platform::Platform;
use crate::store::{
    BudgetDecision, BudgetRequest, BudgetRequestQuery, BudgetRequestScope, BudgetRequestStatus,
    NewBudgetRequest, ResolveBudgetRequest, Resolved, TeamRole,
};

fn sees_everything(user: &UserPrincipal) -> bool {
    user.role >= Role::Admin
}

pub async fn create(
    platform: &Platform,
    user: &UserPrincipal,
    team_id: &str,
    amount: Cents,
    reason: String,
) -> Result<BudgetRequest, DomainError> {
    let (team, mine) = team_of(platform, user, team_id).await?;
    if mine.is_none() && !sees_everything(user) {
        return Err(DomainError::Forbidden(
            "only the team's members and admins may ask for its budget".into(),
        ));
    }
    let id = ids::new_id(ids::BUDGET_REQUEST);
    let audit = event(
        user,
        "budget_request.created",
        json!({"budget_request_id": id, "team_id": team.id, "amount_cents": amount.get()}),
    );
    Ok(platform
        .stores
        .budget_requests
        .create_budget_request(NewBudgetRequest {
            id,
            org_id: org(user),
            team_id: team.id,
            user_id: UserId::from(&user.user_id),
            amount,
            reason,
            now: platform.clock.now(),
            audit,
        })
        .await?)
}

/// The owner and admins see the organisation's requests; everyone else
/// their own and those of the teams they manage.
pub async fn list(
    platform: &Platform,
    user: &UserPrincipal,
    status: Option<BudgetRequestStatus>,
    limit: u32,
) -> Result<Vec<BudgetRequest>, DomainError> {
    let scope = if sees_everything(user) {
        BudgetRequestScope::Organisation
    } else {
        BudgetRequestScope::VisibleTo(UserId::from(&user.user_id))
    };
    Ok(platform
        .stores
        .budget_requests
        .budget_requests(BudgetRequestQuery {
            org_id: org(user),
            scope,
            status,
            limit,
        })
        .await?)
}

/// A request the caller may decide: the owner, or a manager of its team
/// who did not ask for it. Checked before the body is read.
pub async fn decidable(
    platform: &Platform,
    user: &UserPrincipal,
    id: &str,
) -> Result<BudgetRequest, DomainError> {
    let request = platform
        .stores
        .budget_requests
        .budget_request(&org(user), id)
        .await?
        .ok_or(DomainError::NotFound("budget request"))?;
    if user.role == Role::Owner {
        return Ok(request);
    }
    let (_, mine) = team_of(platform, user, &request.team_id).await?;
    if !mine.is_some_and(|m| m.role == TeamRole::Manager) {
        return Err(DomainError::Forbidden(
            "only the owner or a manager of the team may decide its budget requests".into(),
        ));
    }
    if request.requested_by_user_id == user.user_id {
        return Err(DomainError::Forbidden(
            "you asked for this budget: the owner or another manager of the team decides it".into(),
        ));
    }
    Ok(request)
}

/// Decides a request [`decidable`] returned.
pub async fn resolve(
    platform: &Platform,
    user: &UserPrincipal,
    request: BudgetRequest,
    approve: bool,
    note: Option<String>,
) -> Result<BudgetRequest, DomainError> {
    let stores = &platform.stores;
    let decision = if approve {
        BudgetDecision::Approve(Box::new(funding(
            &org(user),
            &request.team_id,
            request.amount,
            format!("budget request {}", request.id),
        )))
    } else {
        BudgetDecision::Reject
    };
    let transfer_id = match &decision {
        BudgetDecision::Approve(t) => Some(t.id.clone()),
        BudgetDecision::Reject => None,
    };
    let kind = if approve {
        "budget_request.approved"
    } else {
        "budget_request.rejected"
    };
    let mut audit = event(
        user,
        kind,
        json!({
            "budget_request_id": request.id,
            "team_id": request.team_id,
            "amount_cents": request.amount.get(),
            "transfer_id": transfer_id,
            "note": note,
        }),
    );
    if approve {
        audit = audit.with_cost(request.amount);
    }
    let resolved = stores
        .budget_requests
        .resolve_budget_request(ResolveBudgetRequest {
            org_id: org(user),
            id: request.id.clone(),
            decision,
            note,
            user_id: UserId::from(&user.user_id),
            now: platform.clock.now(),
            audit,
        })
        .await?;
    match resolved {
        Resolved::Decided(done) => Ok(done),
        Resolved::AlreadyDecided(done) => Err(DomainError::Conflict {
            code: "already_resolved",
            message: format!("the budget request was already {}", done.status.as_str()),
        }),
        Resolved::Short { available } => Err(short(available, request.amount)),
    }
}
