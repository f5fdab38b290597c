//! Members, roles, personal access tokens, workspaces and whoami over
//! HTTP, on either backend: the happy paths, every refused role, foreign
//! ids, bad input, and the rule that a removed member's sessions and
//! tokens die at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sessions::{OWNER, cookie_pair, login_as, with_cookie};
use crate::support::{Reply, TestServer};
use upivia_server::model::Role;

const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

async fn delete(s: &TestServer, path: &str, token: &str) -> Reply {
    s.send(Method::DELETE, path, Some(token), None).await
}

/// Adds a member by email as the owner; the reply with the password.
async fn add(s: &TestServer, token: &str, email: &str, role: &str) -> Reply {
    s.post(
        "/api/v1/members",
        token,
        json!({"email": email, "role": role}),
    )
    .await
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}@example.com", ulid::Ulid::new()).to_lowercase()
}

/// A member added over the API, signed in with the one-time password:
/// (user id, password, session cookie).
async fn member_with_session(s: &TestServer, role: &str) -> (String, String, String, String) {
    let email = unique(role);
    let r = add(s, &s.pat, &email, role).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let password = r.body["password"].as_str().unwrap().to_owned();
    let id = r.body["member"]["id"].as_str().unwrap().to_owned();
    let login = login_as(s, &s.http, &email, &password).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    (id, email, password, cookie_pair(&login))
}

async fn new_token(s: &TestServer, token: &str, body: Value) -> (String, String) {
    let r = s.post("/api/v1/tokens", token, body).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    (
        r.body["token"]["id"].as_str().unwrap().to_owned(),
        r.body["secret"].as_str().unwrap().to_owned(),
    )
}

fn audit_types(r: &Reply) -> Vec<String> {
    r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_added_member_gets_a_one_time_password_signs_in_and_is_listed() {
    let s = TestServer::start().await;
    let (id, email, password, cookie) = member_with_session(&s, "member").await;
    assert!(id.starts_with("usr_"), "{id}");
    assert!(password.len() >= 16, "{password}");

    let who = with_cookie(&s, Method::GET, "/api/v1/whoami", &cookie, &[], None).await;
    assert_eq!(who.status, StatusCode::OK, "{who:?}");
    assert_eq!(who.body["email"], email.as_str());
    assert_eq!(who.body["role"], "member");
    assert_eq!(who.body["credential"], "session");

    let list = s.get("/api/v1/members", &s.pat).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let members = list.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{list:?}");
    assert_eq!(members[0]["email"], OWNER);
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[1]["id"], id.as_str());
    assert_eq!(members[1]["role"], "member");
    // A member reads the list too, without secrets.
    let theirs = with_cookie(&s, Method::GET, "/api/v1/members", &cookie, &[], None).await;
    assert_eq!(theirs.body["members"], list.body["members"]);
    assert!(!list.body.to_string().contains(&password));

    // The password is shown once: the audit trail and the list never hold it.
    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    assert!(audit_types(&audit).contains(&"org.member_added".to_owned()));
    assert!(!audit.body.to_string().contains(&password));
    // The same email again is a conflict, not a second user.
    let again = add(&s, &s.pat, &email, "member").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
}

#[tokio::test]
async fn adding_members_needs_admin_and_only_the_owner_makes_admins() {
    let s = TestServer::start().await;
    let member = s.user_pat(Role::Member).await;
    let admin = s.user_pat(Role::Admin).await;

    let r = add(&s, &member, &unique("x"), "member").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = add(&s, &admin, &unique("x"), "admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = add(&s, &admin, &unique("x"), "member").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["member"]["role"], "member");
    let r = add(&s, &s.pat, &unique("x"), "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["member"]["role"], "admin");
    // The default role is member.
    let r = s
        .post("/api/v1/members", &s.pat, json!({"email": unique("d")}))
        .await;
    assert_eq!(r.body["member"]["role"], "member", "{r:?}");

    for (body, field) in [
        (json!({"email": unique("o"), "role": "owner"}), "role"),
        (json!({"email": unique("o"), "role": "boss"}), "role"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "a\u{0}b@example.com"}), "email"),
        (json!({"email": ""}), "email"),
    ] {
        let r = s.post("/api/v1/members", &s.pat, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{r:?}"
        );
    }
    let r = s.post("/api/v1/members", &s.pat, json!({})).await;
    assert!(r.status.is_client_error(), "{r:?}");
}

#[tokio::test]
async fn roles_change_from_above_never_for_the_owner_or_oneself() {
    let s = TestServer::start().await;
    let admin = s.user_pat(Role::Admin).await;
    let r = add(&s, &s.pat, &unique("m"), "member").await;
    let member_id = r.body["member"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/members/{member_id}");

    // An admin cannot promote; the owner can, and demote again.
    let r = s.patch(&path, &admin, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = s.patch(&path, &s.pat, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["member"]["role"], "admin");
    // Now an admin, they are beyond another admin's reach.
    let r = s.patch(&path, &admin, json!({"role": "member"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = s.patch(&path, &s.pat, json!({"role": "member"})).await;
    assert_eq!(r.body["member"]["role"], "member", "{r:?}");

    let who = s.get("/api/v1/whoami", &s.pat).await;
    let owner_id = who.body["user"]["id"].as_str().unwrap().to_owned();
    let owner_path = format!("/api/v1/members/{owner_id}");
    let r = s.patch(&owner_path, &s.pat, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = s
        .patch(&owner_path, &admin, json!({"role": "member"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    let r = s.patch(&path, &s.pat, json!({"role": "owner"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = s.patch(&path, &s.pat, json!({"role": "root"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let r = s
        .patch(
            "/api/v1/members/usr_nope",
            &s.pat,
            json!({"role": "member"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = s
        .patch("/api/v1/members/usr%00x", &s.pat, json!({"role": "member"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    // Another organisation's owner sees no such member.
    let other = s.other_org("Other").await;
    let r = s.patch(&path, &other.pat, json!({"role": "admin"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let r = delete(&s, &path, &other.pat).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    let theirs = s.get("/api/v1/members", &other.pat).await;
    assert_eq!(theirs.body["members"].as_array().unwrap().len(), 1);

    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    let changed = audit_types(&audit)
        .iter()
        .filter(|t| *t == "org.member_role_changed")
        .count();
    assert_eq!(changed, 2, "{audit:?}");
}

#[tokio::test]
async fn a_removed_members_sessions_and_tokens_die_at_once() {
    let s = TestServer::start().await;
    let (id, email, password, cookie) = member_with_session(&s, "member").await;
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/tokens",
        &cookie,
        JSON,
        Some(json!({"name": "laptop"}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let pat = r.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/api/v1/whoami", &pat).await.status, StatusCode::OK);

    let path = format!("/api/v1/members/{id}");
    let admin = s.user_pat(Role::Admin).await;
    let member = s.user_pat(Role::Member).await;
    assert_eq!(
        delete(&s, &path, &member).await.status,
        StatusCode::FORBIDDEN
    );
    let r = delete(&s, &path, &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["sessions_ended"], 1);
    assert_eq!(r.body["tokens_revoked"], 1);

    assert_eq!(
        s.get("/api/v1/whoami", &pat).await.status,
        StatusCode::UNAUTHORIZED
    );
    let who = with_cookie(&s, Method::GET, "/api/v1/whoami", &cookie, &[], None).await;
    assert_eq!(who.status, StatusCode::UNAUTHORIZED, "{who:?}");
    // With no organisation left, the password opens nothing.
    let login = login_as(&s, &s.http, &email, &password).await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{login:?}");
    assert_eq!(
        delete(&s, &path, &admin).await.status,
        StatusCode::NOT_FOUND
    );

    // Nobody removes the owner, and an admin does not remove an admin.
    let who = s.get("/api/v1/whoami", &s.pat).await;
    let owner = format!(
        "/api/v1/members/{}",
        who.body["user"]["id"].as_str().unwrap()
    );
    assert_eq!(
        delete(&s, &owner, &admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&s, &owner, &s.pat).await.status,
        StatusCode::FORBIDDEN
    );
    let r = add(&s, &s.pat, &unique("a"), "admin").await;
    let other_admin = format!(
        "/api/v1/members/{}",
        r.body["member"]["id"].as_str().unwrap()
    );
    assert_eq!(
        delete(&s, &other_admin, &admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&s, &other_admin, &s.pat).await.status,
        StatusCode::OK
    );
    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    assert!(audit_types(&audit).contains(&"org.member_removed".to_owned()));
}

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secrets_and_revoked_at_once() {
    let s = TestServer::start().await;
    let (id, secret) = new_token(&s, &s.pat, json!({"name": "ci", "expires_in_days": 30})).await;
    assert!(secret.starts_with("upivia_pat_"), "{secret}");
    assert!(id.starts_with("pat_"), "{id}");
    let who = s.get("/api/v1/whoami", &secret).await;
    assert_eq!(who.body["email"], OWNER, "{who:?}");
    assert_eq!(who.body["credential"], "pat");

    let list = s.get("/api/v1/tokens", &s.pat).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let tokens = list.body["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{list:?}");
    assert_eq!(tokens[0]["id"], id.as_str());
    assert_eq!(tokens[0]["name"], "ci");
    assert_eq!(tokens[0]["active"], true);
    assert!(tokens[0]["expires_at"].is_string());
    assert!(!list.body.to_string().contains(&secret));
    assert!(!list.body.to_string().contains(&s.pat));
    assert!(tokens.iter().all(|t| t.get("secret").is_none()));

    let r = delete(&s, &format!("/api/v1/tokens/{id}"), &s.pat).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["token"]["active"], false);
    assert!(r.body["token"]["revoked_at"].is_string());
    assert_eq!(
        s.get("/api/v1/whoami", &secret).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = delete(&s, &format!("/api/v1/tokens/{id}"), &s.pat).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");

    // Another user's token is not found, in or out of the organisation.
    let (mine, _) = new_token(&s, &s.pat, json!({"name": "mine"})).await;
    let member = s.user_pat(Role::Member).await;
    let other = s.other_org("Other").await;
    for token in [&member, &other.pat] {
        let r = delete(&s, &format!("/api/v1/tokens/{mine}"), token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
        let theirs = s.get("/api/v1/tokens", token).await;
        assert!(!theirs.body.to_string().contains(&mine), "{theirs:?}");
    }
    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    let types = audit_types(&audit);
    assert!(types.contains(&"pat.created".to_owned()), "{types:?}");
    assert!(types.contains(&"pat.revoked".to_owned()), "{types:?}");
    assert!(!audit.body.to_string().contains(&secret));
}

#[tokio::test]
async fn a_token_stops_working_when_it_expires() {
    let s = TestServer::start().await;
    let (_, day) = new_token(&s, &s.pat, json!({"name": "day", "expires_in_days": 1})).await;
    let at = (time::OffsetDateTime::now_utc() + time::Duration::days(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, three) = new_token(&s, &s.pat, json!({"name": "three", "expires_at": at})).await;
    assert_eq!(s.get("/api/v1/whoami", &day).await.status, StatusCode::OK);
    s.clock.advance(time::Duration::hours(25));
    assert_eq!(
        s.get("/api/v1/whoami", &day).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.get("/api/v1/whoami", &three).await.status, StatusCode::OK);
    let list = s.get("/api/v1/tokens", &s.pat).await;
    let day_row = list.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "day")
        .unwrap()
        .clone();
    assert_eq!(day_row["active"], false, "{list:?}");
}

#[tokio::test]
async fn bad_token_requests_are_refused_with_the_field_named() {
    let s = TestServer::start().await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "a\u{0}b"}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (
            json!({"name": "n", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "n", "expires_in_days": 100000}),
            "expires_in_days",
        ),
        (
            json!({"name": "n", "expires_at": "yesterday"}),
            "expires_at",
        ),
        (
            json!({"name": "n", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"name": "n", "expires_at": "2030-01-01T00:00:00Z", "expires_in_days": 3}),
            "expires_at",
        ),
    ] {
        let r = s.post("/api/v1/tokens", &s.pat, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {r:?}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {r:?}"
        );
    }
    let r = s.post("/api/v1/tokens", &s.pat, json!({})).await;
    assert!(r.status.is_client_error(), "{r:?}");
    let r = delete(&s, "/api/v1/tokens/pat_nope", &s.pat).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    // An agent key is not a user's credential.
    let agent = s.agent(json!({})).await;
    let r = s.get("/api/v1/tokens", &agent.key).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
}

#[tokio::test]
async fn a_user_of_two_workspaces_lists_both_and_a_session_switches() {
    let s = TestServer::start().await;
    let (id, email, _, cookie) = member_with_session(&s, "member").await;
    let other = s.other_org("Second").await;
    // The other organisation's owner adds the existing user: no password.
    let r = add(&s, &other.pat, &email, "admin").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.body["password"].is_null(), "{r:?}");
    assert_eq!(r.body["existing_user"], true);
    assert_eq!(r.body["member"]["id"], id.as_str());

    let first = s.get("/api/v1/whoami", &s.pat).await.body["org_id"].clone();
    let list = with_cookie(&s, Method::GET, "/api/v1/workspaces", &cookie, &[], None).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let ws = list.body["workspaces"].as_array().unwrap();
    assert_eq!(ws.len(), 2, "{list:?}");
    assert_eq!(ws[0]["id"], first);
    assert_eq!(ws[0]["active"], true);
    assert_eq!(ws[0]["role"], "member");
    assert_eq!(ws[1]["id"], other.id.as_str());
    assert_eq!(ws[1]["name"], "Second");
    assert_eq!(ws[1]["role"], "admin");

    // The SDK's body, then the terminal client's.
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/workspaces/switch",
        &cookie,
        JSON,
        Some(json!({"orgId": other.id}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["workspace"]["id"], other.id.as_str());
    let who = with_cookie(&s, Method::GET, "/api/v1/whoami", &cookie, &[], None).await;
    assert_eq!(who.body["org_id"], other.id.as_str(), "{who:?}");
    assert_eq!(who.body["role"], "admin");
    assert_eq!(who.body["workspace"]["name"], "Second");
    // Acting in the second workspace now: its member list.
    let members = with_cookie(&s, Method::GET, "/api/v1/members", &cookie, &[], None).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/workspaces/switch",
        &cookie,
        JSON,
        Some(json!({"workspace_id": first}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // An organisation the user is not in is not found.
    let third = s.other_org("Third").await;
    for body in [json!({"orgId": third.id}), json!({"orgId": "org_nope"})] {
        let r = with_cookie(
            &s,
            Method::POST,
            "/api/v1/workspaces/switch",
            &cookie,
            JSON,
            Some(body.to_string()),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");
    }
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/workspaces/switch",
        &cookie,
        JSON,
        Some(json!({}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    let audit = s.get("/api/v1/audit-logs", &s.pat).await;
    assert!(audit_types(&audit).contains(&"session.workspace_switched".to_owned()));

    // Removed from the second organisation, the user keeps the first.
    let r = delete(&s, &format!("/api/v1/members/{id}"), &other.pat).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let list = with_cookie(&s, Method::GET, "/api/v1/workspaces", &cookie, &[], None).await;
    assert_eq!(
        list.body["workspaces"].as_array().unwrap().len(),
        1,
        "{list:?}"
    );
}

#[tokio::test]
async fn a_pat_is_bound_to_its_workspace() {
    let s = TestServer::start().await;
    let (_, email, _, cookie) = member_with_session(&s, "member").await;
    let other = s.other_org("Second").await;
    add(&s, &other.pat, &email, "member").await;
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/tokens",
        &cookie,
        JSON,
        Some(json!({"name": "tui"}).to_string()),
    )
    .await;
    let pat = r.body["secret"].as_str().unwrap().to_owned();
    let first = s.get("/api/v1/whoami", &s.pat).await.body["org_id"].clone();

    let list = s.get("/api/v1/workspaces", &pat).await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    assert_eq!(list.body["workspaces"].as_array().unwrap().len(), 2);
    assert_eq!(list.body["workspaces"][0]["id"], first);
    assert_eq!(list.body["workspaces"][0]["active"], true);
    let r = s
        .post(
            "/api/v1/workspaces/switch",
            &pat,
            json!({"workspace_id": first}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = s
        .post(
            "/api/v1/workspaces/switch",
            &pat,
            json!({"orgId": other.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{r:?}");
    assert_eq!(s.get("/api/v1/whoami", &pat).await.body["org_id"], first);
    // The owner's PAT of the other organisation lists only its own.
    let theirs = s.get("/api/v1/workspaces", &other.pat).await;
    assert_eq!(theirs.body["workspaces"].as_array().unwrap().len(), 1);
    assert_eq!(theirs.body["workspaces"][0]["id"], other.id.as_str());
}

#[tokio::test]
async fn racing_changes_to_one_member_decide_once() {
    let s = TestServer::start().await;
    let r = add(&s, &s.pat, &unique("race"), "member").await;
    let id = r.body["member"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/members/{id}");
    let admin = s.user_pat(Role::Admin).await;
    // Promotions by the owner race removals by an admin (who may remove a
    // member, not an admin): never both a promotion and a removal applied
    // to the same member.
    let (mut promote, mut remove) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        promote.push(s.patch(&path, &s.pat, json!({"role": "admin"})));
        remove.push(delete(&s, &path, &admin));
    }
    let (promoted, removed) = tokio::join!(
        futures::future::join_all(promote),
        futures::future::join_all(remove)
    );
    let removed_ok = removed
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let promoted_ok = promoted
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(removed_ok <= 1, "{removed:?}");
    let members = s.get("/api/v1/members", &s.pat).await;
    let row = members.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .cloned();
    match row {
        None => assert_eq!(removed_ok, 1),
        Some(m) => {
            assert_eq!(removed_ok, 0, "{removed:?}");
            assert!(promoted_ok >= 1);
            assert_eq!(m["role"], "admin");
        }
    }
    for r in promoted.iter().chain(removed.iter()) {
        assert!([200, 403, 404, 409].contains(&r.status.as_u16()), "{r:?}");
    }
}

#[tokio::test]
async fn a_removed_member_leaves_their_teams_and_a_switch_clears_the_active_team() {
    let s = TestServer::start().await;
    let (id, email, _, cookie) = member_with_session(&s, "member").await;
    let team = s
        .post("/api/v1/teams", &s.pat, json!({"name": "Ops"}))
        .await;
    assert_eq!(team.status, StatusCode::OK, "{team:?}");
    let team_id = team.body["team"]["id"].as_str().unwrap().to_owned();
    let joined = s
        .post(
            &format!("/api/v1/teams/{team_id}/members"),
            &s.pat,
            json!({"email": email}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:?}");
    let switched = with_cookie(
        &s,
        Method::POST,
        "/api/v1/teams/switch",
        &cookie,
        JSON,
        Some(json!({"team_id": team_id}).to_string()),
    )
    .await;
    assert_eq!(switched.status, StatusCode::OK, "{switched:?}");

    // Switching workspace drops the first workspace's active team.
    let other = s.other_org("Second").await;
    add(&s, &other.pat, &email, "member").await;
    let r = with_cookie(
        &s,
        Method::POST,
        "/api/v1/workspaces/switch",
        &cookie,
        JSON,
        Some(json!({"orgId": other.id}).to_string()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let teams = with_cookie(&s, Method::GET, "/api/v1/teams", &cookie, &[], None).await;
    assert!(teams.body["active_team_id"].is_null(), "{teams:?}");
    assert!(!teams.body.to_string().contains(&team_id), "{teams:?}");

    let r = delete(&s, &format!("/api/v1/members/{id}"), &s.pat).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let members = s
        .get(&format!("/api/v1/teams/{team_id}/members"), &s.pat)
        .await;
    assert!(!members.body.to_string().contains(&email), "{members:?}");
}
