use serde_json::{Value, json};

use super::*;

fn catalog() -> Value {
    json!({"services": [
        {"id": "email", "name": "Email", "description": "Send email.", "operations": [
            {"name": "send", "description": "Send one email.", "base_price_cents": 1,
             "pricing_type": "flat",
             "input_schema": {"type": "object", "properties": {"to": {"type": "string"}}, "required": ["to"]}}
        ]},
        {"id": "text_generation", "description": "LLMs.", "operations": [
            {"name": "generate", "base_price_cents": 2, "pricing_type": "metered", "input_schema": {"type": "object"}}
        ]},
        {"name": "no id, skipped", "operations": [{"name": "x"}]},
        {"id": "web_search", "operations": [{"description": "no name, skipped"}, {"id": "search"}]}
    ]})
}

#[test]
fn the_catalog_gives_one_tool_per_operation_with_price_and_schema() {
    let tools = tools_from_catalog(&catalog());
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "email_send",
            "text_generation_generate",
            "web_search_search"
        ]
    );

    let email = &tools[0];
    assert_eq!(
        (email.service.as_str(), email.operation.as_str()),
        ("email", "send")
    );
    assert_eq!(
        email.description,
        "Upivia governed operation email.send. Send one email. Base price: 1 cents."
    );
    assert_eq!(
        email.parameters.as_ref().unwrap()["required"],
        json!(["to"])
    );

    // No operation description: the service's; metered prices say so.
    assert_eq!(
        tools[1].description,
        "Upivia governed operation text_generation.generate. LLMs. Base price: 2 cents per unit (metered)."
    );
    // No description and no price: the bare sentence, and no schema.
    assert_eq!(
        tools[2].description,
        "Upivia governed operation web_search.search."
    );
    assert_eq!(tools[2].parameters, None);
}

#[test]
fn replies_of_another_shape_give_no_tools() {
    for reply in [
        json!(null),
        json!([]),
        json!({"services": {}}),
        json!({"services": []}),
    ] {
        assert!(tools_from_catalog(&reply).is_empty(), "{reply}");
    }
}

#[test]
fn the_default_tools_are_the_reference_eleven() {
    let tools = default_tools();
    assert_eq!(tools.len(), 11);
    assert_eq!(tools[0].name, "email_send");
    assert_eq!(tools[10].name, "platform_check_budget");
    assert!(
        tools
            .iter()
            .all(|t| t.parameters.is_none() && !t.description.is_empty())
    );
    assert_eq!(Tool::new("a", "b", "").description, "Upivia service: a.b");
}

#[test]
fn a_definition_is_name_description_and_parameters() {
    let tool = Tool::new("email", "send", "Send.")
        .with_parameters(json!({"type": "object", "properties": {"to": {}}}));
    assert_eq!(
        tool.definition(),
        json!({"name": "email_send", "description": "Send.", "parameters": {"type": "object", "properties": {"to": {}}}})
    );
    assert_eq!(
        Tool::new("x", "post", "P").definition()["parameters"]["type"],
        "object"
    );
}

#[test]
fn every_status_renders_with_its_status_line_first() {
    let cases = [
        (
            json!({"status": "executed", "result": {"id": "m1"}, "cost_cents": 3}),
            "executed",
            "cost_cents: 3",
        ),
        (
            json!({"status": "approval_required", "approval_id": "appr_1", "estimated_cost_cents": 25}),
            "approval_required",
            "approval_id: appr_1",
        ),
        (
            json!({"status": "blocked", "reason_code": "policy_block", "message": "no"}),
            "blocked",
            "reason_code: policy_block",
        ),
        (
            json!({"status": "failed", "message": "x"}),
            "failed",
            "message: x",
        ),
        (
            json!({"status": "running", "request_id": "r"}),
            "running",
            "request_id: r",
        ),
        (
            json!({"status": "error", "kind": "network"}),
            "error",
            "\"kind\":\"network\"",
        ),
        (
            json!({"status": "paused_for_lunch"}),
            "paused_for_lunch",
            "paused_for_lunch",
        ),
        (json!({}), "unknown", "{}"),
    ];
    for (result, status, detail) in cases {
        let text = format_tool_result(&result);
        assert_eq!(
            text.lines().next(),
            Some(format!("STATUS: {status}").as_str()),
            "{text}"
        );
        assert!(text.contains(detail), "{text}");
    }
    let executed =
        format_tool_result(&json!({"status": "executed", "result": {"id": "m1"}, "cost_cents": 3}));
    assert_eq!(
        executed,
        "STATUS: executed\ncost_cents: 3\nresult: {\"id\":\"m1\"}"
    );
}

fn client_without_key() -> Client {
    Client::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap()
}

#[tokio::test]
async fn calls_that_cannot_be_sent_are_error_results_not_errors() {
    let toolkit = Toolkit::offline(client_without_key());
    assert_eq!(toolkit.tools().len(), 11);
    assert_eq!(toolkit.definitions().len(), 11);

    let unknown = toolkit.call("teleport_now", json!({})).await;
    assert_eq!(unknown["status"], "error");
    assert_eq!(unknown["kind"], "unknown_tool");

    for bad in [json!([1, 2]), json!(7), json!("not json"), json!("[1]")] {
        let text = toolkit.invoke("email_send", bad.clone()).await;
        assert!(text.starts_with("STATUS: error\n"), "{bad}: {text}");
        assert!(text.contains("invalid_arguments"), "{text}");
    }

    // No agent key: the SDK refuses before sending, reported as an error.
    let text = toolkit
        .invoke("email_send", json!("{\"to\": \"a@b.co\"}"))
        .await;
    assert!(text.starts_with("STATUS: error\n"), "{text}");
    assert!(text.contains("\"kind\":\"unauthorized\""), "{text}");
}
