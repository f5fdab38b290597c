//! `IdentityStore` and `AgentStore` on PostgreSQL, method by method, on a
//! fresh database each: the answers and errors of the SQLite store, the
//! audit event of each change (and none for a refused one), and what
//! several nodes doing the same thing at once end up with. Skipped when no
//! PostgreSQL server is configured (outside CI).

use std::sync::Arc;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use upivia_server::auth;
use upivia_server::ids::{AgentId, OrgId, UserId};
use upivia_server::model::agent::{AgentSetters, BindingSetters, BindingSettings};
use upivia_server::model::{AgentStatus, AuditEvent, KeyMode, Role, UserPrincipal};
use upivia_server::money::Cents;
use upivia_server::store::postgres::testing::TestDatabase;
use upivia_server::store::postgres::{PgSettings, PgStore};
use upivia_server::store::*;

use crate::support::postgres_database;

struct Db {
    store: Arc<PgStore>,
    // Dropped after the store (fields drop in order).
    _database: TestDatabase,
}

async fn db() -> Option<Db> {
    let database = postgres_database().await?;
    let store = PgStore::connect(database.url(), PgSettings::default())
        .await
        .expect("connect");
    Some(Db {
        store,
        _database: database,
    })
}

/// Microseconds, as the database keeps times.
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap()
}

fn plan(org_name: &str, email: &str, now: OffsetDateTime) -> (BootstrapPlan, String) {
    let pat = auth::new_pat();
    let plan = BootstrapPlan {
        org_name: org_name.into(),
        email: email.into(),
        password_hash: format!("hash-of-{email}"),
        pat_hash: auth::hash_token(&pat),
        now,
    };
    (plan, pat)
}

/// The audit rows of an organisation: (event_type, actor, agent_id, details).
async fn audit_rows(store: &PgStore, org_id: &str) -> Vec<(String, String, Option<String>, Value)> {
    let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT event_type, actor, agent_id, details FROM audit_log WHERE org_id = $1 ORDER BY seq",
    )
    .bind(org_id)
    .fetch_all(store.pool())
    .await
    .unwrap();
    rows.into_iter()
        .map(|(t, a, g, d)| (t, a, g, serde_json::from_str(&d).unwrap()))
        .collect()
}

async fn count(store: &PgStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn bootstrapped(store: &PgStore) -> (Bootstrapped, String) {
    let (p, pat) = plan("Default", "owner@upivia.local", now());
    let made = store.bootstrap(p).await.unwrap().expect("first bootstrap");
    (made, pat)
}

fn owner_of(made: &Bootstrapped) -> UserPrincipal {
    UserPrincipal {
        user_id: made.user_id.clone(),
        email: "owner@upivia.local".into(),
        org_id: made.org_id.clone(),
        role: Role::Owner,
    }
}

#[tokio::test]
async fn bootstrap_runs_once_and_its_owner_signs_in_by_pat_and_email() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    assert!(s.primary_org().await.unwrap().is_none());
    let at = now();
    let (p, pat) = plan("Default", "owner@upivia.local", at);
    let made = s.bootstrap(p).await.unwrap().expect("first bootstrap");
    let (again, _) = plan("Other", "second@upivia.local", now());
    assert!(s.bootstrap(again).await.unwrap().is_none());
    assert_eq!(count(s, "SELECT COUNT(*) FROM orgs").await, 1);
    assert_eq!(count(s, "SELECT COUNT(*) FROM users").await, 1);

    let org = s.org(&OrgId::from(&made.org_id)).await.unwrap().unwrap();
    assert_eq!(org.name, "Default");
    assert!(!org.kill_switch);
    assert_eq!(org.kill_switch_set_by, Role::Admin);
    assert_eq!(org.created_at, at);
    assert_eq!(s.primary_org().await.unwrap().unwrap().id, made.org_id);
    assert!(s.org(&OrgId::from("org_nope")).await.unwrap().is_none());

    let by_pat = s
        .user_by_pat(&auth::hash_token(&pat))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_pat.user_id.as_str(), by_pat.org_id.as_str(), by_pat.role),
        (made.user_id.as_str(), made.org_id.as_str(), Role::Owner)
    );
    assert_eq!(by_pat.email, "owner@upivia.local");
    assert!(s.user_by_pat("not-a-hash").await.unwrap().is_none());
    let (hash, by_email) = s
        .user_by_email("owner@upivia.local")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "hash-of-owner@upivia.local");
    assert_eq!(by_email.user_id, made.user_id);
    assert_eq!(by_email.role, Role::Owner);
    assert!(
        s.user_by_email("nobody@upivia.local")
            .await
            .unwrap()
            .is_none()
    );

    let claim: (String,) = sqlx::query_as("SELECT org_id FROM bootstrap")
        .fetch_one(s.pool())
        .await
        .unwrap();
    assert_eq!(claim.0, made.org_id);
    assert_eq!(
        audit_rows(s, &made.org_id).await,
        vec![(
            "org.bootstrapped".into(),
            "system".into(),
            None,
            json!({"owner_user_id": made.user_id})
        )]
    );
}

#[tokio::test]
async fn create_org_adds_an_owner_refuses_a_taken_email_and_pats_stay_in_their_org() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (first, first_pat) = bootstrapped(s).await;
    // Created "earlier" than the bootstrapped one: still not the primary.
    let (p, pat) = plan("Acme", "boss@acme.example", now() - Duration::days(1));
    let acme = s.create_org(p).await.unwrap();
    assert_ne!(acme.org_id, first.org_id);
    assert_eq!(s.primary_org().await.unwrap().unwrap().id, first.org_id);
    assert_eq!(
        audit_rows(s, &acme.org_id).await,
        vec![(
            "org.created".into(),
            "system".into(),
            None,
            json!({"owner_user_id": acme.user_id, "name": "Acme"})
        )]
    );

    let a = s
        .user_by_pat(&auth::hash_token(&pat))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (a.org_id.as_str(), a.role),
        (acme.org_id.as_str(), Role::Owner)
    );
    let f = s
        .user_by_pat(&auth::hash_token(&first_pat))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.org_id, first.org_id);

    for email in ["boss@acme.example", "owner@upivia.local"] {
        let (p, _) = plan("Again", email, now());
        match s.create_org(p).await {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "a user with this email already exists"),
            other => panic!("{other:?}"),
        }
    }
    // The refused ones left nothing behind.
    assert_eq!(count(s, "SELECT COUNT(*) FROM orgs").await, 2);
    assert_eq!(count(s, "SELECT COUNT(*) FROM pats").await, 2);
    assert_eq!(
        count(
            s,
            "SELECT COUNT(*) FROM audit_log WHERE event_type = 'org.created'"
        )
        .await,
        1
    );
    // A database with organisations is never bootstrapped again.
    let (p, _) = plan("Late", "late@upivia.local", now());
    assert!(s.bootstrap(p).await.unwrap().is_none());
}

#[tokio::test]
async fn a_database_with_organisations_but_no_claim_is_not_bootstrapped() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (p, _) = plan("Acme", "boss@acme.example", now());
    let acme = s.create_org(p).await.unwrap();
    let (p, _) = plan("Default", "owner@upivia.local", now());
    assert!(s.bootstrap(p).await.unwrap().is_none());
    assert_eq!(count(s, "SELECT COUNT(*) FROM bootstrap").await, 0);
    assert_eq!(count(s, "SELECT COUNT(*) FROM orgs").await, 1);
    assert_eq!(s.primary_org().await.unwrap().unwrap().id, acme.org_id);
}

#[tokio::test]
async fn add_member_refuses_a_second_owner_a_taken_email_and_an_unknown_org() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let member = |org_id: &str, email: &str, role| NewMember {
        org_id: org_id.into(),
        email: email.into(),
        password_hash: "!".into(),
        role,
        now: now(),
        actor: "user:someone".into(),
    };
    let admin = s
        .add_member(member(&made.org_id, "admin@example.com", Role::Admin))
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.org_id, made.org_id);
    match s
        .add_member(member(&made.org_id, "two@example.com", Role::Owner))
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "an organisation has exactly one owner"),
        other => panic!("{other:?}"),
    }
    match s
        .add_member(member(&made.org_id, "admin@example.com", Role::Member))
        .await
    {
        Err(StoreError::Conflict(m)) => {
            assert_eq!(m, "a user with the email admin@example.com exists")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.add_member(member("org_nope", "x@example.com", Role::Member))
            .await,
        Err(StoreError::NotFound)
    ));
    let rows = audit_rows(s, &made.org_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1],
        (
            "org.member_added".into(),
            "user:someone".into(),
            None,
            json!({"user_id": admin.user_id, "role": "admin"})
        )
    );
    // The member signs in by email; a PAT of theirs names their role.
    let (_, p) = s.user_by_email("admin@example.com").await.unwrap().unwrap();
    assert_eq!(p.role, Role::Admin);
    let pat = auth::new_pat();
    let id = s
        .create_pat(&admin, "ci", &auth::hash_token(&pat), now())
        .await
        .unwrap();
    assert!(id.starts_with("pat_"), "{id}");
    let by_pat = s
        .user_by_pat(&auth::hash_token(&pat))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_pat.user_id, by_pat.role),
        (admin.user_id.clone(), Role::Admin)
    );
    match s
        .create_pat(&admin, "again", &auth::hash_token(&pat), now())
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(m, "token already exists"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sessions_last_until_they_expire_or_end_and_a_password_change_ends_the_others() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let owner = owner_of(&made);
    let t0 = now();
    let expires = t0 + Duration::hours(1);
    for h in ["kept", "other-1", "other-2"] {
        s.create_session(&owner, h, t0, expires).await.unwrap();
    }
    let live = s.user_by_session("kept", t0).await.unwrap().unwrap();
    assert_eq!(
        (live.user_id.as_str(), live.role),
        (made.user_id.as_str(), Role::Owner)
    );
    let just_before = expires - Duration::microseconds(1);
    assert!(
        s.user_by_session("kept", just_before)
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.user_by_session("kept", expires).await.unwrap().is_none());
    assert!(s.user_by_session("unknown", t0).await.unwrap().is_none());

    s.delete_session("other-2").await.unwrap();
    assert!(s.user_by_session("other-2", t0).await.unwrap().is_none());
    s.delete_session("never-was").await.unwrap();

    let change = |keep: Option<&str>, user_id: &str| PasswordChange {
        user_id: user_id.into(),
        password_hash: "new-hash".into(),
        keep_session: keep.map(str::to_owned),
        now: now(),
        audit: AuditEvent::new(&made.org_id, "user.password_changed", "user:me")
            .with_details(json!({"sessions_ended": "counted"})),
    };
    assert_eq!(
        s.change_password(change(Some("kept"), &made.user_id))
            .await
            .unwrap(),
        1
    );
    assert!(s.user_by_session("kept", t0).await.unwrap().is_some());
    assert!(s.user_by_session("other-1", t0).await.unwrap().is_none());
    let (hash, _) = s
        .user_by_email("owner@upivia.local")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash, "new-hash");
    // A PAT caller keeps no session: every one ends.
    s.create_session(&owner, "again", t0, expires)
        .await
        .unwrap();
    assert_eq!(
        s.change_password(change(None, &made.user_id))
            .await
            .unwrap(),
        2
    );
    assert!(s.user_by_session("kept", t0).await.unwrap().is_none());
    assert!(matches!(
        s.change_password(change(None, "usr_nope")).await,
        Err(StoreError::NotFound)
    ));
    let changes = audit_rows(s, &made.org_id)
        .await
        .into_iter()
        .filter(|r| r.0 == "user.password_changed")
        .count();
    assert_eq!(changes, 2, "one event per change, none for the refused one");
}

#[tokio::test]
async fn the_kill_switch_changes_only_from_the_state_the_caller_checked() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let org_id = OrgId::from(&made.org_id);
    let change = |on, set_by, expect| KillSwitchChange {
        org_id: org_id.clone(),
        on,
        set_by,
        expect,
        user_id: UserId::from(&made.user_id),
        now: now(),
    };
    let org = s
        .set_kill_switch(change(true, Role::Owner, (false, Role::Admin)))
        .await
        .unwrap();
    assert!(org.kill_switch);
    assert_eq!(org.kill_switch_set_by, Role::Owner);
    // Checked against the old state: refused, nothing written.
    match s
        .set_kill_switch(change(false, Role::Admin, (false, Role::Admin)))
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(
            m,
            "the kill switch changed while the change was being checked; read it again and retry"
        ),
        other => panic!("{other:?}"),
    }
    assert!(s.org(&org_id).await.unwrap().unwrap().kill_switch);
    assert!(matches!(
        s.set_kill_switch(KillSwitchChange {
            org_id: OrgId::from("org_nope"),
            ..change(true, Role::Admin, (false, Role::Admin))
        })
        .await,
        Err(StoreError::NotFound)
    ));
    // Two callers that checked the same state at once: one wins.
    let (a, b) = tokio::join!(
        s.set_kill_switch(change(false, Role::Owner, (true, Role::Owner))),
        s.set_kill_switch(change(false, Role::Owner, (true, Role::Owner))),
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(matches!(a.err().or(b.err()), Some(StoreError::Conflict(_))));
    let switches: Vec<_> = audit_rows(s, &made.org_id)
        .await
        .into_iter()
        .filter(|r| r.0 == "org.kill_switch")
        .map(|r| (r.1, r.3))
        .collect();
    let actor = format!("user:{}", made.user_id);
    assert_eq!(
        switches,
        vec![
            (
                actor.clone(),
                json!({"kill_switch": true, "set_by_role": "owner"})
            ),
            (actor, json!({"kill_switch": false, "set_by_role": "owner"})),
        ]
    );
}

fn new_agent(org_id: &str, name: &str, team: Option<&str>) -> (NewAgent, String) {
    let key = auth::new_agent_key(KeyMode::Test);
    let agent = NewAgent {
        org_id: org_id.into(),
        team_id: team.map(str::to_owned),
        owner_user_id: None,
        name: name.into(),
        description: Some("does things".into()),
        key_hash: auth::hash_token(&key),
        key_mode: KeyMode::Test,
        monthly_budget: Some(Cents::new(500)),
        daily_request_limit: Some(10),
        rate_limit_per_minute: None,
        default_model_id: None,
        profile: json!({"icon": "robot", "category": "ops"}),
        set_by: AgentSetters::all(Role::Member),
        now: now(),
        actor: "user:maker".into(),
    };
    (agent, key)
}

fn command<T>(org_id: &str, agent_id: &str, change: T, event: &str) -> AgentCommand<T> {
    AgentCommand {
        org_id: OrgId::from(org_id),
        agent_id: AgentId::from(agent_id),
        change,
        now: now(),
        audit: AuditEvent::new(org_id, event, "user:maker").with_agent(agent_id),
    }
}

#[tokio::test]
async fn agents_are_created_listed_found_by_key_and_kept_in_their_org() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let (p, _) = plan("Acme", "boss@acme.example", now());
    let acme = s.create_org(p).await.unwrap();
    sqlx::query(
        "INSERT INTO teams (id, org_id, name, created_at) VALUES ('team_a', $1, 'A', now())",
    )
    .bind(&made.org_id)
    .execute(s.pool())
    .await
    .unwrap();
    let org = OrgId::from(&made.org_id);

    let (a, key_a) = new_agent(&made.org_id, "first", None);
    let first = s.create_agent(a.clone()).await.unwrap();
    assert!(first.id.starts_with("agt_"));
    assert_eq!(first.status, AgentStatus::Active);
    assert_eq!(first.monthly_budget, Some(Cents::new(500)));
    assert_eq!(first.daily_request_limit, Some(10));
    assert_eq!(first.rate_limit_per_minute, None);
    assert_eq!(first.profile, json!({"icon": "robot", "category": "ops"}));
    assert_eq!(first.set_by, AgentSetters::all(Role::Member));
    assert_eq!((first.created_at, first.updated_at), (a.now, a.now));
    let (b, _) = new_agent(&made.org_id, "in a team", Some("team_a"));
    let teamed = s.create_agent(b).await.unwrap();
    let (c, _) = new_agent(&acme.org_id, "acme's", None);
    let theirs = s.create_agent(c).await.unwrap();
    // A team of another organisation, or none at all: not found.
    for team in ["team_nope", "team_a"] {
        let (d, _) = new_agent(&acme.org_id, "bad team", Some(team));
        assert!(matches!(s.create_agent(d).await, Err(StoreError::NotFound)));
    }
    // The same key twice is the database's refusal, as on SQLite.
    assert!(matches!(
        s.create_agent(a).await,
        Err(StoreError::Constraint(_))
    ));

    let ours: Vec<String> = s
        .agents(&org, None)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ours, vec![first.id.clone(), teamed.id.clone()]);
    let in_team: Vec<String> = s
        .agents(&org, Some("team_a"))
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(in_team, vec![teamed.id.clone()]);
    assert_eq!(
        s.agent_by_key(&auth::hash_token(&key_a))
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
    assert!(s.agent_by_key("nope").await.unwrap().is_none());
    assert!(
        s.agent(&org, &AgentId::from(&theirs.id))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.agent(&OrgId::from(&acme.org_id), &AgentId::from(&theirs.id))
            .await
            .unwrap()
            .unwrap()
            .name,
        "acme's"
    );
    let created: Vec<_> = audit_rows(s, &made.org_id)
        .await
        .into_iter()
        .filter(|r| r.0 == "agent.created")
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(
        created[0],
        (
            "agent.created".into(),
            "user:maker".into(),
            Some(first.id.clone()),
            json!({"name": "first", "key_mode": "test"})
        )
    );
}

#[tokio::test]
async fn agent_changes_apply_only_to_the_values_the_caller_checked() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let (a, key) = new_agent(&made.org_id, "agent", None);
    let agent = s.create_agent(a).await.unwrap();
    let checked = agent.rules();

    let mut profile = serde_json::Map::new();
    profile.insert("icon".into(), Value::Null);
    profile.insert("mood".into(), json!("calm"));
    let patch = AgentPatch {
        name: Some("renamed".into()),
        description: Some(None),
        status: Some(AgentStatus::Paused),
        default_model_id: Some(Some("gpt".into())),
        daily_request_limit: Some(Some(20)),
        rate_limit_per_minute: Some(Some(5)),
        profile,
        set_by: Some(AgentSetters {
            status: Role::Admin,
            ..agent.set_by
        }),
        expect: Some(checked),
    };
    let updated = s
        .update_agent(command(
            &made.org_id,
            &agent.id,
            patch.clone(),
            "agent.updated",
        ))
        .await
        .unwrap();
    assert_eq!(updated.name, "renamed");
    assert_eq!(updated.description, None);
    assert_eq!(updated.status, AgentStatus::Paused);
    assert_eq!(updated.default_model_id.as_deref(), Some("gpt"));
    assert_eq!(updated.daily_request_limit, Some(20));
    assert_eq!(updated.rate_limit_per_minute, Some(5));
    assert_eq!(updated.profile, json!({"category": "ops", "mood": "calm"}));
    assert_eq!(updated.set_by.status, Role::Admin);
    assert_eq!(updated.monthly_budget, Some(Cents::new(500)), "untouched");
    assert!(updated.updated_at > agent.updated_at);

    // The same checked values again: they changed meanwhile.
    let stale = s
        .update_agent(command(&made.org_id, &agent.id, patch, "agent.updated"))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    // No `expect`: a change of non-governance fields goes through.
    let plain = AgentPatch {
        name: Some("plain".into()),
        ..AgentPatch::default()
    };
    let plain = s
        .update_agent(command(&made.org_id, &agent.id, plain, "agent.updated"))
        .await
        .unwrap();
    assert_eq!(plain.name, "plain");
    assert!(matches!(
        s.update_agent(command(
            &made.org_id,
            "agt_nope",
            AgentPatch::default(),
            "agent.updated"
        ))
        .await,
        Err(StoreError::NotFound)
    ));

    let budget = |expect| BudgetChange {
        monthly_budget: Some(Cents::new(900)),
        set_by: Role::Owner,
        expect,
    };
    match s
        .set_agent_budget(command(
            &made.org_id,
            &agent.id,
            budget(checked),
            "agent.budget_set",
        ))
        .await
    {
        Err(StoreError::Conflict(m)) => assert_eq!(
            m,
            "these settings changed while the change was being checked; read them again and retry"
        ),
        other => panic!("{other:?}"),
    }
    let funded = s
        .set_agent_budget(command(
            &made.org_id,
            &agent.id,
            budget(plain.rules()),
            "agent.budget_set",
        ))
        .await
        .unwrap();
    assert_eq!(funded.monthly_budget, Some(Cents::new(900)));
    assert_eq!(funded.set_by.monthly_budget, Role::Owner);
    let uncapped = s
        .set_agent_budget(command(
            &made.org_id,
            &agent.id,
            BudgetChange {
                monthly_budget: None,
                set_by: Role::Owner,
                expect: funded.rules(),
            },
            "agent.budget_set",
        ))
        .await
        .unwrap();
    assert_eq!(uncapped.monthly_budget, None);

    // Two budget changes checked against the same values at once.
    let rules = uncapped.rules();
    let (x, y) = tokio::join!(
        s.set_agent_budget(command(
            &made.org_id,
            &agent.id,
            budget(rules),
            "agent.budget_set"
        )),
        s.set_agent_budget(command(
            &made.org_id,
            &agent.id,
            budget(rules),
            "agent.budget_set"
        )),
    );
    assert_eq!(
        [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{x:?} {y:?}"
    );

    let new_key = auth::new_agent_key(KeyMode::Live);
    let rotated = s
        .rotate_agent_key(command(
            &made.org_id,
            &agent.id,
            KeyRotation {
                key_hash: auth::hash_token(&new_key),
                key_mode: KeyMode::Live,
            },
            "agent.key_rotated",
        ))
        .await
        .unwrap();
    assert_eq!(rotated.key_mode, KeyMode::Live);
    assert!(
        s.agent_by_key(&auth::hash_token(&key))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.agent_by_key(&auth::hash_token(&new_key))
            .await
            .unwrap()
            .unwrap()
            .id,
        agent.id
    );
    let (p, _) = plan("Acme", "boss@acme.example", now());
    let acme = s.create_org(p).await.unwrap();
    assert!(matches!(
        s.rotate_agent_key(command(
            &acme.org_id,
            &agent.id,
            KeyRotation {
                key_hash: "other".into(),
                key_mode: KeyMode::Test,
            },
            "agent.key_rotated",
        ))
        .await,
        Err(StoreError::NotFound)
    ));

    let events: Vec<String> = audit_rows(s, &made.org_id)
        .await
        .into_iter()
        .filter(|r| r.2.as_deref() == Some(agent.id.as_str()))
        .map(|r| r.0)
        .collect();
    assert_eq!(
        events,
        [
            "agent.created",
            "agent.updated",
            "agent.updated",
            "agent.budget_set",
            "agent.budget_set",
            "agent.budget_set",
            "agent.key_rotated"
        ]
    );
}

fn write(
    operation: Option<&str>,
    by: Role,
    expect: Option<upivia_server::model::agent::BindingRules>,
) -> BindingWrite {
    BindingWrite {
        operation: operation.map(str::to_owned),
        set_by: BindingSetters::all(by),
        expect,
    }
}

#[tokio::test]
async fn bindings_are_upserted_from_the_rows_checked_and_disabled_rows_are_kept() {
    let Some(db) = db().await else { return };
    let s = &db.store;
    let (made, _) = bootstrapped(s).await;
    let (a, _) = new_agent(&made.org_id, "agent", None);
    let agent = s.create_agent(a).await.unwrap();
    let agent_id = AgentId::from(&agent.id);
    let settings = BindingSettings {
        require_approval: true,
        approval_threshold: Some(Cents::new(50)),
        max_cost: Some(Cents::new(100)),
        monthly_budget: None,
        daily_request_limit: Some(3),
        rate_limit_per_minute: Some(2),
    };
    let upsert = |service: &str, operations, settings: &BindingSettings| {
        command(
            &made.org_id,
            &agent.id,
            BindingUpsert {
                service_id: service.into(),
                operations,
                settings: settings.clone(),
            },
            "binding.enabled",
        )
    };
    let email = s
        .upsert_bindings(upsert(
            "email",
            vec![
                write(Some("send"), Role::Admin, None),
                write(None, Role::Member, None),
            ],
            &settings,
        ))
        .await
        .unwrap();
    // Byte order: '*' before letters, as on SQLite.
    let ops: Vec<Option<&str>> = email.iter().map(|b| b.operation.as_deref()).collect();
    assert_eq!(ops, vec![None, Some("send")]);
    assert_eq!(email[1].settings(), settings);
    assert_eq!(email[1].set_by, BindingSetters::all(Role::Admin));
    assert!(email.iter().all(|b| b.enabled));
    s.upsert_bindings(upsert(
        "web_search",
        vec![write(None, Role::Admin, None)],
        &BindingSettings::default(),
    ))
    .await
    .unwrap();
    let services: Vec<String> = s
        .bindings(&agent_id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| format!("{}:{}", b.service_id, b.operation.as_deref().unwrap_or("*")))
        .collect();
    assert_eq!(services, ["email:*", "email:send", "web_search:*"]);

    // A row that exists, checked as absent: refused, nothing changes.
    let looser = BindingSettings::default();
    let refused = s
        .upsert_bindings(upsert(
            "email",
            vec![write(Some("send"), Role::Owner, None)],
            &looser,
        ))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    // Checked against what is there: the row is updated in place.
    let send = email[1].clone();
    let changed = s
        .upsert_bindings(upsert(
            "email",
            vec![write(Some("send"), Role::Owner, Some(send.rules()))],
            &looser,
        ))
        .await
        .unwrap();
    let new_send = changed
        .iter()
        .find(|b| b.operation.as_deref() == Some("send"))
        .unwrap();
    assert_eq!(new_send.id, send.id, "same row");
    assert_eq!(new_send.settings(), looser);
    assert_eq!(new_send.created_at, send.created_at);

    let removal = |caller| {
        command(
            &made.org_id,
            &agent.id,
            BindingRemoval {
                service_id: "email".into(),
                caller,
            },
            "binding.disabled",
        )
    };
    assert_eq!(s.delete_bindings(removal(Role::Member)).await.unwrap(), 2);
    assert_eq!(s.delete_bindings(removal(Role::Member)).await.unwrap(), 0);
    let kept = s.service_bindings(&agent_id, "email").await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter()
            .all(|b| !b.enabled && b.set_by.enabled == Role::Member)
    );
    let enabled: Vec<String> = s
        .bindings(&agent_id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.service_id)
        .collect();
    assert_eq!(enabled, ["web_search"]);
    // Enabling a disabled row again, checked against it.
    let star = kept.iter().find(|b| b.operation.is_none()).unwrap();
    let again = s
        .upsert_bindings(upsert(
            "email",
            vec![write(None, Role::Admin, Some(star.rules()))],
            &looser,
        ))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "only the enabled rows of the service");
    assert_eq!(again[0].id, star.id);

    // Unknown agent (or another org's): not found, for each change.
    assert!(matches!(
        s.upsert_bindings(AgentCommand {
            agent_id: AgentId::from("agt_nope"),
            ..upsert("email", vec![write(None, Role::Admin, None)], &looser)
        })
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_bindings(AgentCommand {
            org_id: OrgId::from("org_nope"),
            ..removal(Role::Admin)
        })
        .await,
        Err(StoreError::NotFound)
    ));

    // Two first enables of one row at once: one wins, one is refused.
    let (x, y) = tokio::join!(
        s.upsert_bindings(upsert(
            "voice_call",
            vec![write(None, Role::Admin, None)],
            &looser
        )),
        s.upsert_bindings(upsert(
            "voice_call",
            vec![write(None, Role::Admin, None)],
            &looser
        )),
    );
    assert_eq!(
        [x.is_ok(), y.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{x:?} {y:?}"
    );

    let events: Vec<String> = audit_rows(s, &made.org_id)
        .await
        .into_iter()
        .filter(|r| r.0.starts_with("binding."))
        .map(|r| r.0)
        .collect();
    assert_eq!(
        events,
        [
            "binding.enabled",
            "binding.enabled",
            "binding.enabled",
            "binding.disabled",
            "binding.disabled",
            "binding.enabled",
            "binding.enabled"
        ]
    );
}

#[tokio::test]
async fn three_nodes_starting_at_once_on_one_database_bootstrap_it_once() {
    let Some(database) = postgres_database().await else {
        return;
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let keys = tempfile::tempdir().unwrap();
    let signing = keys.path().join("audit-signing.key");
    upivia_server::audit::AuditSigningKey::load_or_create(&signing).unwrap();
    let starts = dirs.iter().map(|dir| {
        let mut config = upivia_server::config::Config::new(
            "127.0.0.1:0".parse().unwrap(),
            dir.path().join("data"),
        );
        config.database_url = Some(database.url().to_owned().into());
        // One audit key and one signing key for every node, as an
        // operator gives them.
        config.audit_key =
            Some(upivia_server::audit::AuditKey::from_hex(&"07".repeat(32)).unwrap());
        config.audit_signing_key_file = Some(signing.clone());
        upivia_server::prepare(config, "127.0.0.1:1".parse().unwrap())
    });
    let prepared: Vec<_> = futures::future::join_all(starts)
        .await
        .into_iter()
        .map(|p| p.expect("every node prepares"))
        .collect();
    let made: Vec<_> = prepared
        .iter()
        .filter_map(|p| p.bootstrap.as_ref())
        .collect();
    assert_eq!(made.len(), 1, "exactly one node bootstrapped");
    let files: Vec<_> = dirs
        .iter()
        .filter(|d| d.path().join("data/initial-credentials.json").exists())
        .collect();
    assert_eq!(files.len(), 1, "one credentials file");
    assert_eq!(
        files[0].path().join("data/initial-credentials.json"),
        made[0].credentials_path
    );
    let store = PgStore::connect(database.url(), PgSettings::default())
        .await
        .unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM orgs").await, 1);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM memberships WHERE role = 'owner'"
        )
        .await,
        1
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM pats").await, 1);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM audit_log WHERE event_type = 'org.bootstrapped'"
        )
        .await,
        1
    );
    // The file's PAT is the one stored.
    let creds: Value =
        serde_json::from_slice(&std::fs::read(&made[0].credentials_path).unwrap()).unwrap();
    let owner = store
        .user_by_pat(&auth::hash_token(creds["pat"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.org_id, creds["org_id"].as_str().unwrap());
    assert_eq!(owner.role, Role::Owner);
    store.close().await;
}
