//! Who may loosen a governance setting. Every setting remembers the role
//! that set it; loosening it (raising or removing a cap or limit, removing
//! an approval requirement or raising its threshold, enabling a binding,
//! un-pausing an agent, lifting the kill switch) needs at least that role,
//! while tightening is open to anyone who may manage the agent. A lower
//! role's tightening does not take a setting over: the recorded role stays
//! the higher of the two, so a member cannot tighten a value to "own" it and
//! then loosen it past what an admin set (unless the value was at its
//! loosest, when loosening it again only brings back what was allowed).
//!
//! Pure functions, so the HTTP handlers, and later MCP tools or workflow
//! steps, apply the same rules.

use crate::model::agent::{AgentSetters, BindingSetters, BindingSettings};
use crate::model::{Agent, AgentStatus, Binding, Role};
use crate::money::Cents;

/// A governance setting, named as the API spells its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    AgentStatus,
    AgentMonthlyBudget,
    AgentDailyRequestLimit,
    AgentRateLimit,
    BindingEnabled,
    RequireApproval,
    ApprovalThreshold,
    MaxCost,
    BindingMonthlyBudget,
    BindingDailyRequestLimit,
    BindingRateLimit,
    KillSwitch,
}

impl Setting {
    pub fn field(self) -> &'static str {
        match self {
            Setting::AgentStatus => "status",
            Setting::AgentMonthlyBudget | Setting::BindingMonthlyBudget => "monthly_budget_cents",
            Setting::AgentDailyRequestLimit | Setting::BindingDailyRequestLimit => {
                "daily_request_limit"
            }
            Setting::AgentRateLimit | Setting::BindingRateLimit => "rate_limit_per_minute",
            Setting::BindingEnabled => "service binding",
            Setting::RequireApproval => "require_approval",
            Setting::ApprovalThreshold => "approval_threshold_cents",
            Setting::MaxCost => "max_cost_cents",
            Setting::KillSwitch => "kill_switch",
        }
    }

    fn is_binding(self) -> bool {
        matches!(
            self,
            Setting::BindingEnabled
                | Setting::RequireApproval
                | Setting::ApprovalThreshold
                | Setting::MaxCost
                | Setting::BindingMonthlyBudget
                | Setting::BindingDailyRequestLimit
                | Setting::BindingRateLimit
        )
    }
}

/// How much a value lets through; a greater allowance is looser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allowance {
    Limited(u64),
    Unlimited,
}

impl Allowance {
    /// A cap in cents; `None` is no cap.
    pub fn cap(cap: Option<Cents>) -> Allowance {
        cap.map_or(Allowance::Unlimited, |c| {
            Allowance::Limited(u64::try_from(c.get()).unwrap_or(0))
        })
    }

    /// A count limit; `None` is no limit.
    pub fn count(limit: Option<u32>) -> Allowance {
        limit.map_or(Allowance::Unlimited, |n| Allowance::Limited(u64::from(n)))
    }

    /// Whether something is allowed at all (a binding exists, the kill
    /// switch is off, no approval is required).
    pub fn allows(yes: bool) -> Allowance {
        Allowance::Limited(u64::from(yes))
    }

    /// Active lets everything through, paused nothing until resumed,
    /// disabled nothing.
    pub fn status(status: AgentStatus) -> Allowance {
        Allowance::Limited(match status {
            AgentStatus::Active => 2,
            AgentStatus::Paused => 1,
            AgentStatus::Disabled => 0,
        })
    }
}

/// A change refused because the caller's role is below the one that set
/// the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "loosening {what} needs the {needed} role: {by}; as {article} {caller} you may only tighten it",
    what = describe(*setting),
    needed = needed.as_str(),
    by = set_by(*setting, *needed),
    article = article(*caller),
    caller = caller.as_str(),
)]
pub struct RoleError {
    pub setting: Setting,
    pub needed: Role,
    pub caller: Role,
}

fn describe(setting: Setting) -> String {
    match setting {
        Setting::BindingEnabled => "this service binding (enabling it)".into(),
        Setting::KillSwitch => "the kill switch (turning it off)".into(),
        Setting::AgentStatus => "the agent's status (resuming it)".into(),
        s if s.is_binding() => format!("this binding's {}", s.field()),
        s => format!("the agent's {}", s.field()),
    }
}

fn set_by(setting: Setting, needed: Role) -> String {
    if setting == Setting::AgentRateLimit && needed == Role::Admin {
        // Also the server's default ceiling, which counts as an admin's.
        return "it was set by an admin, or is above the server's default ceiling".into();
    }
    format!("it was set by {} {}", article(needed), needed.as_str())
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Admin | Role::Owner => "an",
        Role::Member => "a",
    }
}

/// May `caller` change `setting` from `current` to `proposed`, given that
/// `setter` set the current value?
pub fn may_change(
    setting: Setting,
    current: Allowance,
    proposed: Allowance,
    setter: Role,
    caller: Role,
) -> Result<(), RoleError> {
    if proposed > current && caller < setter {
        Err(RoleError {
            setting,
            needed: setter,
            caller,
        })
    } else {
        Ok(())
    }
}

/// The loosest value a setting can take.
fn loosest(setting: Setting) -> Allowance {
    match setting {
        Setting::AgentStatus => Allowance::status(AgentStatus::Active),
        Setting::BindingEnabled | Setting::RequireApproval | Setting::KillSwitch => {
            Allowance::allows(true)
        }
        _ => Allowance::Unlimited,
    }
}

/// The role recorded after `caller` writes a setting that `setter` had
/// set to `current`. A lower role's write does not take a setting over,
/// unless it was at its loosest: then loosening it again can only bring
/// back what the higher role allowed.
pub fn setter_after(setting: Setting, current: Allowance, setter: Role, caller: Role) -> Role {
    if current == loosest(setting) {
        caller
    } else {
        setter.max(caller)
    }
}

fn step(
    setting: Setting,
    current: Allowance,
    proposed: Allowance,
    setter: Role,
    caller: Role,
) -> Result<Role, RoleError> {
    may_change(setting, current, proposed, setter, caller)?;
    Ok(setter_after(setting, current, setter, caller))
}

/// An agent's per-minute limit: `None` falls back to the server's ceiling,
/// which counts as set by an admin, so raising a limit above it needs an
/// admin too (tightening is always open).
fn rate_step(
    current: Option<u32>,
    proposed: Option<u32>,
    setter: Role,
    caller: Role,
    server_ceiling: Option<u32>,
) -> Result<Role, RoleError> {
    let effective = |v: Option<u32>| Allowance::count(v.or(server_ceiling));
    let (current, proposed) = (effective(current), effective(proposed));
    may_change(Setting::AgentRateLimit, current, proposed, setter, caller)?;
    if proposed > current {
        let ceiling = Allowance::count(server_ceiling);
        may_change(
            Setting::AgentRateLimit,
            ceiling,
            proposed,
            Role::Admin,
            caller,
        )?;
    }
    Ok(setter_after(
        Setting::AgentRateLimit,
        current,
        setter,
        caller,
    ))
}

/// The governance values of an agent a change proposes; `None` leaves one
/// as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct AgentChange {
    pub status: Option<AgentStatus>,
    pub monthly_budget: Option<Option<Cents>>,
    pub daily_request_limit: Option<Option<u32>>,
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// Checks a change of an agent's governance values by `caller`; returns
/// the roles to record.
pub fn check_agent(
    agent: &Agent,
    change: &AgentChange,
    caller: Role,
    server_ceiling: Option<u32>,
) -> Result<AgentSetters, RoleError> {
    let mut set_by = agent.set_by;
    if let Some(status) = change.status {
        set_by.status = step(
            Setting::AgentStatus,
            Allowance::status(agent.status),
            Allowance::status(status),
            set_by.status,
            caller,
        )?;
    }
    if let Some(cap) = change.monthly_budget {
        set_by.monthly_budget = step(
            Setting::AgentMonthlyBudget,
            Allowance::cap(agent.monthly_budget),
            Allowance::cap(cap),
            set_by.monthly_budget,
            caller,
        )?;
    }
    if let Some(limit) = change.daily_request_limit {
        set_by.daily_request_limit = step(
            Setting::AgentDailyRequestLimit,
            Allowance::count(agent.daily_request_limit),
            Allowance::count(limit),
            set_by.daily_request_limit,
            caller,
        )?;
    }
    if let Some(limit) = change.rate_limit_per_minute {
        set_by.rate_limit = rate_step(
            agent.rate_limit_per_minute,
            limit,
            set_by.rate_limit,
            caller,
            server_ceiling,
        )?;
    }
    Ok(set_by)
}

/// The roles recorded for a new agent: its creator's for every value, and
/// an admin's for a per-minute limit above the server's ceiling (which
/// only an admin may set).
pub fn check_new_agent(
    rate_limit_per_minute: Option<u32>,
    caller: Role,
    server_ceiling: Option<u32>,
) -> Result<AgentSetters, RoleError> {
    let rate = rate_step(None, rate_limit_per_minute, caller, caller, server_ceiling)?;
    Ok(AgentSetters {
        status: caller,
        monthly_budget: caller,
        daily_request_limit: caller,
        rate_limit: rate,
    })
}

/// Checks writing `proposed` on the binding of one operation (or the whole
/// service) among `service_rows`, every row of the service, disabled ones
/// too; returns the roles to record. A new row is anyone's to create,
/// unless the service has disabled rows: a new whole-service row would
/// enable what they disabled, so it needs the role that disabled them.
pub fn check_binding(
    service_rows: &[Binding],
    operation: Option<&str>,
    proposed: &BindingSettings,
    caller: Role,
) -> Result<BindingSetters, RoleError> {
    let current = service_rows
        .iter()
        .find(|b| b.operation.as_deref() == operation);
    let Some(b) = current else {
        let disabled_by = service_rows
            .iter()
            .filter(|b| !b.enabled)
            .map(|b| b.set_by.enabled)
            .max();
        if let Some(setter) = disabled_by {
            may_change(
                Setting::BindingEnabled,
                Allowance::allows(false),
                Allowance::allows(true),
                setter,
                caller,
            )?;
        }
        return Ok(BindingSetters::all(caller));
    };
    let s = b.set_by;
    Ok(BindingSetters {
        enabled: step(
            Setting::BindingEnabled,
            Allowance::allows(b.enabled),
            Allowance::allows(true),
            s.enabled,
            caller,
        )?,
        require_approval: step(
            Setting::RequireApproval,
            Allowance::allows(!b.require_approval),
            Allowance::allows(!proposed.require_approval),
            s.require_approval,
            caller,
        )?,
        approval_threshold: step(
            Setting::ApprovalThreshold,
            Allowance::cap(b.approval_threshold),
            Allowance::cap(proposed.approval_threshold),
            s.approval_threshold,
            caller,
        )?,
        max_cost: step(
            Setting::MaxCost,
            Allowance::cap(b.max_cost),
            Allowance::cap(proposed.max_cost),
            s.max_cost,
            caller,
        )?,
        monthly_budget: step(
            Setting::BindingMonthlyBudget,
            Allowance::cap(b.monthly_budget),
            Allowance::cap(proposed.monthly_budget),
            s.monthly_budget,
            caller,
        )?,
        daily_request_limit: step(
            Setting::BindingDailyRequestLimit,
            Allowance::count(b.daily_request_limit),
            Allowance::count(proposed.daily_request_limit),
            s.daily_request_limit,
            caller,
        )?,
        rate_limit: step(
            Setting::BindingRateLimit,
            Allowance::count(b.rate_limit_per_minute),
            Allowance::count(proposed.rate_limit_per_minute),
            s.rate_limit,
            caller,
        )?,
    })
}

/// Checks turning the kill switch to `on`; returns the role to record.
pub fn check_kill_switch(
    current: bool,
    setter: Role,
    on: bool,
    caller: Role,
) -> Result<Role, RoleError> {
    step(
        Setting::KillSwitch,
        Allowance::allows(!current),
        Allowance::allows(!on),
        setter,
        caller,
    )
}

#[cfg(test)]
mod tests;
