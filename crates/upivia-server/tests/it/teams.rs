//! Teams over HTTP: create, list, switch, members and their roles, who
//! may do what (403), another organisation's ids (404), bad input (the
//! envelope with its code), the audit trail, and agents in a team.

use reqwest::Method;
use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::sessions::{json_body, owner_session, with_cookie};
use crate::support::{Reply, TestServer};

async fn create_team(s: &TestServer, token: &str, name: &str) -> Reply {
    s.post("/api/v1/teams", token, json!({"name": name})).await
}

async fn team(s: &TestServer, name: &str) -> String {
    let r = create_team(s, &s.pat, name).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["team"]["id"].as_str().unwrap().to_owned()
}

async fn user_id(s: &TestServer, pat: &str) -> String {
    let r = s.get("/api/v1/whoami", pat).await;
    r.body["user"]["id"].as_str().unwrap().to_owned()
}

pub async fn audit_events(s: &TestServer, kind: &str) -> Vec<Value> {
    let r = s.get("/api/v1/audit-logs?limit=500", &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event_type"] == kind)
        .cloned()
        .collect()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_creates_a_team_and_sees_it_with_its_role() {
    let s = TestServer::start().await;
    let r = create_team(&s, &s.pat, "Research").await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.body["team"]["id"].as_str().unwrap();
    assert!(id.starts_with("team_"), "{r:?}");
    assert_eq!(r.body["team"]["name"], "Research");
    assert_eq!(r.body["team"]["role"], "manager");
    assert_eq!(r.body["membership"]["role"], "manager");

    let list = s.get("/api/v1/teams", &s.pat).await;
    assert_eq!(list.status, 200, "{list:?}");
    let row = &list.body["teams"][0];
    assert_eq!(row["id"], id);
    assert_eq!(row["name"], "Research");
    assert_eq!(row["role"], "manager");
    assert_eq!(row["member_count"], 1);

    // An admin who is in no team sees every team, as an admin.
    let admin = s.user_pat(Role::Admin).await;
    let theirs = s.get("/api/v1/teams", &admin).await;
    assert_eq!(theirs.body["teams"][0]["id"], id, "{theirs:?}");
    assert_eq!(theirs.body["teams"][0]["role"], "admin");
    assert_eq!(theirs.body["teams"][0]["team_role"], Value::Null);
    let by_admin = create_team(&s, &admin, "Ops").await;
    assert_eq!(by_admin.status, 200, "{by_admin:?}");

    let created = audit_events(&s, "team.created").await;
    assert_eq!(created.len(), 2, "{created:?}");
    assert!(created.iter().any(|e| e["details"]["team_id"] == id));
}

#[tokio::test]
async fn bad_team_input_gets_the_envelope_with_its_code() {
    let s = TestServer::start().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "invalid_payload"),
        (json!({"name": null}), 422, "invalid_payload"),
        (json!({"name": ""}), 422, "invalid_payload"),
        (json!({"name": "   "}), 422, "invalid_payload"),
        (json!({"name": 7}), 422, "invalid_payload"),
        (json!({"name": "a\u{0}b"}), 422, "invalid_payload"),
        (json!({"name": "a\u{7}b"}), 422, "invalid_payload"),
        (json!({"name": "x".repeat(201)}), 422, "invalid_payload"),
    ];
    for (body, status, code) in cases {
        let r = s.post("/api/v1/teams", &s.pat, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{body}: {r:?}"
        );
    }
    let raw = s
        .http
        .post(format!("{}/api/v1/teams", s.base))
        .bearer_auth(&s.pat)
        .header("content-type", "application/json")
        .body("{\"name\":\"a\",\"name\":\"b\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    team(&s, "Twice").await;
    let again = create_team(&s, &s.pat, "Twice").await;
    assert_eq!(
        (again.status.as_u16(), again.code()),
        (409, "conflict"),
        "{again:?}"
    );
    let list = s.get("/api/v1/teams", &s.pat).await;
    assert_eq!(list.body["teams"].as_array().unwrap().len(), 1, "{list:?}");
}

#[tokio::test]
async fn members_are_added_listed_given_roles_and_removed_by_managers() {
    let s = TestServer::start().await;
    let team = team(&s, "Core").await;
    let other_team = self::team(&s, "Elsewhere").await;
    let admin = s.user_pat(Role::Admin).await;
    let member = s.user_pat(Role::Member).await;
    let (admin_id, member_id) = (user_id(&s, &admin).await, user_id(&s, &member).await);
    let path = format!("/api/v1/teams/{team}/members");

    // Add by user id (worker by default) and by email.
    let added = s.post(&path, &s.pat, json!({"user_id": member_id})).await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.body["member"]["role"], "worker");
    let membership = added.body["member"]["id"].as_str().unwrap().to_owned();
    let admin_email = s.get("/api/v1/whoami", &admin).await.body["email"].clone();
    let by_email = s
        .post(
            &path,
            &s.pat,
            json!({"email": admin_email, "role": "manager"}),
        )
        .await;
    assert_eq!(by_email.status, 200, "{by_email:?}");
    assert_eq!(by_email.body["member"]["user_id"], admin_id.as_str());
    let admin_membership = by_email.body["member"]["id"].as_str().unwrap().to_owned();
    let twice = s.post(&path, &s.pat, json!({"user_id": member_id})).await;
    assert_eq!(
        (twice.status.as_u16(), twice.code()),
        (409, "conflict"),
        "{twice:?}"
    );
    let nobody = s
        .post(&path, &s.pat, json!({"user_id": "usr_nobody"}))
        .await;
    assert_eq!(nobody.status, 404, "{nobody:?}");
    let bad_role = s
        .post(&path, &s.pat, json!({"user_id": member_id, "role": "boss"}))
        .await;
    assert_eq!(
        (bad_role.status.as_u16(), bad_role.code()),
        (422, "invalid_payload")
    );
    let no_user = s.post(&path, &s.pat, json!({"role": "worker"})).await;
    assert_eq!(no_user.status, 422, "{no_user:?}");

    // The list: the owner (manager, the creator), the member, the admin.
    let list = s.get(&path, &s.pat).await;
    assert_eq!(list.status, 200, "{list:?}");
    let rows = list.body["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{list:?}");
    let roles: Vec<(&str, &str)> = rows
        .iter()
        .map(|m| (m["user_id"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert!(roles.contains(&(member_id.as_str(), "worker")), "{roles:?}");
    assert!(roles.contains(&(admin_id.as_str(), "manager")), "{roles:?}");
    assert!(
        rows.iter()
            .all(|m| m["email"].is_string() && m["role_id"].is_string())
    );

    // A worker sees the team and its members but may not change them.
    let mine = s.get("/api/v1/teams", &member).await;
    assert_eq!(ids(&mine.body, "teams"), [team.as_str()], "{mine:?}");
    assert_eq!(mine.body["teams"][0]["role"], "worker");
    assert_eq!(s.get(&path, &member).await.status, 200);
    let denied = s
        .patch(
            &format!("{path}/{admin_membership}"),
            &member,
            json!({"role": "worker"}),
        )
        .await;
    assert_eq!(
        (denied.status.as_u16(), denied.code()),
        (403, "forbidden"),
        "{denied:?}"
    );
    let not_in = s
        .get(&format!("/api/v1/teams/{other_team}/members"), &member)
        .await;
    assert_eq!(not_in.status, 403, "{not_in:?}");

    // Promoted by role_id, the member manages the team.
    let promoted = s
        .patch(
            &format!("{path}/{membership}"),
            &s.pat,
            json!({"role_id": "team_role_manager"}),
        )
        .await;
    assert_eq!(promoted.status, 200, "{promoted:?}");
    assert_eq!(promoted.body["member"]["role"], "manager");
    let demoted = s
        .patch(
            &format!("{path}/{admin_membership}"),
            &member,
            json!({"role": "worker"}),
        )
        .await;
    assert_eq!(demoted.status, 200, "{demoted:?}");
    assert_eq!(demoted.body["member"]["role"], "worker");
    for bad in [
        json!({}),
        json!({"role": "owner"}),
        json!({"role_id": "team_role_x"}),
        json!({"role": 1}),
    ] {
        let r = s
            .patch(&format!("{path}/{membership}"), &s.pat, bad.clone())
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{bad}: {r:?}"
        );
    }
    // A membership of another team is not found under this one.
    let wrong_team = s
        .patch(
            &format!("/api/v1/teams/{other_team}/members/{membership}"),
            &s.pat,
            json!({"role": "worker"}),
        )
        .await;
    assert_eq!(wrong_team.status, 404, "{wrong_team:?}");

    // Removed, the admin's membership is gone; a second removal is 404.
    let removed = s
        .send(
            Method::DELETE,
            &format!("{path}/{admin_membership}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(removed.body["removed"], admin_membership.as_str());
    let again = s
        .send(
            Method::DELETE,
            &format!("{path}/{admin_membership}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(again.status, 404, "{again:?}");
    assert_eq!(
        s.get(&path, &s.pat).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    for kind in [
        "team.member_added",
        "team.member_updated",
        "team.member_removed",
    ] {
        assert!(!audit_events(&s, kind).await.is_empty(), "{kind}");
    }
    let updated = audit_events(&s, "team.member_updated").await;
    assert_eq!(updated.len(), 2, "{updated:?}");
}

#[tokio::test]
async fn a_member_creates_no_team_and_cannot_manage_one() {
    let s = TestServer::start().await;
    let team = team(&s, "Core").await;
    let member = s.user_pat(Role::Member).await;
    let r = create_team(&s, &member, "Mine").await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{r:?}");
    assert!(
        s.get("/api/v1/teams", &member).await.body["teams"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let path = format!("/api/v1/teams/{team}/members");
    assert_eq!(s.get(&path, &member).await.status, 403);
    let me = user_id(&s, &member).await;
    let add = s.post(&path, &member, json!({"user_id": me})).await;
    assert_eq!(add.status, 403, "{add:?}");
    // An agent key is no user.
    let agent = s.agent(json!({})).await;
    assert_eq!(s.get("/api/v1/teams", &agent.key).await.status, 403);
    assert_eq!(create_team(&s, &agent.key, "Bots").await.status, 403);
}

#[tokio::test]
async fn another_organisation_never_finds_a_team() {
    let s = TestServer::start().await;
    let team = team(&s, "Core").await;
    let owner_membership = s
        .get(&format!("/api/v1/teams/{team}/members"), &s.pat)
        .await
        .body["members"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = s.other_org("Other Ltd").await;
    let path = format!("/api/v1/teams/{team}/members");
    let tries = [
        s.get(&path, &other.pat).await,
        s.post(&path, &other.pat, json!({"user_id": "usr_x"})).await,
        s.patch(
            &format!("{path}/{owner_membership}"),
            &other.pat,
            json!({"role": "worker"}),
        )
        .await,
        s.send(
            Method::DELETE,
            &format!("{path}/{owner_membership}"),
            Some(&other.pat),
            None,
        )
        .await,
        s.post("/api/v1/teams/switch", &other.pat, json!({"team_id": team}))
            .await,
    ];
    for r in tries {
        assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"), "{r:?}");
        assert!(!r.body.to_string().contains(&team), "{r:?}");
    }
    let theirs = s.get("/api/v1/teams", &other.pat).await;
    assert_eq!(theirs.body["teams"], json!([]), "{theirs:?}");
    // Their own team of the same name is fine, and ours cannot take their user.
    assert_eq!(create_team(&s, &other.pat, "Core").await.status, 200);
    let their_user = user_id(&s, &other.pat).await;
    let r = s.post(&path, &s.pat, json!({"user_id": their_user})).await;
    assert_eq!(r.status, 404, "{r:?}");
    // Our membership is still there.
    assert_eq!(
        s.get(&path, &s.pat).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn switch_sets_and_clears_the_active_team() {
    let s = TestServer::start().await;
    let team = team(&s, "Core").await;
    let other_team = self::team(&s, "Other").await;
    let r = s
        .post("/api/v1/teams/switch", &s.pat, json!({"team_id": team}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["team_id"], team.as_str());
    assert_eq!(r.body["team"]["name"], "Core");
    let list = s.get("/api/v1/teams", &s.pat).await;
    assert_eq!(list.body["active_team_id"], team.as_str(), "{list:?}");
    let flags: Vec<bool> = list.body["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["active"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, false]);
    let cleared = s
        .post("/api/v1/teams/switch", &s.pat, json!({"team_id": null}))
        .await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    assert_eq!(cleared.body["team_id"], Value::Null);
    assert_eq!(
        s.get("/api/v1/teams", &s.pat).await.body["active_team_id"],
        Value::Null
    );
    assert_eq!(
        s.post(
            "/api/v1/teams/switch",
            &s.pat,
            json!({"team_id": "team_nope"})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        s.post("/api/v1/teams/switch", &s.pat, json!({"team_id": 5}))
            .await
            .status,
        422
    );

    // A cookie session gets the active-team cookie, and keeps its own.
    let cookie = owner_session(&s).await;
    let switched = with_cookie(
        &s,
        Method::POST,
        "/api/v1/teams/switch",
        &cookie,
        &[("content-type", "application/json")],
        json_body(json!({"team_id": other_team})),
    )
    .await;
    assert_eq!(switched.status, 200, "{switched:?}");
    let set = switched.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with(&format!("upivia_team={other_team};")),
        "{set}"
    );
    let seen = with_cookie(&s, Method::GET, "/api/v1/teams", &cookie, &[], None).await;
    assert_eq!(seen.body["active_team_id"], other_team.as_str(), "{seen:?}");
    // The PAT's active team is its own (cleared above).
    assert_eq!(
        s.get("/api/v1/teams", &s.pat).await.body["active_team_id"],
        Value::Null
    );

    // A member switches only to a team they are in.
    let member = s.user_pat(Role::Member).await;
    let denied = s
        .post("/api/v1/teams/switch", &member, json!({"team_id": team}))
        .await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let me = user_id(&s, &member).await;
    let added = s
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &s.pat,
            json!({"user_id": me}),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let ok = s
        .post("/api/v1/teams/switch", &member, json!({"team_id": team}))
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    // Removed from the team, its active team is cleared with it.
    let membership = added.body["member"]["id"].as_str().unwrap();
    let removed = s
        .send(
            Method::DELETE,
            &format!("/api/v1/teams/{team}/members/{membership}"),
            Some(&s.pat),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(
        s.get("/api/v1/teams", &member).await.body["active_team_id"],
        Value::Null
    );
    assert_eq!(audit_events(&s, "team.switched").await.len(), 4);
}

#[tokio::test]
async fn an_agent_joins_a_team_of_its_own_organisation_only() {
    let s = TestServer::start().await;
    let team = team(&s, "Core").await;
    let r = s
        .post(
            "/api/v1/agents",
            &s.pat,
            json!({"name": "in team", "team_id": team}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["agent"]["team_id"], team.as_str());
    let listed = s
        .get(&format!("/api/v1/agents?team_id={team}"), &s.pat)
        .await;
    assert_eq!(
        listed.body["agents"].as_array().unwrap().len(),
        1,
        "{listed:?}"
    );
    let other = s.other_org("Other Ltd").await;
    let theirs = create_team(&s, &other.pat, "Theirs").await;
    let their_team = theirs.body["team"]["id"].as_str().unwrap();
    for bad in [their_team, "team_nope"] {
        let r = s
            .post(
                "/api/v1/agents",
                &s.pat,
                json!({"name": "x", "team_id": bad}),
            )
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{bad}: {r:?}"
        );
    }
    let mine_there = s
        .post(
            "/api/v1/agents",
            &other.pat,
            json!({"name": "x", "team_id": team}),
        )
        .await;
    assert_eq!(mine_there.status, 404, "{mine_there:?}");

    // A member outside the team may not file an agent into it; once in
    // the team, they may.
    let member = s.user_pat(Role::Member).await;
    let member_id = user_id(&s, &member).await;
    let into = json!({"name": "member's", "team_id": team});
    let refused = s.post("/api/v1/agents", &member, into.clone()).await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (403, "forbidden"),
        "{refused:?}"
    );
    let added = s
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &s.pat,
            json!({"user_id": member_id}),
        )
        .await;
    assert_eq!(added.status, 200, "{added:?}");
    let filed = s.post("/api/v1/agents", &member, into).await;
    assert_eq!(filed.status, 200, "{filed:?}");
    assert_eq!(filed.body["agent"]["team_id"], team.as_str());
}

#[tokio::test]
async fn concurrent_creations_of_one_name_make_one_team() {
    let s = TestServer::start().await;
    let calls = (0..6).map(|_| create_team(&s, &s.pat, "Same"));
    let answers = futures::future::join_all(calls).await;
    let made = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(made, 1, "{answers:?}");
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!((r.status.as_u16(), r.code()), (409, "conflict"), "{r:?}");
    }
    let list = s.get("/api/v1/teams", &s.pat).await;
    assert_eq!(list.body["teams"].as_array().unwrap().len(), 1, "{list:?}");
    assert_eq!(audit_events(&s, "team.created").await.len(), 1);
}

/// A SQLite database with a team, a member, the PAT's active team and an
/// agent request moves to PostgreSQL whole (teams go in before the PATs
/// that name them). Skipped without a PostgreSQL server.
#[tokio::test]
async fn teams_and_requests_move_to_postgresql() {
    use upivia_server::auth;
    use upivia_server::ids::{OrgId, UserId};
    use upivia_server::model::AuditEvent;
    use upivia_server::store::postgres::testing::{TestDatabase, server_url};
    use upivia_server::store::postgres::{PgSettings, PgStore, import::import};
    use upivia_server::store::sqlite::SqliteStore;
    use upivia_server::store::*;

    let Some(server) = server_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upivia.db");
    let pat = auth::new_pat();
    let now = time::OffsetDateTime::now_utc();
    {
        let store =
            SqliteStore::open_keyed(&db, upivia_server::audit::AuditKey::generate()).unwrap();
        let made = store
            .bootstrap(BootstrapPlan {
                org_name: "Default".into(),
                email: "owner@upivia.local".into(),
                password_hash: "!".into(),
                pat_hash: auth::hash_token(&pat),
                now,
            })
            .await
            .unwrap()
            .unwrap();
        let org = OrgId::from(made.org_id.as_str());
        let event = || AuditEvent::new(&made.org_id, "team.created", "system");
        TeamStore::create_team(
            &store,
            NewTeam {
                id: "team_moved".into(),
                org_id: org.clone(),
                name: "Moved".into(),
                manager: UserId::from(made.user_id.as_str()),
                now,
                audit: event(),
            },
        )
        .await
        .unwrap();
        store
            .switch_team(SwitchTeam {
                org_id: org.clone(),
                credential: Credential::Pat(auth::hash_token(&pat)),
                team_id: Some("team_moved".into()),
                now,
                audit: event(),
            })
            .await
            .unwrap();
        store
            .create_agent_request(NewAgentRequest {
                id: "areq_moved".into(),
                org_id: org,
                agent_id: None,
                agent_name: None,
                created_by: format!("user:{}", made.user_id),
                created_by_user_id: Some(UserId::from(made.user_id.as_str())),
                request_type: "blocked".into(),
                title: "moved".into(),
                body: "moved".into(),
                link: None,
                now,
                audit: event(),
            })
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    upivia_server::store::sqlite::export::export(
        &db,
        &dir.path().join("audit-checkpoints.jsonl"),
        &mut out,
        now,
    )
    .unwrap();
    let target = TestDatabase::create_empty(&server).await.unwrap();
    let summary = import(target.url(), out.as_slice()).await.unwrap();
    assert_eq!(summary.rows["teams"], 1);
    assert_eq!(summary.rows["team_members"], 1);
    assert_eq!(summary.rows["agent_requests"], 1);
    let store = PgStore::connect(target.url(), PgSettings::default())
        .await
        .unwrap();
    let active = store
        .active_team(&Credential::Pat(auth::hash_token(&pat)))
        .await
        .unwrap();
    assert_eq!(active.as_deref(), Some("team_moved"));
    let owner = store
        .user_by_pat(&auth::hash_token(&pat))
        .await
        .unwrap()
        .unwrap();
    let org = OrgId::from(owner.org_id.as_str());
    let members = store.team_members(&org, "team_moved").await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].role, TeamRole::Manager);
    let request = store
        .agent_request(&org, "areq_moved")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.status, InboxStatus::Pending);
    store.close().await;
}
