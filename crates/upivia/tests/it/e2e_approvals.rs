//! The approval gate against the real server: a gated request parks
//! without charge, shows in the queue, and is decided exactly once.

use serde_json::{Value, json};
use upivia::ErrorKind;
use upivia::models::ServiceRequestOutcome;

use crate::e2e_support::{Server, email};

fn pending_ids(list: &Value) -> Vec<String> {
    list["approvals"]
        .as_array()
        .expect("approvals array")
        .iter()
        .map(|a| a["id"].as_str().expect("approval id").to_owned())
        .collect()
}

#[tokio::test]
async fn an_approved_request_executes_once_and_a_second_decision_is_409() {
    let server = Server::start();
    server.credit(100).await;
    let agent = server
        .agent_with("email", json!({"require_approval": true}))
        .await;
    let owner = server.owner();

    let gated = agent
        .client
        .service_requests()
        .create(email("needs a human"))
        .await
        .unwrap();
    let ServiceRequestOutcome::ApprovalRequired(gate) = &gated else {
        panic!("expected approval_required, got {gated:?}")
    };
    assert!(!gate.approval_id.is_empty());
    assert_eq!(gate.estimated_cost_cents.map(|c| c.get()), Some(1));
    assert!(gate.expires_at.is_some());
    // Parked: nothing charged, nothing reserved.
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        100
    );

    let listed = owner.approvals().list().await.unwrap();
    assert_eq!(pending_ids(&listed), vec![gate.approval_id.clone()]);
    let row = &listed["approvals"][0];
    assert_eq!(row["request_id"], gate.request_id.as_str());
    assert_eq!(row["agent_id"], agent.id.as_str());
    assert_eq!(row["service"], "email");
    assert_eq!(row["status"], "pending");

    let approved = owner.approvals().approve(&gate.approval_id).await.unwrap();
    let ServiceRequestOutcome::Executed(done) = &approved else {
        panic!("expected executed, got {approved:?}")
    };
    assert_eq!(done.request_id, gate.request_id);
    assert_eq!(done.cost_cents.map(|c| c.get()), Some(1));
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        99
    );

    // The agent sees the same outcome.
    let seen = agent
        .client
        .service_requests()
        .get(&gate.request_id)
        .await
        .unwrap();
    assert_eq!(seen.status(), Some("executed"));

    for second in [
        owner.approvals().approve(&gate.approval_id).await,
        owner.approvals().reject(&gate.approval_id).await,
    ] {
        let err = second.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Http, "{err:?}");
        assert_eq!(err.status(), Some(409));
        assert_eq!(err.code(), Some("approval_already_decided"));
    }
    assert!(pending_ids(&owner.approvals().list().await.unwrap()).is_empty());
    // Still charged exactly once.
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        99
    );
}

#[tokio::test]
async fn a_rejected_request_ends_blocked_and_cannot_be_approved_later() {
    let server = Server::start();
    server.credit(100).await;
    let agent = server
        .agent_with("email", json!({"approval_threshold_cents": 0}))
        .await;
    let owner = server.owner();

    let gated = agent
        .client
        .service_requests()
        .create(email("over the threshold"))
        .await
        .unwrap();
    let ServiceRequestOutcome::ApprovalRequired(gate) = &gated else {
        panic!("expected approval_required, got {gated:?}")
    };

    let rejected = owner.approvals().reject(&gate.approval_id).await.unwrap();
    let ServiceRequestOutcome::Blocked(blocked) = &rejected else {
        panic!("expected blocked, got {rejected:?}")
    };
    assert_eq!(blocked.request_id, gate.request_id);
    assert_eq!(blocked.reason_code.as_deref(), Some("approval_rejected"));

    let err = owner
        .approvals()
        .approve(&gate.approval_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err:?}");
    assert_eq!(err.code(), Some("approval_already_decided"));
    let seen = agent
        .client
        .service_requests()
        .get(&gate.request_id)
        .await
        .unwrap();
    assert_eq!(seen.status(), Some("blocked"));
    assert_eq!(
        owner.balance().get(None).await.unwrap().amount_cents.get(),
        100
    );

    let unknown = owner.approvals().approve("apr_nope").await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Http);
    assert_eq!(unknown.status(), Some(404));
}
