//! The MCP server itself, one per HTTP request (rmcp's stateless mode):
//! `tools/list` and `tools/call` for the agent the request authenticated,
//! which the HTTP layer (`mod.rs`) put in the request's extensions.

use std::sync::Arc;
use std::time::Instant;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, NumberOrString, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::calls::{self, CallContext, Reply};
use super::session::{self, Session};
use super::tools::{self, AgentTool, ToolKind};
use crate::api::error::ApiError;
use crate::model::Agent;
use crate::platform::Platform;

/// Who is calling: put into the request's extensions by the HTTP layer
/// once the key is checked.
#[derive(Clone, Debug)]
pub struct McpCaller {
    pub agent: Arc<Agent>,
    /// From the `Mcp-Session-Id` the client sent back, if any.
    pub session: Option<Session>,
}

#[derive(Clone)]
pub struct UpiviaMcp {
    pub platform: Platform,
}

const INSTRUCTIONS: &str = "Each tool is a service this agent may use through Upivia. \
Every call is governed: the answer's first line is STATUS: executed, approval_required, \
blocked, failed or running. approval_required means a person must approve first (the \
answer has the approval_id); running means it goes on: poll request_status with the \
request_id. A blocked call says why in reason_code; do not retry it unchanged.";

fn caller(context: &RequestContext<RoleServer>) -> Result<&McpCaller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpCaller>())
        .ok_or_else(|| ErrorData::internal_error("the request reached MCP unauthenticated", None))
}

/// The client's name: per request in the 2026-07-28 protocol's `_meta`,
/// else from the session `initialize` began, else `mcp`.
fn client_of(context: &RequestContext<RoleServer>, caller: &McpCaller) -> String {
    if let Some(info) = context.meta.client_info() {
        return session::client_name(Some(&info.name));
    }
    caller
        .session
        .as_ref()
        .map_or_else(|| session::UNNAMED_CLIENT.to_owned(), |s| s.client.clone())
}

fn internal(e: ApiError) -> ErrorData {
    tracing::error!(cause = ?e, "mcp: internal error");
    ErrorData::internal_error("internal error", None)
}

fn as_tool(t: AgentTool) -> Tool {
    Tool::new(t.name, t.description, Arc::new(t.input_schema))
}

fn request_id_text(id: &NumberOrString) -> String {
    match id {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s.to_string(),
    }
}

impl ServerHandler for UpiviaMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("upivia", env!("CARGO_PKG_VERSION")).with_title("Upivia"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller(&context)?;
        let listed = tools::listed(&self.platform, &caller.agent)
            .await
            .map_err(|e| internal(e.into()))?;
        Ok(ListToolsResult::with_all_items(
            listed.into_iter().map(as_tool).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let caller = caller(&context)?;
        let client = client_of(&context, caller);
        let agent = &caller.agent;
        let name = request.name.as_ref();
        let tool = tools::find(&self.platform, agent, name)
            .await
            .map_err(|e| internal(e.into()))?;
        let Some(tool) = tool else {
            metrics::counter!("upivia_mcp_tool_calls_total", "tool" => "unknown", "outcome" => "unknown_tool")
                .increment(1);
            return Err(ErrorData::invalid_params(
                format!("unknown tool {name:?}"),
                None,
            ));
        };
        let private = match &tool.kind {
            ToolKind::Operation(op) => tools::is_private(&self.platform, op),
            _ => false,
        };
        let request_id = request_id_text(&context.id);
        let explicit_key = match context.meta.get(calls::META_IDEMPOTENCY_KEY) {
            None => None,
            Some(serde_json::Value::String(k))
                if !k.is_empty()
                    && k.len() <= calls::MAX_EXPLICIT_KEY
                    && !k.chars().any(char::is_control) =>
            {
                Some(k.as_str())
            }
            Some(_) => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "_meta {:?} must be a string of 1 to {} bytes without control characters",
                        calls::META_IDEMPOTENCY_KEY,
                        calls::MAX_EXPLICIT_KEY
                    ),
                    None,
                ));
            }
        };
        let ctx = CallContext {
            agent,
            client: &client,
            session: caller.session.as_ref(),
            request_id: &request_id,
            explicit_key,
        };
        let arguments = request.arguments.unwrap_or_default();
        let reply = calls::call(&self.platform, &ctx, &tool, arguments)
            .await
            .map_err(internal)?;
        let label = tool.label(private);
        let outcome = reply.outcome().to_owned();
        metrics::counter!("upivia_mcp_tool_calls_total", "tool" => label.clone(), "outcome" => outcome.clone())
            .increment(1);
        // Never the arguments: they may hold anything.
        tracing::info!(
            agent_id = %agent.id,
            client = %client,
            tool = %label,
            outcome = %outcome,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "mcp tool call"
        );
        let text = vec![ContentBlock::text(reply.text())];
        let result = match reply {
            Reply::Answer(body) => {
                let mut r = CallToolResult::success(text);
                r.structured_content = Some(body);
                r
            }
            Reply::Refused { .. } => CallToolResult::error(text),
        };
        Ok(result.into())
    }
}
