use serde_json::json;

use super::*;

#[test]
fn flags_are_written_as_pinned_and_read_leniently() {
    let usage = ListUsage::default().with_include_chart(true);
    assert_eq!(
        serde_json::to_value(&usage).unwrap(),
        json!({"include_chart": "1"})
    );
    assert_eq!(
        serde_json::to_value(ListUsage::default()).unwrap(),
        json!({})
    );
    let sessions = ListChatSessions::default().with_include_closed(true);
    assert_eq!(
        serde_json::to_value(&sessions).unwrap(),
        json!({"include_closed": "true"})
    );
    for (wire, want) in [
        (json!("1"), true),
        (json!("true"), true),
        (json!(true), true),
        (json!("0"), false),
        (json!("false"), false),
        (json!(0), false),
    ] {
        let parsed: ListUsage = serde_json::from_value(json!({ "include_chart": wire })).unwrap();
        assert_eq!(parsed.include_chart, want, "{wire}");
    }
    let parsed: ListAgentActivity = serde_json::from_value(json!({"type": "audit"})).unwrap();
    assert_eq!(parsed.kind.as_deref(), Some("audit"));
    assert!(!parsed.verify);
}

#[test]
fn chat_turn_leaves_unset_keys_out_and_uses_camel_case_ids() {
    let turn = ChatTurn::new("s1")
        .with_model_id("m")
        .with_local_tools(vec![json!({"name": "local_read_file"})]);
    assert_eq!(
        serde_json::to_value(&turn).unwrap(),
        json!({"sessionId": "s1", "modelId": "m", "local_tools": [{"name": "local_read_file"}]})
    );
}

#[test]
fn bodies_built_from_arguments_send_explicit_nulls() {
    assert_eq!(
        serde_json::to_value(SpawnAgent::new("kid", ["a.b"])).unwrap(),
        json!({"name": "kid", "description": null, "services": ["a.b"], "budget_cents": null, "category": null, "icon": null})
    );
    assert_eq!(
        serde_json::to_value(CreateChatSession::default()).unwrap(),
        json!({"agent_id": null, "model_id": null, "title": null})
    );
    assert_eq!(
        serde_json::to_value(RunWorkflow::default()).unwrap(),
        json!({"workflow_version_id": null, "input": {}, "budget_cents": null, "test_run": null})
    );
    assert_eq!(
        serde_json::to_value(PresignObject::new("f", "text/plain", 3)).unwrap(),
        json!({"filename": "f", "contentType": "text/plain", "sizeBytes": 3})
    );
}

#[test]
fn dollar_budgets_become_cents_and_bad_floats_stay_unset() {
    // Python: round(2.345 * 100) == 235 (the product is 234.50000000000003).
    let spawn = SpawnAgent::new("k", ["a"]).with_budget_dollars(2.345);
    assert_eq!(spawn.budget_cents, Some(Cents::new(235)));
    // Python: round(0.125 * 100) == 12 (an exact tie, to even).
    let spawn = SpawnAgent::new("k", ["a"]).with_budget_dollars(0.125);
    assert_eq!(spawn.budget_cents, Some(Cents::new(12)));
    assert_eq!(
        CreateDelegatedTask::new("o")
            .with_budget_dollars(f64::NAN)
            .budget_cap_cents,
        None
    );
}

#[test]
fn delegation_direction_aliases_are_rewritten() {
    let f = |d: &str| {
        ListDelegatedTasks::default()
            .with_direction(d)
            .direction
            .unwrap()
    };
    assert_eq!(f("incoming"), "received");
    assert_eq!(f("outgoing"), "created");
    assert_eq!(f("created"), "created");
    assert_eq!(f("sideways"), "sideways");
}

#[test]
fn pages_split_items_cursor_and_the_rest() {
    let object = json!({"logs": [{"id": "a", "event_type": "x", "extra": 1}], "nextCursor": "n", "hasMore": true, "stats": {}});
    let object_map = object.as_object().unwrap().clone();
    let page: Page<AuditLogEntry> = Page::from_object(object_map, "logs", "nextCursor").unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].extra.get("extra"), Some(&json!(1)));
    assert_eq!(page.next(), Some("n"));
    assert_eq!(page.has_more, Some(true));
    assert!(page.extra.contains_key("stats"));

    let empty: Page<serde_json::Value> = Page::from_object(
        json!({"next_cursor": ""}).as_object().unwrap().clone(),
        "objects",
        "next_cursor",
    )
    .unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.next(), None);

    let bad = Page::<AuditLogEntry>::from_object(
        json!({"logs": [{"no_id": 1}]}).as_object().unwrap().clone(),
        "logs",
        "c",
    );
    assert!(bad.is_err());
}

#[test]
fn typed_rows_keep_unknown_fields() {
    let trigger: Trigger = serde_json::from_value(
        json!({"id": "t", "kind": "cron", "schedule_expr": "* * * * *", "new": true}),
    )
    .unwrap();
    assert!(!trigger.disabled);
    assert_eq!(trigger.extra.get("new"), Some(&json!(true)));
    let balance: Balance =
        serde_json::from_value(json!({"amount_cents": 12, "currency": "USD", "team_id": "x"}))
            .unwrap();
    assert_eq!(balance.amount_cents, Cents::new(12));
    assert_eq!(balance.extra.get("team_id"), Some(&json!("x")));
    assert!(serde_json::from_value::<Balance>(json!({"amount_cents": 1.5})).is_err());
    let check: BudgetCheck = serde_json::from_value(
        json!({"remaining_dollars": 5.0, "monthly_spent": 1, "status": "executed"}),
    )
    .unwrap();
    assert_eq!(check.remaining_dollars, Some(5.0));
    assert_eq!(check.monthly_spent, Some(1.0));
    assert_eq!(check.extra.get("status"), Some(&json!("executed")));
}

#[test]
fn a_created_trigger_debugs_without_its_secret() {
    let created: CreatedTrigger = serde_json::from_value(json!({
        "trigger": {"id": "trg_1", "kind": "webhook", "disabled": false},
        "secret": "trgsec_do_not_log",
        "fire_url": "http://h/api/v1/triggers/trg_1/fire",
    }))
    .unwrap();
    let text = format!("{created:?}");
    assert!(!text.contains("trgsec_do_not_log"), "{text}");
    assert!(
        text.contains("trg_1") && text.contains("redacted"),
        "{text}"
    );
    assert_eq!(created.secret, "trgsec_do_not_log");
}
