//! Team pools and budget requests over HTTP: allocation moves money from
//! the organisation balance into a pool (owner only, exact under
//! concurrency), a team's agents spend from the pool and are blocked by an
//! empty one, budget requests are decided once by the owner or a manager,
//! and the ledger check stays clean through all of it.

use serde_json::{Value, json};
use upivia_server::model::Role;

use crate::support::{Reply, TestAgent, TestServer, email};
use crate::teams::audit_events;

async fn team(s: &TestServer, name: &str) -> String {
    let r = s.post("/api/v1/teams", &s.pat, json!({"name": name})).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["team"]["id"].as_str().unwrap().to_owned()
}

async fn user_id(s: &TestServer, pat: &str) -> String {
    s.get("/api/v1/whoami", pat).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn join(s: &TestServer, team: &str, pat: &str, role: &str) {
    let id = user_id(s, pat).await;
    let r = s
        .post(
            &format!("/api/v1/teams/{team}/members"),
            &s.pat,
            json!({"user_id": id, "role": role}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn allocate(s: &TestServer, token: &str, team: &str, cents: Value) -> Reply {
    s.post(
        &format!("/api/v1/teams/{team}/budget/allocate"),
        token,
        json!({"amount_cents": cents}),
    )
    .await
}

async fn pool(s: &TestServer, team: &str) -> Value {
    let r = s.get(&format!("/api/v1/teams/{team}/budget"), &s.pat).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["budget"].clone()
}

async fn team_agent(s: &TestServer, team: &str) -> TestAgent {
    let agent = s.agent(json!({"team_id": team})).await;
    s.enable(&agent, json!({"service_id": "email"})).await;
    agent
}

#[tokio::test]
async fn allocation_moves_money_and_team_agents_spend_from_the_pool() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let team = team(&s, "Research").await;
    let r = allocate(&s, &s.pat, &team, json!(300)).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["allocated_cents"], 300);
    assert_eq!(r.body["budget"]["pool_cents"], 300);
    assert_eq!(s.balance().await, 700, "the money left the balance");

    let agent = team_agent(&s, &team).await;
    let spent = s.request(&agent, "email", "send", email()).await;
    assert_eq!(spent.body["status"], "executed", "{spent:?}");
    let p = pool(&s, &team).await;
    assert_eq!(
        (
            &p["pool_cents"],
            &p["allocated_cents"],
            &p["spent_cents"],
            &p["reserved_cents"]
        ),
        (&json!(299), &json!(300), &json!(1), &json!(0)),
        "{p}"
    );
    assert_eq!(
        s.balance().await,
        700,
        "a team agent does not spend the balance"
    );
    let by_balance = s
        .get(&format!("/api/v1/balance?team_id={team}"), &s.pat)
        .await;
    assert_eq!(by_balance.status, 200, "{by_balance:?}");
    assert_eq!(by_balance.body["amount_cents"], 299);
    assert_eq!(by_balance.body["team_id"], team.as_str());

    // The budget check of a team agent reports the pool.
    let check = s
        .post(
            "/api/v1/service-requests",
            &agent.key,
            json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": agent.id}}),
        )
        .await;
    assert_eq!(check.body["result"]["remaining_cents"], 299, "{check:?}");

    let events = audit_events(&s, "team.budget_allocated").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["amount_cents"], 300);
    assert!(
        events[0]["details"]["transfer_id"]
            .as_str()
            .unwrap()
            .starts_with("trf_")
    );
    s.ledger_ok().await;
}

#[tokio::test]
async fn an_empty_pool_blocks_a_team_agent_while_the_balance_has_money() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let team = team(&s, "Dry").await;
    let agent = team_agent(&s, &team).await;
    let r = s.request(&agent, "email", "send", email()).await;
    assert_eq!(r.body["status"], "blocked", "{r:?}");
    assert_eq!(r.body["reason_code"], "budget_exceeded");
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains(&format!("team pool {team}")), "{message}");
    allocate(&s, &s.pat, &team, json!(1)).await;
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["status"],
        "executed"
    );
    assert_eq!(
        s.request(&agent, "email", "send", email()).await.body["reason_code"],
        "budget_exceeded"
    );
    assert_eq!(s.balance().await, 999);
    s.ledger_ok().await;
}

#[tokio::test]
async fn only_the_owner_allocates_and_bad_amounts_move_nothing() {
    let s = TestServer::start().await;
    s.credit(100).await;
    let team = team(&s, "Guarded").await;
    let admin = s.user_pat(Role::Admin).await;
    let member = s.user_pat(Role::Member).await;
    join(&s, &team, &member, "manager").await;
    for token in [&admin, &member] {
        let r = allocate(&s, token, &team, json!(10)).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "forbidden"), "{r:?}");
    }
    let too_much = allocate(&s, &s.pat, &team, json!(101)).await;
    assert_eq!(
        (too_much.status.as_u16(), too_much.code()),
        (409, "insufficient_balance"),
        "{too_much:?}"
    );
    assert!(
        too_much.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("100 cents available")
    );
    for bad in [
        json!(0),
        json!(-5),
        json!(1.5),
        json!("10"),
        json!(null),
        json!(10_000_000_001i64),
    ] {
        let r = allocate(&s, &s.pat, &team, bad.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{bad}: {r:?}"
        );
    }
    let nowhere = allocate(&s, &s.pat, "team_nope", json!(1)).await;
    assert_eq!(nowhere.status, 404, "{nowhere:?}");
    let other = s.other_org("Elsewhere").await;
    let foreign = allocate(&s, &other.pat, &team, json!(1)).await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    let foreign_read = s
        .get(&format!("/api/v1/teams/{team}/budget"), &other.pat)
        .await;
    assert_eq!(foreign_read.status, 404, "{foreign_read:?}");
    // Reading a pool: the owner and the team's members, not an admin
    // outside it.
    let by_member = s
        .get(&format!("/api/v1/teams/{team}/budget"), &member)
        .await;
    assert_eq!(by_member.status, 200, "{by_member:?}");
    let by_admin = s.get(&format!("/api/v1/teams/{team}/budget"), &admin).await;
    assert_eq!(by_admin.status, 403, "{by_admin:?}");
    assert_eq!(s.balance().await, 100);
    assert_eq!(pool(&s, &team).await["pool_cents"], 0);
    s.ledger_ok().await;
}

#[tokio::test]
async fn concurrent_allocations_never_move_more_than_the_balance() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let teams = [team(&s, "A").await, team(&s, "B").await];
    let calls = (0..24).map(|i| {
        let team = teams[i % 2].clone();
        let s = &s;
        async move { allocate(s, &s.pat, &team, json!(100)).await }
    });
    let replies = futures::future::join_all(calls).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let short = replies
        .iter()
        .filter(|r| r.code() == "insufficient_balance")
        .count();
    assert_eq!((ok, short), (10, 14), "{replies:?}");
    assert_eq!(s.balance().await, 0);
    let pooled = pool(&s, &teams[0]).await["pool_cents"].as_i64().unwrap()
        + pool(&s, &teams[1]).await["pool_cents"].as_i64().unwrap();
    assert_eq!(pooled, 1000);
    s.ledger_ok().await;
}

async fn ask(s: &TestServer, pat: &str, team: &str, cents: i64) -> String {
    let r = s
        .post(
            "/api/v1/budget-requests",
            pat,
            json!({"team_id": team, "amount_cents": cents, "reason": "more searches"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["request"]["status"], "pending");
    r.body["request"]["id"].as_str().unwrap().to_owned()
}

async fn decide(s: &TestServer, pat: &str, id: &str, action: &str) -> Reply {
    s.patch(
        &format!("/api/v1/budget-requests/{id}"),
        pat,
        json!({"action": action, "note": "ok"}),
    )
    .await
}

fn listed(r: &Reply) -> Vec<String> {
    r.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_budget_request_is_approved_once_by_a_manager_and_funds_the_pool() {
    let s = TestServer::start().await;
    s.credit(500).await;
    let team = team(&s, "Asks").await;
    let worker = s.user_pat(Role::Member).await;
    let manager = s.user_pat(Role::Member).await;
    let outsider = s.user_pat(Role::Member).await;
    join(&s, &team, &worker, "worker").await;
    join(&s, &team, &manager, "manager").await;

    let id = ask(&s, &worker, &team, 120).await;
    assert!(id.starts_with("breq_"), "{id}");
    // Who sees it: the owner, the asker and the team's manager.
    for (pat, sees) in [
        (&s.pat, true),
        (&worker, true),
        (&manager, true),
        (&outsider, false),
    ] {
        let r = s.get("/api/v1/budget-requests", pat).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(listed(&r).contains(&id), sees, "{r:?}");
    }
    // Who decides: not the asker, not an outsider.
    for pat in [&worker, &outsider] {
        let r = decide(&s, pat, &id, "approve").await;
        assert_eq!(r.status, 403, "{r:?}");
    }
    let approved = decide(&s, &manager, &id, "approve").await;
    assert_eq!(approved.status, 200, "{approved:?}");
    assert_eq!(approved.body["request"]["status"], "approved");
    assert!(
        approved.body["request"]["transfer_id"]
            .as_str()
            .unwrap()
            .starts_with("trf_")
    );
    assert_eq!(s.balance().await, 380);
    assert_eq!(pool(&s, &team).await["pool_cents"], 120);
    for again in ["approve", "reject"] {
        let r = decide(&s, &s.pat, &id, again).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "already_resolved"),
            "{r:?}"
        );
    }
    assert_eq!(s.balance().await, 380, "funded once");
    let pending = s.get("/api/v1/budget-requests", &s.pat).await;
    assert!(!listed(&pending).contains(&id), "{pending:?}");
    let all = s.get("/api/v1/budget-requests?status=all", &s.pat).await;
    assert!(listed(&all).contains(&id), "{all:?}");

    // Rejecting moves nothing; the owner may decide their own request.
    let rejected = ask(&s, &worker, &team, 50).await;
    let r = decide(&s, &s.pat, &rejected, "reject").await;
    assert_eq!(r.body["request"]["status"], "rejected", "{r:?}");
    let own = ask(&s, &s.pat, &team, 30).await;
    assert_eq!(
        decide(&s, &s.pat, &own, "approve").await.body["request"]["status"],
        "approved"
    );
    assert_eq!(s.balance().await, 350);
    assert_eq!(audit_events(&s, "budget_request.approved").await.len(), 2);
    assert_eq!(audit_events(&s, "budget_request.rejected").await.len(), 1);
    s.ledger_ok().await;
}

#[tokio::test]
async fn approving_more_than_the_balance_is_refused_and_stays_pending() {
    let s = TestServer::start().await;
    s.credit(10).await;
    let team = team(&s, "Broke").await;
    let id = ask(&s, &s.pat, &team, 11).await;
    let r = decide(&s, &s.pat, &id, "approve").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "insufficient_balance"),
        "{r:?}"
    );
    let listed_now = s.get("/api/v1/budget-requests", &s.pat).await;
    assert_eq!(listed_now.body["requests"][0]["status"], "pending");
    s.credit(1).await;
    assert_eq!(decide(&s, &s.pat, &id, "approve").await.status, 200);
    assert_eq!(s.balance().await, 0);
    s.ledger_ok().await;
}

#[tokio::test]
async fn concurrent_decisions_on_one_request_fund_it_once() {
    let s = TestServer::start().await;
    s.credit(1000).await;
    let team = team(&s, "Race").await;
    let id = ask(&s, &s.pat, &team, 100).await;
    let calls = (0..12).map(|i| {
        let (s, id) = (&s, id.clone());
        async move {
            decide(
                s,
                &s.pat,
                &id,
                if i % 3 == 0 { "reject" } else { "approve" },
            )
            .await
        }
    });
    let replies = futures::future::join_all(calls).await;
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .all(|r| r.status == 200 || r.code() == "already_resolved"),
        "{replies:?}"
    );
    let moved = if won[0].body["request"]["status"] == "approved" {
        100
    } else {
        0
    };
    assert_eq!(s.balance().await, 1000 - moved);
    s.ledger_ok().await;
}

#[tokio::test]
async fn bad_budget_requests_get_the_envelope_and_foreign_ids_are_not_found() {
    let s = TestServer::start().await;
    let team = team(&s, "Strict").await;
    let cases = [
        json!({}),
        json!({"team_id": team}),
        json!({"team_id": team, "amount_cents": 0}),
        json!({"team_id": team, "amount_cents": "5"}),
        json!({"team_id": 7, "amount_cents": 5}),
        json!({"team_id": team, "amount_cents": 5, "reason": 9}),
        json!({"team_id": team, "amount_cents": 5, "reason": "a\u{0}b"}),
    ];
    for body in cases {
        let r = s
            .post("/api/v1/budget-requests", &s.pat, body.clone())
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_payload"),
            "{body}: {r:?}"
        );
    }
    let nowhere = s
        .post(
            "/api/v1/budget-requests",
            &s.pat,
            json!({"team_id": "team_nope", "amount_cents": 5}),
        )
        .await;
    assert_eq!(nowhere.status, 404, "{nowhere:?}");
    let outsider = s.user_pat(Role::Member).await;
    let not_in_team = s
        .post(
            "/api/v1/budget-requests",
            &outsider,
            json!({"team_id": team, "amount_cents": 5}),
        )
        .await;
    assert_eq!(not_in_team.status, 403, "{not_in_team:?}");
    let id = ask(&s, &s.pat, &team, 5).await;
    for body in [json!({}), json!({"action": "maybe"}), json!({"action": 1})] {
        let r = s
            .patch(
                &format!("/api/v1/budget-requests/{id}"),
                &s.pat,
                body.clone(),
            )
            .await;
        assert_eq!(r.status, 422, "{body}: {r:?}");
    }
    let bad_status = s.get("/api/v1/budget-requests?status=open", &s.pat).await;
    assert_eq!(bad_status.status, 422, "{bad_status:?}");
    let other = s.other_org("Other").await;
    let foreign = decide(&s, &other.pat, &id, "approve").await;
    assert_eq!(foreign.status, 404, "{foreign:?}");
    let foreign_list = s.get("/api/v1/budget-requests", &other.pat).await;
    assert!(listed(&foreign_list).is_empty(), "{foreign_list:?}");
    let missing = decide(&s, &s.pat, "breq_nope", "approve").await;
    assert_eq!(missing.status, 404, "{missing:?}");
}
