//! Which tools an agent has: one per catalog operation (built-in or one
//! of its organisation's private services) that a binding of the agent
//! enables, named `<service>_<operation>`, and the platform's own
//! (`platform_check_budget`, `request_status`, `memory_create`,
//! `memory_search`). Worked out from the store at every `tools/list` and
//! `tools/call`, so a change of bindings shows on the next one.

use serde_json::{Map, Value, json};

use crate::catalog::OperationSpec;
use crate::governance::GovernanceError;
use crate::governance::policy::binding_for;
use crate::governance::resolve::custom_spec;
use crate::ids::{AgentId, OrgId};
use crate::model::Agent;
use crate::platform::Platform;

/// `request_status`: polls one of the agent's own requests.
pub const REQUEST_STATUS: &str = "request_status";
/// `memory_create` and `memory_search`: the agent's own memories.
pub const MEMORY_CREATE: &str = "memory_create";
pub const MEMORY_SEARCH: &str = "memory_search";

/// What a tool does when called.
#[derive(Clone, Debug)]
pub enum ToolKind {
    /// A governed service request for this operation.
    Operation(Box<OperationSpec>),
    RequestStatus,
    MemoryCreate,
    MemorySearch,
}

#[derive(Clone, Debug)]
pub struct AgentTool {
    pub name: String,
    pub description: String,
    pub input_schema: Map<String, Value>,
    pub kind: ToolKind,
    /// False for a catalog operation no binding of the agent enables: not
    /// listed, and a call of it is answered `blocked` by governance.
    pub enabled: bool,
}

impl AgentTool {
    /// The metric label: built-in tools by name, private services as one
    /// label (their names are the organisations' own, without bound).
    pub fn label(&self, private: bool) -> String {
        if private {
            "private".to_owned()
        } else {
            self.name.clone()
        }
    }
}

/// A tool name as MCP allows it (1 to 128 of `[A-Za-z0-9_.-]`).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

pub fn is_budget_check(op: &OperationSpec) -> bool {
    op.service == "platform" && op.name == "check_budget"
}

pub fn tool_name(op: &OperationSpec) -> String {
    format!("{}_{}", op.service, op.name)
}

/// An object schema, as tools must have; anything else is wrapped as the
/// catalog's payloads are objects.
fn object_schema(schema: &Value) -> Map<String, Value> {
    match schema {
        Value::Object(map) if map.get("type").and_then(Value::as_str) == Some("object") => {
            map.clone()
        }
        Value::Object(map) if !map.contains_key("type") => {
            let mut map = map.clone();
            map.insert("type".into(), json!("object"));
            map
        }
        _ => json!({"type": "object"})
            .as_object()
            .cloned()
            .expect("a literal object"),
    }
}

fn operation_tool(op: OperationSpec, enabled: bool) -> AgentTool {
    let price = match op.pricing {
        crate::catalog::PricingType::Free => "free".to_owned(),
        crate::catalog::PricingType::Flat => format!("{} cents", op.base_price_cents.get()),
        crate::catalog::PricingType::Metered => {
            format!("metered, from {} cents", op.base_price_cents.get())
        }
    };
    let description = format!(
        "{} ({}; governed: may be blocked or wait for approval){}",
        op.description.trim_end_matches('.'),
        price,
        if op.asynchronous {
            ". Runs asynchronously: poll request_status with the request_id"
        } else {
            ""
        }
    );
    // The budget check is always the caller's own: no arguments.
    let input_schema = if is_budget_check(&op) {
        json!({"type": "object", "properties": {}, "additionalProperties": false})
            .as_object()
            .cloned()
            .expect("a literal object")
    } else {
        object_schema(&op.input_schema)
    };
    AgentTool {
        name: tool_name(&op),
        description,
        input_schema,
        kind: ToolKind::Operation(Box::new(op)),
        enabled,
    }
}

fn platform_tools() -> Vec<AgentTool> {
    let schema = |v: Value| v.as_object().cloned().expect("a literal object");
    vec![
        AgentTool {
            name: REQUEST_STATUS.into(),
            description: "The current outcome of one of your own service requests \
                          (after `running` or `approval_required`)."
                .into(),
            input_schema: schema(json!({
                "type": "object",
                "properties": {"request_id": {"type": "string", "description": "the request_id an earlier call answered"}},
                "required": ["request_id"],
                "additionalProperties": false,
            })),
            kind: ToolKind::RequestStatus,
            enabled: true,
        },
        AgentTool {
            name: MEMORY_CREATE.into(),
            description: "Remember a short text (at most 8,000 characters) for later, \
                          with optional tags."
                .into(),
            input_schema: schema(json!({
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1, "maxLength": 8000},
                    "tags": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 20},
                },
                "required": ["content"],
                "additionalProperties": false,
            })),
            kind: ToolKind::MemoryCreate,
            enabled: true,
        },
        AgentTool {
            name: MEMORY_SEARCH.into(),
            description: "Search your own memories (any of the query's words), best first.".into(),
            input_schema: schema(json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                },
                "required": ["query"],
                "additionalProperties": false,
            })),
            kind: ToolKind::MemorySearch,
            enabled: true,
        },
    ]
}

/// Every tool the agent could name, enabled or not, in a stable order:
/// the catalog's, then the private services', then the platform's own.
pub async fn all(platform: &Platform, agent: &Agent) -> Result<Vec<AgentTool>, GovernanceError> {
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let enabled = |op: &OperationSpec| {
        // The free budget check is answered for any agent in good standing.
        is_budget_check(op) || binding_for(&bindings, op).is_some()
    };
    let mut tools = Vec::new();
    for service in platform.catalog.services() {
        for op in &service.operations {
            let on = enabled(op);
            tools.push(operation_tool(op.clone(), on));
        }
    }
    let custom = platform
        .stores
        .custom_services
        .custom_operations(&OrgId::from(&agent.org_id))
        .await?;
    for op in custom.iter().map(custom_spec) {
        let on = enabled(&op);
        tools.push(operation_tool(op, on));
    }
    tools.retain(|t| valid_name(&t.name));
    tools.extend(platform_tools());
    Ok(tools)
}

/// The tools `tools/list` shows: the enabled ones.
pub async fn listed(platform: &Platform, agent: &Agent) -> Result<Vec<AgentTool>, GovernanceError> {
    let mut tools = all(platform, agent).await?;
    tools.retain(|t| t.enabled);
    Ok(tools)
}

/// The tool `name` names for this agent, enabled or not; `None` when it
/// names nothing at all. Two operations could share a name (`a_b.c` and
/// `a.b_c`): the enabled one wins, else the first.
pub async fn find(
    platform: &Platform,
    agent: &Agent,
    name: &str,
) -> Result<Option<AgentTool>, GovernanceError> {
    let tools = all(platform, agent).await?;
    let mut matching = tools.into_iter().filter(|t| t.name == name);
    let first = matching.next();
    match first {
        Some(t) if t.enabled => Ok(Some(t)),
        other => Ok(matching.find(|t| t.enabled).or(other)),
    }
}

/// Whether the operation is one of the organisation's private services.
pub fn is_private(platform: &Platform, op: &OperationSpec) -> bool {
    platform.catalog.service(&op.service).is_none()
}
