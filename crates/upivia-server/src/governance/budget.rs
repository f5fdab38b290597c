//! Budget: which accounts a request must fit, and the free
//! `platform.check_budget` meta-operation that reports what is left.
//!
//! A request holds its estimated cost, at once and all-or-nothing, on:
//! where its money is (the team pool for an agent of a team, since money
//! allocated there has left the organisation balance; the balance
//! otherwise), a spawned agent's allowance (what was carved out of its
//! parent), the agent's month (its cap, or no cap but still tracked), and
//! the binding's month when the binding has a monthly budget.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::GovernanceError;
use crate::clock::month_of;
use crate::model::{Account, Agent, Binding, Hold, HoldLimit, ReasonCode};
use crate::money::Cents;
use crate::platform::Platform;

/// The funds account an agent's requests spend from.
pub fn money_of(agent: &Agent) -> Account {
    match &agent.team_id {
        Some(team) => Account::Team(team.clone()),
        None => Account::Org(agent.org_id.clone()),
    }
}

pub fn holds(agent: &Agent, binding: Option<&Binding>, now: OffsetDateTime) -> Vec<Hold> {
    let month = month_of(now);
    let mut holds = vec![Hold {
        account: money_of(agent),
        limit: HoldLimit::Funds,
    }];
    if agent.parent_agent_id.is_some() {
        holds.push(Hold {
            account: Account::Allowance(agent.id.clone()),
            limit: HoldLimit::Funds,
        });
    }
    holds.push(Hold {
        account: Account::AgentMonth {
            agent_id: agent.id.clone(),
            month: month.clone(),
        },
        limit: agent
            .monthly_budget
            .map_or(HoldLimit::Unlimited, HoldLimit::Cap),
    });
    if let Some(binding) = binding
        && let Some(cap) = binding.monthly_budget
    {
        holds.push(Hold {
            account: Account::BindingMonth {
                binding_id: binding.id.clone(),
                month,
            },
            limit: HoldLimit::Cap(cap),
        });
    }
    holds
}

/// Why a hold was refused, in words that name the budget and what is left.
pub fn refusal(account: &Account, available: Cents, estimate: Cents) -> (ReasonCode, String) {
    let reason = match account {
        Account::Org(_) => ReasonCode::InsufficientBalance,
        _ => ReasonCode::BudgetExceeded,
    };
    let message = format!(
        "estimated cost {} cents exceeds the {}: {} cents remaining",
        estimate.get(),
        account.describe(),
        available.get().max(0)
    );
    (reason, message)
}

/// The answer of `platform.check_budget` for `agent`. The SDK reads these
/// fields as dollars (floats); cents are given beside them.
pub async fn check(
    platform: &Platform,
    agent: &Agent,
    now: OffsetDateTime,
) -> Result<Value, GovernanceError> {
    let store = &platform.stores.governance;
    let org = store.totals(Account::Org(agent.org_id.clone())).await?;
    let org_available = org.available(&HoldLimit::Funds);
    let month = store
        .totals(Account::AgentMonth {
            agent_id: agent.id.clone(),
            month: month_of(now),
        })
        .await?;
    let mut remaining = org_available;
    if let Some(team) = &agent.team_id {
        let pool = store.totals(Account::Team(team.clone())).await?;
        remaining = pool.available(&HoldLimit::Funds);
    }
    if agent.parent_agent_id.is_some() {
        let allowance = store.totals(Account::Allowance(agent.id.clone())).await?;
        remaining = remaining.min(allowance.available(&HoldLimit::Funds));
    }
    if let Some(cap) = agent.monthly_budget {
        remaining = remaining.min(month.available(&HoldLimit::Cap(cap)));
    }
    let remaining = remaining.max(Cents::ZERO);
    Ok(json!({
        "agent_id": agent.id,
        "remaining_dollars": remaining.to_dollars_for_wire(),
        "monthly_spent": month.settled.to_dollars_for_wire(),
        "monthly_limit": agent.monthly_budget.map(Cents::to_dollars_for_wire),
        "org_balance": org_available.max(Cents::ZERO).to_dollars_for_wire(),
        "remaining_cents": remaining.get(),
        "monthly_spent_cents": month.settled.get(),
        "monthly_reserved_cents": month.reserved.get(),
        "monthly_limit_cents": agent.monthly_budget.map(Cents::get),
        "org_balance_cents": org_available.max(Cents::ZERO).get(),
        "period": month_of(now),
    }))
}
