//! Cursor iteration over real replies (API.md §1.10).

use futures::TryStreamExt;
use serde_json::json;
use upivia::models::{ListAgentActivity, ListAuditLogs, PageQuery};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

use crate::support::*;

#[tokio::test]
async fn audit_logs_list_all_follows_next_cursor_and_keeps_filters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/audit-logs"))
        .and(query_param_is_missing("cursor"))
        .respond_with(json_reply(200, json!({"logs": [{"id": "l1", "event_type": "e", "created_at": "t"}], "next_cursor": "c1"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/audit-logs"))
        .and(query_param("cursor", "c1"))
        .respond_with(json_reply(
            200,
            json!({"logs": [{"id": "l2"}], "next_cursor": null}),
        ))
        .mount(&server)
        .await;
    let rows: Vec<_> = client(&server)
        .audit_logs()
        .list_all(ListAuditLogs::default().with_service("email").with_limit(1))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["l1", "l2"]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert!(r.url.query().unwrap().contains("service=email"));
        assert!(r.url.query().unwrap().contains("limit=1"));
    }
}

#[tokio::test]
async fn activity_iter_follows_the_camel_case_cursor() {
    let server = MockServer::start().await;
    Mock::given(query_param_is_missing("cursor"))
        .respond_with(json_reply(200, json!({"logs": [{"id": 1}], "nextCursor": "n1", "hasMore": true, "next_cursor": "wrong"})))
        .mount(&server)
        .await;
    Mock::given(query_param("cursor", "n1"))
        .respond_with(json_reply(
            200,
            json!({"logs": [{"id": 2}], "nextCursor": null, "hasMore": false}),
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let page = client
        .agents()
        .activity("agt_1", ListAgentActivity::default())
        .await
        .unwrap();
    assert_eq!(page.next_cursor.as_deref(), Some("n1"));
    assert_eq!(page.has_more, Some(true));
    let rows: Vec<_> = client
        .agents()
        .activity_iter("agt_1", ListAgentActivity::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, [json!({"id": 1}), json!({"id": 2})]);
}

#[tokio::test]
async fn a_server_repeating_its_cursor_is_stopped_by_the_loop_guard() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            200,
            json!({"triggers": [{"id": "trg_1"}], "next_cursor": "same"}),
        ),
    )
    .await;
    let rows: Vec<_> = client(&server)
        .triggers()
        .list_all(PageQuery::default())
        .try_collect()
        .await
        .unwrap();
    // First page, the page for "same", and one duplicate page before stopping.
    assert_eq!(rows.len(), 3);
    let cursors: Vec<Option<String>> = requests(&server)
        .await
        .iter()
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "cursor")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(
        cursors,
        [None, Some("same".to_owned()), Some("same".to_owned())]
    );
}

#[tokio::test]
async fn an_empty_page_or_empty_cursor_ends_iteration() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(200, json!({"objects": [], "next_cursor": "more"})),
    )
    .await;
    let rows: Vec<_> = client(&server)
        .storage()
        .objects()
        .list_all(PageQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(requests(&server).await.len(), 1);

    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            200,
            json!({"collections": [{"id": "c"}], "next_cursor": ""}),
        ),
    )
    .await;
    let rows: Vec<_> = client(&server)
        .knowledge()
        .collections()
        .list_all(PageQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn an_error_mid_iteration_is_yielded() {
    let server = MockServer::start().await;
    Mock::given(query_param_is_missing("cursor"))
        .respond_with(json_reply(
            200,
            json!({"logs": [{"id": "a"}], "next_cursor": "c"}),
        ))
        .mount(&server)
        .await;
    Mock::given(query_param("cursor", "c"))
        .respond_with(json_reply(
            404,
            json!({"error": {"code": "not_found", "message": "gone"}}),
        ))
        .mount(&server)
        .await;
    let result: Result<Vec<_>, _> = client(&server)
        .audit_logs()
        .list_all(ListAuditLogs::default())
        .try_collect()
        .await;
    assert_eq!(result.unwrap_err().code(), Some("not_found"));
}
