//! The money ledger's vocabulary. Money lives in append-only entries on
//! accounts; what an account has is always a sum of its entries:
//!
//! `available = credits − settled − reserved`, where `reserved` is what
//! reservations hold: reserved minus released minus settled. A settlement
//! turns held money into spent money; a release returns the rest.
//!
//! Accounts of kind *funds* (the organisation balance, a team pool, a spawned
//! agent's allowance) hold money that credits put there. Accounts of kind
//! *cap* (an agent's or a binding's monthly budget) hold no money: their
//! limit is configuration, and the ledger records what was reserved and
//! settled against them.
//!
//! A *transfer* moves an amount between two accounts as one pair of
//! entries sharing a transfer id: a debit on the source (its credits drop)
//! and a credit on the destination. Allocating to a team pool moves money
//! from the organisation balance; spawning a child carves its allowance out
//! of the parent's month, which lowers what the parent's cap leaves it
//! (`available = cap + credits − settled − reserved`, credits ≤ 0 there).

use crate::money::Cents;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// The organisation's balance: real (or sandbox) money.
    Org(String),
    /// A team pool: money moved to a team out of the organisation balance;
    /// the team's agents spend from it instead of from the balance.
    Team(String),
    /// A spawned agent's allowance: what was carved out of its parent's
    /// month when it was spawned, for its whole life.
    Allowance(String),
    /// An agent's spending in one calendar month (`YYYY-MM`, UTC).
    AgentMonth { agent_id: String, month: String },
    /// A binding's spending in one calendar month.
    BindingMonth { binding_id: String, month: String },
    /// What was spent under one delegated task (its budget cap, if any).
    Task(String),
    /// What one workflow run spent (its `budget_cents`, if any).
    WorkflowRun(String),
    /// What the agents' replies in one room spent (its
    /// `budget_cap_cents`, if any).
    Room(String),
}

impl Account {
    /// The key stored in `ledger_entries.account`.
    pub fn key(&self) -> String {
        match self {
            Account::Org(id) => format!("org:{id}"),
            Account::Team(id) => format!("team:{id}"),
            Account::Allowance(id) => format!("allowance:{id}"),
            Account::AgentMonth { agent_id, month } => format!("agent:{agent_id}:{month}"),
            Account::BindingMonth { binding_id, month } => {
                format!("binding:{binding_id}:{month}")
            }
            Account::Task(id) => format!("task:{id}"),
            Account::WorkflowRun(id) => format!("wfrun:{id}"),
            Account::Room(id) => format!("room:{id}"),
        }
    }

    pub fn parse(key: &str) -> Option<Account> {
        let mut parts = key.splitn(3, ':');
        let kind = parts.next()?;
        let id = parts.next()?.to_owned();
        let month = parts.next();
        match (kind, month) {
            ("org", None) => Some(Account::Org(id)),
            ("team", None) => Some(Account::Team(id)),
            ("allowance", None) => Some(Account::Allowance(id)),
            ("task", None) => Some(Account::Task(id)),
            ("wfrun", None) => Some(Account::WorkflowRun(id)),
            ("room", None) => Some(Account::Room(id)),
            ("agent", Some(m)) => Some(Account::AgentMonth {
                agent_id: id,
                month: m.to_owned(),
            }),
            ("binding", Some(m)) => Some(Account::BindingMonth {
                binding_id: id,
                month: m.to_owned(),
            }),
            _ => None,
        }
    }

    /// Words for a person: which budget stopped a request.
    pub fn describe(&self) -> String {
        match self {
            Account::Org(_) => "organisation balance".to_owned(),
            Account::Team(id) => format!("team pool {id}"),
            Account::Allowance(_) => "spawn budget carved from the parent agent".to_owned(),
            Account::AgentMonth { month, .. } => format!("agent monthly budget ({month})"),
            Account::BindingMonth { month, .. } => {
                format!("service binding monthly budget ({month})")
            }
            Account::Task(id) => format!("budget cap of delegated task {id}"),
            Account::WorkflowRun(id) => format!("budget of workflow run {id}"),
            Account::Room(id) => format!("budget cap of room {id}"),
        }
    }
}

impl Account {
    /// Whether the account holds money (funds) rather than tracking
    /// spending under a cap.
    pub fn holds_money(&self) -> bool {
        matches!(
            self,
            Account::Org(_) | Account::Team(_) | Account::Allowance(_)
        )
    }
}

/// Whether a stored account key names a funds account.
pub fn is_funds_key(key: &str) -> bool {
    Account::parse(key).is_some_and(|a| a.holds_money())
}

/// Where a request's money comes from: the organisation balance, or the
/// team pool of a team agent (money allocated there has left the balance).
pub fn is_spending_key(key: &str) -> bool {
    matches!(
        Account::parse(key),
        Some(Account::Org(_) | Account::Team(_))
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Credit,
    /// The source side of a transfer: lowers the account's credits.
    Debit,
    Reserve,
    Release,
    Settle,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Credit => "credit",
            EntryKind::Debit => "debit",
            EntryKind::Reserve => "reserve",
            EntryKind::Release => "release",
            EntryKind::Settle => "settle",
        }
    }

    pub fn parse(raw: &str) -> Option<EntryKind> {
        match raw {
            "credit" => Some(EntryKind::Credit),
            "debit" => Some(EntryKind::Debit),
            "reserve" => Some(EntryKind::Reserve),
            "release" => Some(EntryKind::Release),
            "settle" => Some(EntryKind::Settle),
            _ => None,
        }
    }
}

/// Sums of one account's entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountTotals {
    pub credits: Cents,
    pub settled: Cents,
    pub reserved: Cents,
}

impl AccountTotals {
    /// What is left under `limit` (funds: the credits; caps: the cap, less
    /// what transfers carved out of it).
    pub fn available(&self, limit: &HoldLimit) -> Cents {
        let ceiling = match limit {
            HoldLimit::Funds => self.credits,
            HoldLimit::Cap(cap) => cap.saturating_add(self.credits),
            HoldLimit::Unlimited => return Cents::new(i64::MAX),
        };
        ceiling
            .saturating_sub(self.settled)
            .saturating_sub(self.reserved)
    }

    pub fn apply(&mut self, kind: EntryKind, amount: Cents) -> Option<()> {
        match kind {
            EntryKind::Credit => self.credits = self.credits.checked_add(amount)?,
            EntryKind::Debit => self.credits = self.credits.checked_sub(amount)?,
            EntryKind::Reserve => self.reserved = self.reserved.checked_add(amount)?,
            EntryKind::Release => self.reserved = self.reserved.checked_sub(amount)?,
            EntryKind::Settle => {
                self.settled = self.settled.checked_add(amount)?;
                self.reserved = self.reserved.checked_sub(amount)?;
            }
        }
        Some(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldLimit {
    /// Limited by the money credited to the account.
    Funds,
    /// Limited by a configured cap.
    Cap(Cents),
    /// Not limited; held only so the account's spending is tracked.
    Unlimited,
}

/// One part of a reservation: hold `amount` on `account` if it fits `limit`.
/// A request's holds are applied all together or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub account: Account,
    pub limit: HoldLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_round_trip() {
        let accounts = [
            Account::Org("org_1".into()),
            Account::Team("team_1".into()),
            Account::Allowance("agt_2".into()),
            Account::AgentMonth {
                agent_id: "agt_1".into(),
                month: "2026-11".into(),
            },
            Account::BindingMonth {
                binding_id: "bnd_1".into(),
                month: "2026-12".into(),
            },
            Account::Task("dtk_1".into()),
        ];
        for account in accounts {
            assert_eq!(Account::parse(&account.key()), Some(account));
        }
        assert_eq!(Account::parse("agent:agt_1"), None);
        assert_eq!(Account::parse("bogus:x"), None);
    }

    #[test]
    fn a_debit_lowers_funds_and_what_a_cap_leaves() {
        let mut totals = AccountTotals::default();
        totals.apply(EntryKind::Credit, Cents::new(100)).unwrap();
        totals.apply(EntryKind::Debit, Cents::new(40)).unwrap();
        assert_eq!(totals.available(&HoldLimit::Funds), Cents::new(60));
        let mut month = AccountTotals::default();
        month.apply(EntryKind::Debit, Cents::new(30)).unwrap();
        month.apply(EntryKind::Reserve, Cents::new(5)).unwrap();
        assert_eq!(
            month.available(&HoldLimit::Cap(Cents::new(100))),
            Cents::new(65)
        );
        assert!(is_funds_key("allowance:agt_1"));
        assert!(!is_funds_key("agent:agt_1:2026-12"));
        assert!(is_spending_key("team:team_1"));
        assert!(!is_spending_key("allowance:agt_1"));
    }

    #[test]
    fn available_subtracts_settled_and_reserved() {
        let mut totals = AccountTotals::default();
        totals.apply(EntryKind::Credit, Cents::new(100)).unwrap();
        totals.apply(EntryKind::Reserve, Cents::new(30)).unwrap();
        totals.apply(EntryKind::Settle, Cents::new(20)).unwrap();
        totals.apply(EntryKind::Release, Cents::new(10)).unwrap();
        assert_eq!(totals.reserved, Cents::ZERO);
        assert_eq!(totals.available(&HoldLimit::Funds), Cents::new(80));
        // A capped account holds no credits of its own (only debits carved
        // out of it): its cap is the ceiling.
        let mut month = AccountTotals::default();
        month.apply(EntryKind::Reserve, Cents::new(30)).unwrap();
        month.apply(EntryKind::Settle, Cents::new(20)).unwrap();
        month.apply(EntryKind::Release, Cents::new(10)).unwrap();
        assert_eq!(
            month.available(&HoldLimit::Cap(Cents::new(25))),
            Cents::new(5)
        );
        month.apply(EntryKind::Reserve, Cents::new(10)).unwrap();
        assert_eq!(
            month.available(&HoldLimit::Cap(Cents::new(25))),
            Cents::new(-5)
        );
    }
}
