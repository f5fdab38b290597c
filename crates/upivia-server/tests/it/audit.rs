//! The audit trail: every decision recorded, paginated, and tamper-evident.

use std::collections::BTreeSet;

use serde_json::json;

use crate::support::{TestServer, email};

#[tokio::test]
async fn every_decision_appends_an_entry_with_its_status() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    s.request(&agent, "email", "send", email()).await;
    s.request(
        &agent,
        "sms",
        "send",
        json!({"to": "+15555550123", "from": "+15555550100", "body": "x"}),
    )
    .await;
    let r = s
        .get(&format!("/api/v1/audit-logs?agent_id={}", agent.id), &s.pat)
        .await;
    let types: Vec<&str> = r.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "service_request.blocked",
            "service_request.executed",
            "binding.enabled",
            "agent.created"
        ]
    );
    let blocked = &r.body["logs"][0];
    assert_eq!(blocked["status"], "blocked");
    assert_eq!(blocked["details"]["reason_code"], "service_not_enabled");
    assert_eq!(r.body["logs"][1]["cost_cents"], 1);

    let only_blocked = s.get("/api/v1/audit-logs?status=blocked", &s.pat).await;
    assert_eq!(only_blocked.body["logs"].as_array().unwrap().len(), 1);
    let email_only = s.get("/api/v1/audit-logs?service=email", &s.pat).await;
    assert_eq!(email_only.body["logs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cursor_pages_walk_every_entry_once_in_a_stable_order() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..9 {
        s.request(&agent, "email", "send", email()).await;
    }
    let all = s.get("/api/v1/audit-logs?limit=500", &s.pat).await;
    let expected: Vec<String> = all.body["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected.len() >= 12);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit-logs?limit=4&cursor={c}"),
            None => "/api/v1/audit-logs?limit=4".to_owned(),
        };
        let page = s.get(&path, &s.pat).await;
        assert_eq!(page.status, 200);
        for l in page.body["logs"].as_array().unwrap() {
            seen.push(l["id"].as_str().unwrap().to_owned());
        }
        // New entries appended meanwhile must not shift the pages.
        s.request(&agent, "email", "send", email()).await;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), seen.len());
    let bad = s.get("/api/v1/audit-logs?cursor=bogus", &s.pat).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn the_chain_verifies_and_an_edited_row_is_caught() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..5 {
        s.request(&agent, "email", "send", email()).await;
    }
    let ok = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(ok.body["ok"], true, "{ok:?}");
    let checked = ok.body["entries_checked"].as_i64().unwrap();
    assert!(checked >= 8);

    // An attacker with database access lowers a recorded cost.
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM audit_log WHERE event_type = 'service_request.executed' ORDER BY seq LIMIT 1 OFFSET 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute("UPDATE audit_log SET cost_cents = 0 WHERE seq = ?1", [seq])
        .unwrap();
    drop(conn);

    let broken = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_break"]["seq"], seq);
    assert_eq!(broken.body["entries_checked"], seq - 1);
}

#[tokio::test]
async fn deleting_a_row_is_caught_too() {
    let s = TestServer::start().await;
    let agent = s.funded_agent("email", 100).await;
    for _ in 0..3 {
        s.request(&agent, "email", "send", email()).await;
    }
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    drop(conn);
    let broken = s.get("/api/v1/admin/audit/verify", &s.pat).await;
    assert_eq!(broken.body["ok"], false);
    assert_eq!(broken.body["first_break"]["seq"], 4);
}
