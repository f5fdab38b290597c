use serde_json::json;

use super::*;

#[test]
fn each_status_decodes_to_its_variant_and_keeps_extra_keys() {
    let cases = [
        (
            json!({"status": "executed", "request_id": "req_1", "result": {"id": "m"}, "cost_cents": 3, "new_key": 1}),
            "executed",
        ),
        (
            json!({"status": "blocked", "request_id": "req_2", "reason_code": "policy_block", "message": "no"}),
            "blocked",
        ),
        (
            json!({"status": "approval_required", "request_id": "req_3", "approval_id": "appr_1", "estimated_cost_cents": 50, "expires_at": "2026-01-01T00:00:00Z"}),
            "approval_required",
        ),
        (
            json!({"status": "failed", "request_id": "req_4", "reason_code": "adapter_error", "message": "x"}),
            "failed",
        ),
        (
            json!({"status": "running", "request_id": "req_5", "initial_cost_cents": 10, "provider": "p", "external_id": "e"}),
            "running",
        ),
    ];
    for (wire, status) in cases {
        let outcome: ServiceRequestOutcome = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(outcome.status(), Some(status));
        assert!(
            !matches!(outcome, ServiceRequestOutcome::Unknown(_)),
            "{status}"
        );
        // Round trip: the wire object comes back identical.
        assert_eq!(serde_json::to_value(&outcome).unwrap(), wire);
    }
}

#[test]
fn executed_fields_are_typed() {
    let outcome = ServiceRequestOutcome::from_value(json!({
        "status": "executed", "request_id": "req_1", "result": {"ok": true}, "cost_cents": 3, "later": "x"
    }))
    .unwrap();
    let ServiceRequestOutcome::Executed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.request_id, "req_1");
    assert_eq!(e.cost_cents, Some(Cents::new(3)));
    assert_eq!(e.result, json!({"ok": true}));
    assert_eq!(e.extra.get("later"), Some(&json!("x")));
    assert!(!e.extra.contains_key("status"));
}

#[test]
fn unknown_status_is_kept_whole() {
    let wire = json!({"status": "queued_for_mars", "request_id": "req_9", "eta": 3});
    let outcome = ServiceRequestOutcome::from_value(wire.clone()).unwrap();
    assert_eq!(outcome.status(), Some("queued_for_mars"));
    assert_eq!(outcome.request_id(), Some("req_9"));
    assert!(!outcome.is_terminal());
    assert_eq!(outcome.to_value().unwrap(), wire);
}

#[test]
fn missing_status_is_unknown() {
    let outcome = ServiceRequestOutcome::from_value(json!({"request_id": "r"})).unwrap();
    assert!(matches!(
        outcome,
        ServiceRequestOutcome::Unknown(UnknownOutcome { status: None, .. })
    ));
}

#[test]
fn reject_reply_without_reason_still_decodes_as_blocked() {
    let outcome =
        ServiceRequestOutcome::from_value(json!({"status": "blocked", "request_id": "r"})).unwrap();
    assert!(matches!(
        outcome,
        ServiceRequestOutcome::Blocked(BlockedOutcome {
            reason_code: None,
            ..
        })
    ));
    assert!(outcome.is_terminal());
}

#[test]
fn malformed_known_status_is_an_error_not_a_panic() {
    assert!(ServiceRequestOutcome::from_value(json!({"status": "executed"})).is_err());
    assert!(
        ServiceRequestOutcome::from_value(json!({"status": "executed", "request_id": 5})).is_err()
    );
    assert!(ServiceRequestOutcome::from_value(json!([1, 2])).is_err());
    assert!(ServiceRequestOutcome::from_value(json!("executed")).is_err());
}

#[test]
fn create_body_sends_null_metadata_and_the_key() {
    let body =
        CreateServiceRequest::new("email", "send", json!({"to": "a@b"})).with_idempotency_key("k1");
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"service": "email", "operation": "send", "payload": {"to": "a@b"}, "metadata": null, "idempotency_key": "k1"})
    );
}

#[test]
fn budget_check_body_is_the_meta_operation() {
    assert_eq!(
        serde_json::to_value(BudgetCheckRequest::new("agt_1")).unwrap(),
        json!({"service": "platform", "operation": "check_budget", "payload": {"agent_id": "agt_1"}})
    );
}
