//! `run_and_wait` (API.md §1.15).

use std::time::Duration;

use serde_json::json;
use upivia::models::RunWorkflow;
use upivia::{ErrorKind, WaitOptions};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::support::*;

fn fast_wait() -> WaitOptions {
    WaitOptions::default().with_poll_interval(Duration::from_millis(5))
}

#[tokio::test]
async fn run_and_wait_runs_the_published_version_and_polls_to_completion() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/workflows/wf_1"))
        .respond_with(json_reply(200, json!({"workflow": {"id": "wf_1"}, "versions": [{"id": "v_draft", "status": "draft"}, {"id": "v_pub", "status": "published"}]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/workflows/wf_1/runs"))
        .respond_with(json_reply(
            201,
            json!({"run": {"id": "run_1", "status": "pending"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/workflows/wf_1/runs/run_1"))
        .respond_with(json_reply(
            200,
            json!({"run": {"id": "run_1", "status": "waiting_approval"}}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/workflows/wf_1/runs/run_1"))
        .respond_with(json_reply(
            200,
            json!({"run": {"id": "run_1", "status": "completed", "steps": []}}),
        ))
        .mount(&server)
        .await;
    let run = client(&server)
        .workflows()
        .run_and_wait(
            "wf_1",
            RunWorkflow::new().with_input(json!({"x": 1})),
            fast_wait(),
        )
        .await
        .unwrap();
    assert_eq!(run.id, "run_1");
    assert_eq!(run.status, "completed");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 4);
    let body: serde_json::Value = sent[1].body_json().unwrap();
    assert_eq!(
        body,
        json!({"workflow_version_id": "v_pub", "input": {"x": 1}, "budget_cents": null, "test_run": null})
    );
}

#[tokio::test]
async fn run_and_wait_with_a_version_skips_the_lookup_and_returns_a_terminal_start() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            201,
            json!({"run": {"id": "run_2", "status": "failed", "error": "boom"}}),
        ),
    )
    .await;
    let run = client(&server)
        .workflows()
        .run_and_wait(
            "wf_1",
            RunWorkflow::new()
                .with_version_id("v_9")
                .with_test_run(true),
            fast_wait(),
        )
        .await
        .unwrap();
    assert_eq!(run.status, "failed");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method.as_str(), "POST");
}

#[tokio::test]
async fn run_and_wait_without_a_published_version_fails_before_running() {
    let server = MockServer::start().await;
    reply_all(
        &server,
        json_reply(
            200,
            json!({"workflow": {}, "versions": [{"id": "v", "status": "draft"}]}),
        ),
    )
    .await;
    let err = client(&server)
        .workflows()
        .run_and_wait("wf_1", RunWorkflow::new(), fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(requests(&server).await.len(), 1);
}
