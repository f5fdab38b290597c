//! Governed tools for LLM agents (feature `tools`, on by default).
//!
//! A [`Toolkit`] turns the service catalog into one [`Tool`] per
//! operation, named `<service>_<operation>`, described with its price, and
//! taking the operation's `input_schema` as its parameters. Calling a tool
//! is a governed service request, so every call goes through policy,
//! budget, approval and audit on the server.
//!
//! [`Toolkit::invoke`] never fails: every answer, a governance outcome or
//! an error alike, is text whose first line is `STATUS: <status>`
//! (`executed`, `approval_required`, `blocked`, `failed`, `running` or
//! `error`), so an agent loop can read a budget stop or an approval pause
//! and carry on instead of crashing. This mirrors the reference SDK's
//! LangGraph integration.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use serde_json::json;
//! use upivia::tools::Toolkit;
//!
//! let client = upivia::Client::from_env()?;
//! let toolkit = Toolkit::from_catalog(client).await;
//! for tool in toolkit.tools() {
//!     // Hand `tool.definition()` to the model as a function it may call.
//!     println!("{}: {}", tool.name, tool.description);
//! }
//! let text = toolkit
//!     .invoke("email_send", json!({"to": "a@example.com", "subject": "Hi", "body": "..."}))
//!     .await;
//! assert!(text.starts_with("STATUS: "));
//! # Ok(()) }
//! ```

use serde_json::{Map, Value, json};

use crate::client::Client;
use crate::models::CreateServiceRequest;

/// The operations a toolkit falls back to when the catalog is unreachable
/// or empty: `(service, operation, description)`, as in the reference SDK.
pub const DEFAULT_OPERATIONS: [(&str, &str, &str); 11] = [
    (
        "email",
        "send",
        "Send an email via Upivia's governed pipeline.",
    ),
    (
        "text_generation",
        "generate",
        "Generate text via an LLM through Upivia.",
    ),
    ("web_search", "search", "Search the web via Upivia."),
    (
        "discord",
        "send_message",
        "Send a message to a Discord channel.",
    ),
    ("reddit", "submit_post", "Submit a post to Reddit."),
    ("bluesky", "post", "Post to Bluesky."),
    ("x", "post", "Post to X (Twitter)."),
    ("mastodon", "post", "Post to Mastodon."),
    ("github", "create_issue", "Create a GitHub issue."),
    ("notion", "create_page", "Create a Notion page."),
    (
        "platform",
        "check_budget",
        "Check the agent's remaining budget.",
    ),
];

/// One governed operation offered to a model as a callable tool.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    /// `<service>_<operation>`, e.g. `email_send`.
    pub name: String,
    /// Catalog service id.
    pub service: String,
    /// Operation within the service.
    pub operation: String,
    /// What the tool does, with its price when the catalog gave one.
    pub description: String,
    /// The operation's `input_schema` (a JSON Schema object), when known.
    pub parameters: Option<Value>,
}

impl Tool {
    /// A tool for `service.operation`; an empty description becomes
    /// `Upivia service: <service>.<operation>`.
    pub fn new(
        service: impl Into<String>,
        operation: impl Into<String>,
        description: impl Into<String>,
    ) -> Tool {
        let service = service.into();
        let operation = operation.into();
        let mut description = description.into();
        if description.is_empty() {
            description = format!("Upivia service: {service}.{operation}");
        }
        Tool {
            name: format!("{service}_{operation}"),
            service,
            operation,
            description,
            parameters: None,
        }
    }

    /// Sets the parameters' JSON Schema.
    pub fn with_parameters(mut self, schema: Value) -> Tool {
        self.parameters = Some(schema);
        self
    }

    /// The tool as a function definition, `{name, description,
    /// parameters}`, the shape model APIs (and most agent frameworks) take.
    /// Without a schema, the parameters are any object.
    pub fn definition(&self) -> Value {
        let parameters = self
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        json!({
            "name": self.name,
            "description": self.description,
            "parameters": parameters,
        })
    }
}

/// Tools built from a `GET /api/v1/services` reply: one per operation, in
/// catalog order. Entries without a string service id or operation name
/// are skipped; the result is empty for a reply of another shape.
pub fn tools_from_catalog(catalog: &Value) -> Vec<Tool> {
    let Some(services) = catalog.get("services").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut tools = Vec::new();
    for service in services {
        let Some(service_id) = service
            .get("id")
            .or_else(|| service.get("service_id"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let service_description = service
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let operations = service.get("operations").and_then(Value::as_array);
        for op in operations.into_iter().flatten() {
            let Some(name) = op
                .get("name")
                .or_else(|| op.get("id"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            let mut parts = vec![format!("Upivia governed operation {service_id}.{name}.")];
            let op_description = op.get("description").and_then(Value::as_str);
            match op_description.filter(|d| !d.is_empty()) {
                Some(d) => parts.push(d.to_owned()),
                None if !service_description.is_empty() => {
                    parts.push(service_description.to_owned())
                }
                None => {}
            }
            if let Some(price) = op.get("base_price_cents").and_then(Value::as_i64) {
                let metered = op.get("pricing_type").and_then(Value::as_str) == Some("metered");
                parts.push(if metered {
                    format!("Base price: {price} cents per unit (metered).")
                } else {
                    format!("Base price: {price} cents.")
                });
            }
            let mut tool = Tool::new(service_id, name, parts.join(" "));
            if let Some(schema) = op.get("input_schema").filter(|s| s.is_object()) {
                tool = tool.with_parameters(schema.clone());
            }
            tools.push(tool);
        }
    }
    tools
}

/// The tools of [`DEFAULT_OPERATIONS`].
pub fn default_tools() -> Vec<Tool> {
    DEFAULT_OPERATIONS
        .iter()
        .map(|(service, operation, description)| Tool::new(*service, *operation, *description))
        .collect()
}

/// Renders a service-request reply (or an error object) as text whose
/// first line is `STATUS: <status>`.
pub fn format_tool_result(result: &Value) -> String {
    let field = |key: &str| match result.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let status = match result.get("status") {
        Some(Value::String(s)) => s.clone(),
        Some(other) if !other.is_null() => other.to_string(),
        _ => "unknown".to_owned(),
    };
    match status.as_str() {
        "executed" => {
            let cost = result
                .get("cost_cents")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let payload = result.get("result").cloned().unwrap_or_else(|| json!({}));
            format!("STATUS: executed\ncost_cents: {cost}\nresult: {payload}")
        }
        "approval_required" => format!(
            "STATUS: approval_required\napproval_id: {}\nestimated_cost_cents: {}\n\
             A human must approve this request before it executes. \
             Do not retry; wait for approval.",
            field("approval_id"),
            field("estimated_cost_cents"),
        ),
        "blocked" => format!(
            "STATUS: blocked\nreason_code: {}\nmessage: {}\n\
             The platform policy or budget blocked this request.",
            field("reason_code"),
            field("message"),
        ),
        "failed" => format!(
            "STATUS: failed\nreason_code: {}\nmessage: {}",
            field("reason_code"),
            field("message"),
        ),
        "running" => format!(
            "STATUS: running\nrequest_id: {}\n\
             Asynchronous execution started; poll the request for the outcome.",
            field("request_id"),
        ),
        _ => format!("STATUS: {status}\n{result}"),
    }
}

/// The error object a failed call renders: `{"status": "error", "kind",
/// "code", "message"}` (plus `http_status` when there was a reply).
pub fn error_result(error: &crate::Error) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), json!("error"));
    out.insert("kind".into(), json!(error.kind().as_str()));
    out.insert("code".into(), json!(error.code()));
    out.insert("message".into(), json!(error.to_string()));
    if let Some(status) = error.status() {
        out.insert("http_status".into(), json!(status));
    }
    Value::Object(out)
}

fn local_error(kind: &str, message: String) -> Value {
    json!({"status": "error", "kind": kind, "code": null, "message": message})
}

/// A set of governed tools over one client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Toolkit {
    client: Client,
    tools: Vec<Tool>,
}

impl Toolkit {
    /// One tool per catalog operation (`GET /api/v1/services`, no
    /// credential sent). Falls back to [`DEFAULT_OPERATIONS`] when the
    /// catalog cannot be fetched or lists nothing; never fails.
    pub async fn from_catalog(client: Client) -> Toolkit {
        let tools = match client.services().list().await {
            Ok(catalog) => tools_from_catalog(&catalog),
            Err(error) => {
                tracing::debug!(%error, "catalog unavailable; using the default tools");
                Vec::new()
            }
        };
        let tools = if tools.is_empty() {
            default_tools()
        } else {
            tools
        };
        Toolkit { client, tools }
    }

    /// The [`DEFAULT_OPERATIONS`] tools, without asking the server.
    pub fn offline(client: Client) -> Toolkit {
        Toolkit {
            client,
            tools: default_tools(),
        }
    }

    /// Exactly these tools.
    pub fn with_tools(client: Client, tools: Vec<Tool>) -> Toolkit {
        Toolkit { client, tools }
    }

    /// The tools, in catalog order.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Every tool's [`Tool::definition`].
    pub fn definitions(&self) -> Vec<Value> {
        self.tools.iter().map(Tool::definition).collect()
    }

    /// Calls tool `name` with `args` (a JSON object, or a string holding
    /// one, as models often send) and returns the reply as a JSON object:
    /// the service-request outcome, or an `{"status": "error", ...}`
    /// object. Never fails.
    pub async fn call(&self, name: &str, args: Value) -> Value {
        let Some(tool) = self.get(name) else {
            return local_error("unknown_tool", format!("no tool named {name:?}"));
        };
        let payload = match args {
            Value::Object(_) => args,
            Value::Null => json!({}),
            Value::String(raw) => match serde_json::from_str::<Value>(&raw) {
                Ok(parsed @ Value::Object(_)) => parsed,
                _ => {
                    return local_error(
                        "invalid_arguments",
                        format!("arguments of {name} must be a JSON object"),
                    );
                }
            },
            _ => {
                return local_error(
                    "invalid_arguments",
                    format!("arguments of {name} must be a JSON object"),
                );
            }
        };
        let request = CreateServiceRequest::new(&tool.service, &tool.operation, payload);
        match self.client.service_requests().create(request).await {
            Ok(outcome) => outcome.to_value().unwrap_or_else(|e| {
                local_error("invalid_response", format!("could not render outcome: {e}"))
            }),
            Err(error) => error_result(&error),
        }
    }

    /// [`call`](Self::call), rendered by [`format_tool_result`]: text whose
    /// first line is `STATUS: <status>`. Never fails.
    pub async fn invoke(&self, name: &str, args: Value) -> String {
        format_tool_result(&self.call(name, args).await)
    }
}

#[cfg(test)]
mod tests;
