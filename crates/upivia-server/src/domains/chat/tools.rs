//! The tools of a turn: each operation the agent has enabled, named
//! `<service>_<operation>` as the official SDK's toolkit names them, with
//! its catalog description and input schema; then the client's local
//! tools, which the server never runs.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::model::ModelTool;
use crate::governance::GovernanceError;
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
}

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

/// The operations `agent` may call through its enabled bindings (one
/// operation, or every operation of the bound service), built-in or
/// private, each once, in binding order.
pub async fn enabled_operations(
    platform: &Platform,
    agent: &Agent,
) -> Result<Vec<crate::catalog::OperationSpec>, GovernanceError> {
    let org = OrgId::from(&agent.org_id);
    let bindings = platform
        .stores
        .agents
        .bindings(&AgentId::from(&agent.id))
        .await?;
    let mut seen = BTreeSet::new();
    let mut specs = Vec::new();
    for b in bindings.iter().filter(|b| b.enabled) {
        let names = match &b.operation {
            Some(op) => vec![op.clone()],
            None => resolve::operations_of(platform, &org, &b.service_id)
                .await?
                .unwrap_or_default(),
        };
        for name in names {
            if !seen.insert((b.service_id.clone(), name.clone())) {
                continue;
            }
            match resolve::resolve(platform, &org, &b.service_id, &name).await {
                Ok(resolved) => specs.push(resolved.spec.into_owned()),
                // A binding to something no longer in the catalog offers nothing.
                Err(
                    GovernanceError::UnknownService(_) | GovernanceError::UnknownOperation { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(specs)
}

/// The agent's governed tools, then `local` (a local tool named like a
/// governed one is left out: the governed one wins).
pub async fn toolset(
    platform: &Platform,
    agent: &Agent,
    local: &[LocalTool],
) -> Result<Toolset, GovernanceError> {
    let mut tools: Vec<(ModelTool, Target)> = enabled_operations(platform, agent)
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
        })
        .collect();
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
