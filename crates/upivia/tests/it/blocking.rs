//! The blocking client drives the same wire behaviour through `block_on`.

use serde_json::json;
use upivia::ErrorKind;
use upivia::blocking;
use upivia::models::{ChatTurn, CreateServiceRequest, ListAuditLogs, ServiceRequestOutcome};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// The mock server lives on its own multi-thread runtime, so the test
/// thread itself is outside any runtime, as a blocking caller would be.
fn server() -> (tokio::runtime::Runtime, MockServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    (rt, server)
}

fn blocking_client(server: &MockServer) -> blocking::Client {
    blocking::Client::new(client(server)).unwrap()
}

#[test]
fn blocking_calls_send_the_same_requests() {
    let (rt, server) = server();
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/api/v1/service-requests"))
            .respond_with(json_reply(
                200,
                json!({"status": "executed", "request_id": "r", "cost_cents": 2}),
            ))
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/api/v1/balance"))
            .respond_with(json_reply(
                403,
                json!({"error": {"code": "forbidden", "message": "no"}}),
            ))
            .mount(&server),
    );
    let client = blocking_client(&server);
    let outcome = client
        .service_requests()
        .create(CreateServiceRequest::new("email", "send", json!({})).with_idempotency_key("k"))
        .unwrap();
    assert!(matches!(outcome, ServiceRequestOutcome::Executed(_)));
    let err = client.balance().get(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let sent = rt.block_on(requests(&server));
    assert_eq!(header(&sent[0], "idempotency-key"), Some("k"));
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

#[test]
fn blocking_pagination_is_an_iterator() {
    let (rt, server) = server();
    rt.block_on(
        Mock::given(query_param_is_missing("cursor"))
            .respond_with(json_reply(
                200,
                json!({"logs": [{"id": "a"}, {"id": "b"}], "next_cursor": "c"}),
            ))
            .mount(&server),
    );
    rt.block_on(
        Mock::given(query_param("cursor", "c"))
            .respond_with(json_reply(
                200,
                json!({"logs": [{"id": "c"}], "next_cursor": null}),
            ))
            .mount(&server),
    );
    let client = blocking_client(&server);
    let ids: Vec<String> = client
        .audit_logs()
        .list_all(ListAuditLogs::default())
        .map(|row| row.unwrap().id)
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
}

#[test]
fn blocking_chat_turn_is_an_iterator_of_events() {
    let (rt, server) = server();
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                "event: message_delta\ndata: {\"delta\": \"hi\"}\n\nevent: done\ndata: {}\n\n",
                "text/event-stream",
            ))
            .mount(&server),
    );
    let client = blocking_client(&server);
    let names: Vec<String> = client
        .chat()
        .turn(ChatTurn::new("s").with_message("m"))
        .unwrap()
        .map(|e| e.unwrap().event)
        .collect();
    assert_eq!(names, ["message_delta", "done"]);
    // Sub-resources are reachable the same way as on the async client.
    rt.block_on(
        Mock::given(method("GET"))
            .respond_with(json_reply(200, json!({"run": {"id": "r"}})))
            .mount(&server),
    );
    let run = client.workflows().runs().get("wf", "r").unwrap();
    assert_eq!(run["run"]["id"], "r");
}
