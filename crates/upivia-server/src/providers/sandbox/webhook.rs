//! Sandbox `notification.webhook`: enforces the host allow-list and the
//! request rules a real delivery would (HTTPS only, no credentials in the
//! URL, no hop-by-hop or injected headers, bounded body), then reports a
//! successful first-attempt delivery without sending anything.

use serde_json::json;
use url::Url;

use super::{Ctx, Input};
use crate::providers::{Execution, ProviderError};

const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 50;
const MAX_HEADER_VALUE: usize = 8192;
/// Set by the HTTP client from the request itself; letting a payload set
/// them would allow request smuggling or confuse the receiver.
const RESERVED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
];

/// Whether `host` may receive webhooks. Entries are exact host names or
/// `*.domain`; with no entries only reserved test domains are allowed.
pub(super) fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if allowed.is_empty() {
        return host.ends_with(".example.com") || host.ends_with(".test");
    }
    allowed.iter().any(|entry| {
        let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            None => !entry.is_empty() && host == entry,
        }
    })
}

/// An HTTP token (RFC 9110 §5.6.2).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(super) fn deliver(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Execution, ProviderError> {
    let raw = input.text("url", 1, 2048)?;
    let url =
        Url::parse(raw).map_err(|e| input.invalid(format_args!("`url` is not a URL: {e}")))?;
    if url.scheme() != "https" {
        return Err(input.invalid("`url` must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            input.invalid("`url` must not carry credentials; send them in `headers` instead")
        );
    }
    let host = url.host_str().unwrap_or_default();
    if !host_allowed(host, &ctx.config.webhook_allowed_hosts) {
        let rule = if ctx.config.webhook_allowed_hosts.is_empty() {
            "hosts ending in .example.com or .test".to_owned()
        } else {
            ctx.config.webhook_allowed_hosts.join(", ")
        };
        return Err(input.invalid(format_args!(
            "host {host:?} is not on the webhook allow-list ({rule})"
        )));
    }
    let method = input.opt_str("method")?.unwrap_or("POST");
    if !matches!(method, "POST" | "PUT" | "PATCH") {
        return Err(input.invalid(format_args!(
            "`method` must be POST, PUT or PATCH, not {method:?}"
        )));
    }
    if let Some(headers) = input.opt_object("headers")? {
        if headers.len() > MAX_HEADERS {
            return Err(input.invalid(format_args!("at most {MAX_HEADERS} headers")));
        }
        for (name, value) in headers {
            if !is_header_name(name) {
                return Err(input.invalid(format_args!("{name:?} is not a valid header name")));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(input.invalid(format_args!(
                    "header {name:?} is set by the platform and cannot be overridden"
                )));
            }
            let Some(value) = value.as_str() else {
                return Err(input.invalid(format_args!("header {name:?} must be a string")));
            };
            if value.contains(['\r', '\n', '\0']) || value.len() > MAX_HEADER_VALUE {
                return Err(input.invalid(format_args!(
                    "header {name:?} must be one line of at most {MAX_HEADER_VALUE} bytes"
                )));
            }
        }
    }
    if let Some(body) = input.get("body") {
        let size = serde_json::to_vec(body)
            .map_err(|e| input.invalid(format_args!("`body` cannot be serialised: {e}")))?
            .len();
        if size > MAX_BODY_BYTES {
            return Err(input.invalid(format_args!(
                "`body` is {size} bytes as JSON; the limit is {MAX_BODY_BYTES}"
            )));
        }
    }
    ctx.done(json!({
        "delivery_id": ctx.id("whd"),
        "url": url.as_str(),
        "method": method,
        "status_code": 200,
        "attempts": 1,
        "delivered_at": ctx.timestamp()?,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::host_allowed;
    use crate::providers::ProviderError;
    use crate::providers::sandbox::SandboxConfig;
    use crate::providers::sandbox::tests::{completed, run, run_with_config};

    fn adapter_message(outcome: Result<crate::providers::Execution, ProviderError>) -> String {
        match outcome {
            Err(ProviderError::Adapter(m)) => m,
            other => panic!("expected an adapter error, got {other:?}"),
        }
    }

    #[test]
    fn default_allow_list_is_reserved_test_domains() {
        assert!(host_allowed("hooks.example.com", &[]));
        assert!(host_allowed("HOOKS.Example.COM.", &[]));
        assert!(host_allowed("ci.test", &[]));
        assert!(!host_allowed("example.com.evil.net", &[]));
        assert!(!host_allowed("evilexample.com", &[]));
        assert!(!host_allowed("hooks.slack.com", &[]));
    }

    #[test]
    fn configured_allow_list_matches_exact_hosts_and_wildcards() {
        let allowed = vec!["hooks.acme.io".to_owned(), "*.partner.net".to_owned()];
        assert!(host_allowed("hooks.acme.io", &allowed));
        assert!(!host_allowed("api.acme.io", &allowed));
        assert!(host_allowed("a.b.partner.net", &allowed));
        assert!(!host_allowed("partner.net", &allowed));
        assert!(!host_allowed("evilpartner.net", &allowed));
        // A configured list replaces the default one.
        assert!(!host_allowed("hooks.example.com", &allowed));
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

        let config = SandboxConfig {
            webhook_allowed_hosts: vec!["hooks.slack.com".to_owned()],
            ..SandboxConfig::default()
        };
        run_with_config(
            config,
            "notification",
            "webhook",
            json!({"url": "https://hooks.slack.com/x"}),
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
