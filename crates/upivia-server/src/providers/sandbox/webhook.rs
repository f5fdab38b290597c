//! Sandbox `notification.webhook`: enforces the host allow-list and the
//! request rules a real delivery does (`providers/webhook.rs`: HTTPS unless
//! the host is listed as `http://`, no credentials in the URL, no
//! hop-by-hop, signature or injected headers, bounded body), then reports a
//! successful first-attempt delivery without sending anything.

use serde_json::json;

use super::{Ctx, Input};
use crate::providers::hosts::AllowList;
use crate::providers::webhook::{WebhookRequest, delivery_id};
use crate::providers::{Execution, ProviderError};

pub(super) fn deliver(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let hosts = AllowList::parse(&ctx.config.webhook_allowed_hosts).map_err(|e| ctx.invalid(e))?;
    let request = WebhookRequest::parse(input.map, &hosts)?;
    ctx.done(json!({
        "delivery_id": delivery_id(ctx.request_id),
        "url": request.url.as_str(),
        "method": request.method,
        "status_code": 200,
        "attempts": 1,
        "delivered_at": ctx.timestamp()?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::providers::ProviderError;
    use crate::providers::sandbox::SandboxConfig;
    use crate::providers::sandbox::tests::{completed, run, run_with_config};

    fn adapter_message(outcome: Result<crate::providers::Execution, ProviderError>) -> String {
        match outcome {
            Err(ProviderError::Adapter(m)) => m,
            other => panic!("expected an adapter error, got {other:?}"),
        }
    }

    fn with_hosts(hosts: &[&str]) -> SandboxConfig {
        SandboxConfig {
            webhook_allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..SandboxConfig::default()
        }
    }

    #[tokio::test]
    async fn delivers_to_allowed_hosts_only() {
        let ok = run(
            "notification",
            "webhook",
            json!({"url": "https://hooks.example.com/x", "body": {"a": 1}}),
        )
        .await
        .unwrap();
        let (result, cost) = completed(&ok);
        assert_eq!(result["method"], "POST");
        assert_eq!(result["status_code"], 200);
        assert_eq!(cost.get(), 1);
        let message = adapter_message(
            run(
                "notification",
                "webhook",
                json!({"url": "https://hooks.slack.com/x"}),
            )
            .await,
        );
        assert!(message.contains("allow-list"), "{message}");

        run_with_config(
            with_hosts(&["hooks.slack.com"]),
            "notification",
            "webhook",
            json!({"url": "https://hooks.slack.com/x"}),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn plain_http_needs_an_http_entry() {
        let payload = json!({"url": "http://127.0.0.1:8080/x"});
        let config = with_hosts(&["127.0.0.1"]);
        let message = adapter_message(
            run_with_config(config, "notification", "webhook", payload.clone()).await,
        );
        assert!(message.contains("https"), "{message}");
        run_with_config(
            with_hosts(&["http://127.0.0.1"]),
            "notification",
            "webhook",
            payload,
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn refuses_unsafe_requests() {
        let cases: Vec<Value> = vec![
            json!({"url": "http://hooks.example.com/x"}),
            json!({"url": "https://user:pw@hooks.example.com/x"}),
            json!({"url": "https://hooks.example.com/x", "method": "GET"}),
            json!({"url": "https://hooks.example.com/x", "method": "post"}),
            json!({"url": "https://hooks.example.com/x", "headers": {"Host": "internal"}}),
            json!({"url": "https://hooks.example.com/x", "headers": {"Webhook-Signature": "v1,forged"}}),
            json!({"url": "https://hooks.example.com/x", "headers": {"X-A": "b\r\nX-Injected: 1"}}),
            json!({"url": "https://hooks.example.com/x", "headers": {"Bad Name": "v"}}),
            json!({"url": "https://hooks.example.com/x", "headers": {"X-N": 1}}),
            json!({"url": "https://hooks.example.com/x", "body": "x".repeat(300 * 1024)}),
            json!({"url": "not a url"}),
            json!({}),
        ];
        for payload in cases {
            adapter_message(run("notification", "webhook", payload).await);
        }
    }
}
