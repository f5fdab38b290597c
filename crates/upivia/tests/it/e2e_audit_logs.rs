//! The audit trail against the real server: pages, cursors, filters, and
//! `list_all` walking every entry exactly once.

use std::collections::HashSet;

use futures::TryStreamExt;
use upivia::ErrorKind;
use upivia::models::{AuditLogEntry, ListAuditLogs};

use crate::e2e_support::{Server, email};

#[tokio::test]
async fn list_all_walks_every_entry_once_newest_first() {
    let server = Server::start();
    let agent = server.funded_agent("email", 100).await;
    for n in 0..7 {
        agent
            .client
            .service_requests()
            .create(email(&format!("audit {n}")))
            .await
            .unwrap();
    }
    let owner = server.owner();

    // Everything in one page, as the reference.
    let everything = owner
        .audit_logs()
        .list(ListAuditLogs::default().with_limit(500))
        .await
        .unwrap();
    assert!(everything.next().is_none());
    let total = everything.items.len();
    assert!(
        total >= 10,
        "credit, agent, binding and 7 requests: {total}"
    );

    // Small pages: a cursor per page, the same rows in the same order.
    let first = owner
        .audit_logs()
        .list(ListAuditLogs::default().with_limit(3))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 3);
    let cursor = first.next().expect("a next cursor").to_owned();
    let second = owner
        .audit_logs()
        .list(ListAuditLogs::default().with_limit(3).with_cursor(cursor))
        .await
        .unwrap();
    assert_eq!(second.items[0].id, everything.items[3].id);

    let walked: Vec<AuditLogEntry> = owner
        .audit_logs()
        .list_all(ListAuditLogs::default().with_limit(3))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = walked.iter().map(|e| e.id.as_str()).collect();
    let expected: Vec<&str> = everything.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        total,
        "no duplicates"
    );
    let seqs: Vec<i64> = walked
        .iter()
        .map(|e| e.extra["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    assert!(walked.iter().all(|e| e.created_at.is_some()));
    assert!(
        walked
            .iter()
            .any(|e| e.event_type.as_deref() == Some("balance.credited"))
    );

    // Filters reach the server: this agent's executed emails only.
    let mine: Vec<AuditLogEntry> = owner
        .audit_logs()
        .list_all(
            ListAuditLogs::default()
                .with_agent_id(&agent.id)
                .with_status("executed")
                .with_limit(2),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(mine.len(), 7, "{mine:?}");
    assert!(
        mine.iter()
            .all(|e| e.extra["agent_id"] == agent.id.as_str())
    );
    assert!(mine.iter().all(|e| e.extra["cost_cents"] == 1));
}

#[tokio::test]
async fn a_forged_cursor_is_a_400() {
    let server = Server::start();
    let err = server
        .owner()
        .audit_logs()
        .list(ListAuditLogs::default().with_cursor("not-a-cursor"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.code(), Some("invalid_request"));
}
