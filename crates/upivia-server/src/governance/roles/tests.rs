use time::OffsetDateTime;

use super::*;
use crate::model::KeyMode;

const ROLES: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

#[test]
fn loosening_needs_the_setters_role_and_anything_else_is_open() {
    let values = [
        Allowance::Limited(0),
        Allowance::Limited(1),
        Allowance::Limited(500),
        Allowance::Unlimited,
    ];
    for setter in ROLES {
        for caller in ROLES {
            for current in values {
                for proposed in values {
                    let got = may_change(Setting::MaxCost, current, proposed, setter, caller);
                    let loosens = proposed > current;
                    if loosens && caller < setter {
                        assert_eq!(
                            got,
                            Err(RoleError {
                                setting: Setting::MaxCost,
                                needed: setter,
                                caller
                            }),
                            "{setter:?} {caller:?} {current:?} {proposed:?}"
                        );
                    } else {
                        assert_eq!(
                            got,
                            Ok(()),
                            "{setter:?} {caller:?} {current:?} {proposed:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn allowances_order_every_kind_of_value_from_tight_to_loose() {
    assert!(Allowance::cap(Some(Cents::new(10))) < Allowance::cap(Some(Cents::new(11))));
    assert!(Allowance::cap(Some(Cents::new(i64::MAX))) < Allowance::cap(None));
    assert!(Allowance::count(Some(0)) < Allowance::count(Some(1)));
    assert!(Allowance::count(Some(u32::MAX)) < Allowance::count(None));
    assert!(Allowance::status(AgentStatus::Disabled) < Allowance::status(AgentStatus::Paused));
    assert!(Allowance::status(AgentStatus::Paused) < Allowance::status(AgentStatus::Active));
    assert!(Allowance::allows(false) < Allowance::allows(true));
}

#[test]
fn the_recorded_role_is_the_higher_of_the_setter_and_the_writer_unless_it_was_loosest() {
    for setter in ROLES {
        for caller in ROLES {
            let capped = Allowance::cap(Some(Cents::new(5)));
            assert_eq!(
                setter_after(Setting::MaxCost, capped, setter, caller),
                setter.max(caller)
            );
            assert_eq!(
                setter_after(Setting::MaxCost, Allowance::Unlimited, setter, caller),
                caller
            );
            let paused = Allowance::status(AgentStatus::Paused);
            assert_eq!(
                setter_after(Setting::AgentStatus, paused, setter, caller),
                setter.max(caller)
            );
            let active = Allowance::status(AgentStatus::Active);
            assert_eq!(
                setter_after(Setting::AgentStatus, active, setter, caller),
                caller
            );
        }
    }
}

#[test]
fn the_refusal_names_the_role_needed() {
    let e = may_change(
        Setting::AgentMonthlyBudget,
        Allowance::cap(Some(Cents::new(100))),
        Allowance::cap(None),
        Role::Admin,
        Role::Member,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "loosening the agent's monthly_budget_cents needs the admin role: it was set by an admin; \
         as a member you may only tighten it"
    );
}

fn agent(set_by: Role) -> Agent {
    let now = OffsetDateTime::UNIX_EPOCH;
    Agent {
        id: "agt_a".into(),
        org_id: "org".into(),
        team_id: None,
        owner_user_id: Some("usr_m".into()),
        parent_agent_id: None,
        spawn_depth: 1,
        name: "a".into(),
        description: None,
        status: AgentStatus::Paused,
        key_mode: KeyMode::Live,
        monthly_budget: Some(Cents::new(100)),
        daily_request_limit: Some(10),
        rate_limit_per_minute: None,
        default_model_id: None,
        profile: serde_json::json!({}),
        set_by: AgentSetters::all(set_by),
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn a_member_may_tighten_an_admins_agent_but_not_loosen_it() {
    let a = agent(Role::Admin);
    let tighter = AgentChange {
        status: Some(AgentStatus::Disabled),
        monthly_budget: Some(Some(Cents::new(50))),
        daily_request_limit: Some(Some(5)),
        rate_limit_per_minute: Some(Some(10)),
    };
    let set_by = check_agent(&a, &tighter, Role::Member, Some(6000)).unwrap();
    // The admin keeps the say over each value the member tightened.
    assert_eq!(set_by, AgentSetters::all(Role::Admin));
    for looser in [
        AgentChange {
            status: Some(AgentStatus::Active),
            ..AgentChange::default()
        },
        AgentChange {
            monthly_budget: Some(None),
            ..AgentChange::default()
        },
        AgentChange {
            monthly_budget: Some(Some(Cents::new(101))),
            ..AgentChange::default()
        },
        AgentChange {
            daily_request_limit: Some(None),
            ..AgentChange::default()
        },
    ] {
        assert_eq!(
            check_agent(&a, &looser, Role::Member, Some(6000))
                .unwrap_err()
                .needed,
            Role::Admin,
            "{looser:?}"
        );
        assert_eq!(
            check_agent(&a, &looser, Role::Admin, Some(6000)).unwrap(),
            AgentSetters::all(Role::Admin)
        );
    }
    // An owner loosening takes the value over.
    let owner = check_agent(
        &a,
        &AgentChange {
            status: Some(AgentStatus::Active),
            ..AgentChange::default()
        },
        Role::Owner,
        None,
    )
    .unwrap();
    assert_eq!(owner.status, Role::Owner);
    assert_eq!(owner.monthly_budget, Role::Admin);
}

#[test]
fn the_servers_ceiling_counts_as_an_admins_rate_limit() {
    let mine = agent(Role::Member);
    let raise = |n| AgentChange {
        rate_limit_per_minute: Some(Some(n)),
        ..AgentChange::default()
    };
    assert!(check_agent(&mine, &raise(6000), Role::Member, Some(6000)).is_ok());
    let e = check_agent(&mine, &raise(6001), Role::Member, Some(6000)).unwrap_err();
    assert_eq!(
        (e.setting, e.needed),
        (Setting::AgentRateLimit, Role::Admin)
    );
    assert!(check_agent(&mine, &raise(6001), Role::Admin, Some(6000)).is_ok());
    // Without a ceiling, the member's own agent is the member's to set.
    assert!(check_agent(&mine, &raise(1_000_000), Role::Member, None).is_ok());
    assert_eq!(
        check_new_agent(Some(6001), Role::Member, Some(6000))
            .unwrap_err()
            .needed,
        Role::Admin
    );
    assert_eq!(
        check_new_agent(Some(10), Role::Member, Some(6000)).unwrap(),
        AgentSetters::all(Role::Member)
    );
    // Tightening a limit an admin set above the ceiling is open.
    let mut high = agent(Role::Admin);
    high.rate_limit_per_minute = Some(100_000);
    assert!(check_agent(&high, &raise(50_000), Role::Member, Some(6000)).is_ok());
}

fn binding(set_by: Role) -> Binding {
    let now = OffsetDateTime::UNIX_EPOCH;
    Binding {
        id: "bnd".into(),
        agent_id: "agt_a".into(),
        service_id: "email".into(),
        operation: None,
        require_approval: true,
        approval_threshold: Some(Cents::new(100)),
        max_cost: Some(Cents::new(50)),
        monthly_budget: Some(Cents::new(1000)),
        daily_request_limit: Some(10),
        rate_limit_per_minute: Some(5),
        enabled: true,
        set_by: BindingSetters::all(set_by),
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn binding_changes_follow_the_rule_field_by_field() {
    let b = binding(Role::Admin);
    let same = b.settings();
    // Only `enabled`, at its loosest, passes to the writer.
    assert_eq!(
        check_binding(std::slice::from_ref(&b), None, &same, Role::Member).unwrap(),
        BindingSetters {
            enabled: Role::Member,
            ..BindingSetters::all(Role::Admin)
        }
    );
    type Loosen = fn(&mut BindingSettings);
    let loosenings: [(Setting, Loosen); 6] = [
        (Setting::RequireApproval, |s| s.require_approval = false),
        (Setting::ApprovalThreshold, |s| {
            s.approval_threshold = Some(Cents::new(101))
        }),
        (Setting::MaxCost, |s| s.max_cost = None),
        (Setting::BindingMonthlyBudget, |s| {
            s.monthly_budget = Some(Cents::new(1001))
        }),
        (Setting::BindingDailyRequestLimit, |s| {
            s.daily_request_limit = None
        }),
        (Setting::BindingRateLimit, |s| {
            s.rate_limit_per_minute = Some(6)
        }),
    ];
    for (setting, loosen) in loosenings {
        let mut proposed = same.clone();
        loosen(&mut proposed);
        let e = check_binding(std::slice::from_ref(&b), None, &proposed, Role::Member).unwrap_err();
        assert_eq!((e.setting, e.needed), (setting, Role::Admin));
        assert!(check_binding(std::slice::from_ref(&b), None, &proposed, Role::Admin).is_ok());
        assert!(check_binding(std::slice::from_ref(&b), None, &proposed, Role::Owner).is_ok());
    }
    let tighter = BindingSettings {
        approval_threshold: Some(Cents::new(1)),
        max_cost: Some(Cents::new(1)),
        ..same.clone()
    };
    assert!(check_binding(std::slice::from_ref(&b), None, &tighter, Role::Member).is_ok());
    // A disabled binding is enabled again only by its disabler's role.
    let mut off = b.clone();
    off.enabled = false;
    let e = check_binding(std::slice::from_ref(&off), None, &same, Role::Member).unwrap_err();
    assert_eq!(
        (e.setting, e.needed),
        (Setting::BindingEnabled, Role::Admin)
    );
    // A new binding is anyone's to create, and theirs...
    assert_eq!(
        check_binding(&[], None, &BindingSettings::default(), Role::Member).unwrap(),
        BindingSetters::all(Role::Member)
    );
    // ...unless it would enable what a higher role disabled: a whole-service
    // row over a disabled operation row.
    let mut send = off.clone();
    send.operation = Some("send".into());
    let e = check_binding(std::slice::from_ref(&send), None, &same, Role::Member).unwrap_err();
    assert_eq!(
        (e.setting, e.needed),
        (Setting::BindingEnabled, Role::Admin)
    );
    assert!(check_binding(std::slice::from_ref(&send), None, &same, Role::Admin).is_ok());
}

#[test]
fn only_the_role_that_pulled_the_kill_switch_or_above_lifts_it() {
    for setter in ROLES {
        for caller in ROLES {
            // Turning it on is open, and the one who did may lift it.
            assert_eq!(check_kill_switch(false, setter, true, caller), Ok(caller));
            let lifted = check_kill_switch(true, setter, false, caller);
            if caller < setter {
                assert_eq!(lifted.unwrap_err().needed, setter);
            } else {
                assert_eq!(lifted, Ok(caller));
            }
        }
    }
}
