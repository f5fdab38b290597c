//! The tools of a turn: each operation the agent has enabled, named
//! `<service>_<operation>` as the official SDK's toolkit names them, with
//! its catalog description and input schema; then the client's local
//! tools, which the server never runs.

use serde_json::{Value, json};

use super::model::ModelTool;
use crate::governance::GovernanceError;
use crate::governance::policy::binding_for;
use crate::governance::resolve;
use crate::ids::{AgentId, OrgId};
use crate::model::Agent;
use crate::platform::Platform;

/// A client-side tool, as the turn request declares it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalTool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "empty_schema")]
    pub parameters: Value,
}

fn empty_schema() -> Value {
    json!({"type": "object"})
}

/// Where a tool call goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A governed service request.
    Governed { service: String, operation: String },
    /// Back to the client.
    Local,
    /// A task handed to one of the agent's children, run at once
    /// (`domains::delegation::autonomy::delegate_from_turn`).
    Delegate,
}

/// The tool of an agent with children: hand one of them a task.
pub const DELEGATE_TOOL: &str = "delegate_task";

#[derive(Clone, Debug)]
pub struct Toolset {
    tools: Vec<(ModelTool, Target)>,
}

impl Toolset {
    pub fn model_tools(&self) -> Vec<ModelTool> {
        self.tools.iter().map(|(t, _)| t.clone()).collect()
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.tools
            .iter()
            .find(|(t, _)| t.name == name)
            .map(|(_, target)| target)
    }
}

pub fn tool_name(service: &str, operation: &str) -> String {
    format!("{service}_{operation}").replace('.', "_")
}

/// The operations `agent` may call: each catalog or private operation
/// that `policy::binding_for` (the rule the pipeline itself applies) finds
/// a binding for, in catalog order, then the private services'.
pub async fn enabled_operations(
    platform: &Platform,
    agent: &Agent,
) -> Result<Vec<crate::catalog::OperationSpec>, GovernanceError> {
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let bound = |op: &crate::catalog::OperationSpec| binding_for(&bindings, op).is_some();
    let mut specs: Vec<_> = platform
        .catalog
        .services()
        .iter()
        .flat_map(|s| s.operations.iter())
        .filter(|op| bound(op))
        .cloned()
        .collect();
    let custom = platform
        .stores
        .custom_services
        .custom_operations(&OrgId::from(&agent.org_id))
        .await?;
    specs.extend(
        custom
            .iter()
            .map(resolve::custom_spec)
            .filter(|op| bound(op)),
    );
    Ok(specs)
}

/// The agent's governed tools, then `local` (a local tool named like a
/// governed one is left out: the governed one wins).
pub async fn toolset(
    platform: &Platform,
    agent: &Agent,
    local: &[LocalTool],
) -> Result<Toolset, GovernanceError> {
    let mut tools: Vec<(ModelTool, Target)> =
        delegate_tool(platform, agent).await?.into_iter().collect();
    let governed = enabled_operations(platform, agent)
        .await?
        .into_iter()
        .map(|spec| {
            (
                ModelTool {
                    name: tool_name(&spec.service, &spec.name),
                    description: spec.description.to_string(),
                    parameters: spec.input_schema.clone(),
                },
                Target::Governed {
                    service: spec.service.to_string(),
                    operation: spec.name.to_string(),
                },
            )
        });
    tools.extend(governed);
    for l in local {
        if tools.iter().any(|(t, _)| t.name == l.name) {
            continue;
        }
        tools.push((
            ModelTool {
                name: l.name.clone(),
                description: l.description.clone(),
                parameters: l.parameters.clone(),
            },
            Target::Local,
        ));
    }
    Ok(Toolset { tools })
}

/// `delegate_task`, offered while the agent has active children; its
/// schema names them.
async fn delegate_tool(
    platform: &Platform,
    agent: &Agent,
) -> Result<Option<(ModelTool, Target)>, GovernanceError> {
    let children: Vec<Agent> = platform
        .stores
        .agents
        .agents(&OrgId::from(&agent.org_id), None)
        .await?
        .into_iter()
        .filter(|a| {
            a.parent_agent_id.as_deref() == Some(agent.id.as_str())
                && a.status == crate::model::AgentStatus::Active
        })
        .collect();
    if children.is_empty() {
        return Ok(None);
    }
    let listed: Vec<String> = children
        .iter()
        .map(|c| format!("{} ({})", c.name, c.id))
        .collect();
    let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
    Ok(Some((
        ModelTool {
            name: DELEGATE_TOOL.into(),
            description: format!(
                "Hand a task to one of your child agents, which works it now with its own tools \
                 and reports back what it did. Your children: {}.",
                listed.join(", ")
            ),
            parameters: json!({
                "type": "object",
                "properties": {
                    "child_agent_id": {"type": "string", "enum": ids},
                    "objective": {"type": "string", "description": "What the child is to do."},
                    "budget_cap_cents": {"type": "integer", "minimum": 0},
                    "permissions": {"type": "array", "items": {"type": "string"},
                                    "description": "Operations (service.operation) it may use."}
                },
                "required": ["child_agent_id", "objective"]
            }),
        },
        Target::Delegate,
    )))
}
