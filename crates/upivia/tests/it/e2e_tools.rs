//! The governed tools against the real server: built from its catalog,
//! each call a real governed request, every outcome a `STATUS:` line.

use serde_json::json;
use upivia::tools::Toolkit;

use crate::e2e_support::{DEFAULT_OPERATIONS, Server};

#[tokio::test]
async fn tools_from_the_real_catalog_report_every_governance_outcome() {
    let server = Server::start();
    server.credit(2).await;
    let agent = server
        .agent_with("email", json!({"approval_threshold_cents": 1}))
        .await;
    let owner = server.owner();
    owner
        .agents()
        .enable_service(
            &agent.id,
            &json!({"service_id": "web_search", "require_approval": true}),
        )
        .await
        .unwrap();
    let toolkit = Toolkit::from_catalog(agent.client.clone()).await;

    for (service, operation) in DEFAULT_OPERATIONS {
        let tool = toolkit
            .get(&format!("{service}_{operation}"))
            .unwrap_or_else(|| panic!("no tool for {service}.{operation}"));
        assert!(
            tool.description.contains("Base price:"),
            "{}",
            tool.description
        );
        assert_eq!(tool.parameters.as_ref().unwrap()["type"], "object");
    }
    assert!(
        toolkit.tools().len() > DEFAULT_OPERATIONS.len(),
        "the server's catalog is larger"
    );
    let email = toolkit.get("email_send").unwrap();
    assert!(
        email.description.contains("Base price: 1 cents."),
        "{}",
        email.description
    );
    assert_eq!(
        email.definition()["parameters"]["required"],
        json!(["to", "subject", "body"])
    );

    let args =
        json!({"to": "ops@example.com", "subject": "Tool call", "body": "From the toolkit."});
    let executed = toolkit.invoke("email_send", args.clone()).await;
    assert!(
        executed.starts_with("STATUS: executed\ncost_cents: 1\n"),
        "{executed}"
    );
    assert!(executed.contains("ops@example.com"), "{executed}");

    let gated = toolkit
        .invoke("web_search_search", json!({"query": "rust"}))
        .await;
    assert!(gated.starts_with("STATUS: approval_required\n"), "{gated}");
    let pending = owner.approvals().list().await.unwrap();
    let approval_id = pending["approvals"][0]["id"].as_str().unwrap();
    assert!(gated.contains(approval_id), "{gated}");

    let unbound = toolkit
        .invoke(
            "discord_send_message",
            json!({"channel_id": "112233445566778899", "content": "hi"}),
        )
        .await;
    assert!(
        unbound.starts_with("STATUS: blocked\nreason_code: service_not_enabled"),
        "{unbound}"
    );

    // One cent left: the second email exhausts it, the third is refused.
    let second = toolkit.invoke("email_send", args.clone()).await;
    assert!(second.starts_with("STATUS: executed"), "{second}");
    let broke = toolkit.invoke("email_send", args).await;
    assert!(
        broke.starts_with("STATUS: blocked\nreason_code: insufficient_balance"),
        "{broke}"
    );

    let invalid = toolkit.invoke("email_send", json!({"to": "nobody"})).await;
    assert!(invalid.starts_with("STATUS: error\n"), "{invalid}");
    assert!(invalid.contains("\"http_status\":422"), "{invalid}");

    let budget = toolkit
        .invoke("platform_check_budget", json!({"agent_id": agent.id}))
        .await;
    assert!(
        budget.starts_with("STATUS: executed\ncost_cents: 0\n"),
        "{budget}"
    );
    assert!(budget.contains("\"remaining_cents\":0"), "{budget}");
}
