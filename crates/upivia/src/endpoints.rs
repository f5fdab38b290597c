//! The endpoint table: every request the SDK's typed resources send.
//!
//! Each resource method takes its HTTP method, path template and auth mode
//! from one [`Endpoint`] constant here, so this table *is* the SDK's wire
//! surface. It mirrors the non-`tui:` rows of the contract's `ENDPOINTS.tsv`;
//! a test checks the two against each other. The table needs no HTTP client,
//! so it builds without the `client` feature (a server can check its router
//! against it).

use std::fmt;

/// How a request authenticates (API.md §1.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// `Authorization: Bearer <agent key>`. With no agent key configured the
    /// SDK fails locally with [`ErrorKind::Unauthorized`](crate::ErrorKind)
    /// and sends nothing.
    Agent,
    /// `Authorization: Bearer <PAT>` when a PAT is configured, otherwise no
    /// `Authorization` header (a session cookie may come through default
    /// headers).
    Workspace,
    /// The agent key if configured, else the PAT, else nothing.
    Any,
    /// Never an `Authorization` header.
    None,
}

impl AuthMode {
    /// The mode's name as the contract spells it (`agent`, `workspace`,
    /// `any`, `none`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMode::Agent => "agent",
            AuthMode::Workspace => "workspace",
            AuthMode::Any => "any",
            AuthMode::None => "none",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `PUT` (upivia-rs routes outside the contract: secrets)
    Put,
}

impl HttpMethod {
    /// The method's upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Put => "PUT",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One SDK method that sends exactly one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Resource path as the contract names it, e.g. `workflows.runs`.
    pub resource: &'static str,
    /// Method name within the resource, e.g. `create`.
    pub sdk_method: &'static str,
    /// HTTP method.
    pub method: HttpMethod,
    /// Path template; each `{name}` placeholder is one path segment.
    pub path: &'static str,
    /// Auth mode the SDK uses.
    pub auth: AuthMode,
    /// Success status, or several joined by `|` (e.g. `200|202`).
    pub success: &'static str,
}

impl Endpoint {
    /// Fills the path's `{placeholders}` in order with `args`, as-is (ids are
    /// URL-safe by contract, so nothing is percent-encoded here).
    ///
    /// Placeholders without a matching argument are left untouched.
    pub fn render(&self, args: &[&str]) -> String {
        let mut out = String::with_capacity(self.path.len() + 16);
        let mut args = args.iter();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            out.push_str(&rest[..open]);
            match args.next() {
                Some(arg) => out.push_str(arg),
                None => out.push_str(&rest[open..open + close + 1]),
            }
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Number of `{placeholder}` segments in the path.
    pub fn placeholder_count(&self) -> usize {
        self.path.matches('{').count()
    }

    /// `resource.sdk_method`, e.g. `workflows.runs.create`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.resource, self.sdk_method)
    }
}

/// `POST /api/v1/service-requests` (`service_requests.create`, auth `agent`).
pub const SERVICE_REQUESTS_CREATE: Endpoint = Endpoint {
    resource: "service_requests",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/service-requests",
    auth: AuthMode::Agent,
    success: "200|202",
};
/// `GET /api/v1/service-requests/{request_id}` (`service_requests.get`, auth `agent`).
pub const SERVICE_REQUESTS_GET: Endpoint = Endpoint {
    resource: "service_requests",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/service-requests/{request_id}",
    auth: AuthMode::Agent,
    success: "200",
};
/// `GET /api/v1/balance` (`balance.get`, auth `workspace`).
pub const BALANCE_GET: Endpoint = Endpoint {
    resource: "balance",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/balance",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/usage` (`usage.list`, auth `workspace`).
pub const USAGE_LIST: Endpoint = Endpoint {
    resource: "usage",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/usage",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/approvals` (`approvals.list`, auth `workspace`).
pub const APPROVALS_LIST: Endpoint = Endpoint {
    resource: "approvals",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/approvals",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/approvals/{approval_id}/approve` (`approvals.approve`, auth `workspace`).
pub const APPROVALS_APPROVE: Endpoint = Endpoint {
    resource: "approvals",
    sdk_method: "approve",
    method: HttpMethod::Post,
    path: "/api/v1/approvals/{approval_id}/approve",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/approvals/{approval_id}/reject` (`approvals.reject`, auth `workspace`).
pub const APPROVALS_REJECT: Endpoint = Endpoint {
    resource: "approvals",
    sdk_method: "reject",
    method: HttpMethod::Post,
    path: "/api/v1/approvals/{approval_id}/reject",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/audit-logs` (`audit_logs.list`, auth `workspace`).
pub const AUDIT_LOGS_LIST: Endpoint = Endpoint {
    resource: "audit_logs",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/audit-logs",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents` (`agents.list`, auth `agent`).
pub const AGENTS_LIST: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/agents",
    auth: AuthMode::Agent,
    success: "200",
};
/// `POST /api/v1/agents` (`agents.create`, auth `workspace`).
pub const AGENTS_CREATE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/agents",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}` (`agents.get`, auth `workspace`).
pub const AGENTS_GET: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}` (`agents.update`, auth `workspace`).
pub const AGENTS_UPDATE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/agents/{agent_id}` (`agents.delete`, auth `workspace`).
pub const AGENTS_DELETE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/agents/{agent_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}/key` (`agents.reset_key`, auth `workspace`).
pub const AGENTS_RESET_KEY: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "reset_key",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}/key",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/agents/{agent_id}/clone` (`agents.clone`, auth `workspace`).
pub const AGENTS_CLONE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "clone",
    method: HttpMethod::Post,
    path: "/api/v1/agents/{agent_id}/clone",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}/transfer` (`agents.transfer`, auth `workspace`).
pub const AGENTS_TRANSFER: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "transfer",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}/transfer",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}/budget` (`agents.set_budget`, auth `workspace`).
pub const AGENTS_SET_BUDGET: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "set_budget",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}/budget",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/agents/{agent_id}/services` (`agents.enable_service`, auth `workspace`).
pub const AGENTS_ENABLE_SERVICE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "enable_service",
    method: HttpMethod::Post,
    path: "/api/v1/agents/{agent_id}/services",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/agents/{agent_id}/services` (`agents.disable_service`, auth `workspace`).
pub const AGENTS_DISABLE_SERVICE: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "disable_service",
    method: HttpMethod::Delete,
    path: "/api/v1/agents/{agent_id}/services",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/health` (`agents.health`, auth `workspace`).
pub const AGENTS_HEALTH: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "health",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/health",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/health` (`agents.fleet_health`, auth `workspace`).
pub const AGENTS_FLEET_HEALTH: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "fleet_health",
    method: HttpMethod::Get,
    path: "/api/v1/agents/health",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/activity` (`agents.activity`, auth `workspace`).
pub const AGENTS_ACTIVITY: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "activity",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/activity",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/skills` (`agents.skills`, auth `workspace`).
pub const AGENTS_SKILLS: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "skills",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/skills",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/agents/{agent_id}/skills` (`agents.remove_skill`, auth `workspace`).
pub const AGENTS_REMOVE_SKILL: Endpoint = Endpoint {
    resource: "agents",
    sdk_method: "remove_skill",
    method: HttpMethod::Delete,
    path: "/api/v1/agents/{agent_id}/skills",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/agents/spawn` (`spawn.create`, auth `agent`).
pub const SPAWN_CREATE: Endpoint = Endpoint {
    resource: "spawn",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/agents/spawn",
    auth: AuthMode::Agent,
    success: "200",
};
/// `GET /api/v1/agents/spawn` (`spawn.estimate`, auth `agent`).
pub const SPAWN_ESTIMATE: Endpoint = Endpoint {
    resource: "spawn",
    sdk_method: "estimate",
    method: HttpMethod::Get,
    path: "/api/v1/agents/spawn",
    auth: AuthMode::Agent,
    success: "200",
};
/// `POST /api/v1/agents/{agent_id}/delegated-tasks` (`delegate.create`, auth `agent`).
pub const DELEGATE_CREATE: Endpoint = Endpoint {
    resource: "delegate",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/agents/{agent_id}/delegated-tasks",
    auth: AuthMode::Agent,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/delegated-tasks` (`delegate.list`, auth `agent`).
pub const DELEGATE_LIST: Endpoint = Endpoint {
    resource: "delegate",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/delegated-tasks",
    auth: AuthMode::Agent,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/delegated-tasks/{task_id}` (`delegate.get_task`, auth `workspace`).
pub const DELEGATE_GET_TASK: Endpoint = Endpoint {
    resource: "delegate",
    sdk_method: "get_task",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/delegated-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}/delegated-tasks/{task_id}` (`delegate.update_task`, auth `workspace`).
pub const DELEGATE_UPDATE_TASK: Endpoint = Endpoint {
    resource: "delegate",
    sdk_method: "update_task",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}/delegated-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/delegated-tasks/{task_id}` (`delegate.reattach`, auth `workspace`).
pub const DELEGATE_REATTACH: Endpoint = Endpoint {
    resource: "delegate",
    sdk_method: "reattach",
    method: HttpMethod::Get,
    path: "/api/v1/delegated-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/memories` (`memory.list`, auth `agent`).
pub const MEMORY_LIST: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/memories",
    auth: AuthMode::Agent,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/memories` (`memory.search`, auth `any`).
pub const MEMORY_SEARCH: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "search",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/memories",
    auth: AuthMode::Any,
    success: "200",
};
/// `POST /api/v1/agents/{agent_id}/memories` (`memory.create`, auth `agent`).
pub const MEMORY_CREATE: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/agents/{agent_id}/memories",
    auth: AuthMode::Agent,
    success: "200",
};
/// `PATCH /api/v1/agents/{agent_id}/memories/{memory_id}` (`memory.update`, auth `workspace`).
pub const MEMORY_UPDATE: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/agents/{agent_id}/memories/{memory_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/agents/{agent_id}/memories/{memory_id}` (`memory.delete`, auth `workspace`).
pub const MEMORY_DELETE: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/agents/{agent_id}/memories/{memory_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agents/{agent_id}/memories/graph` (`memory.graph`, auth `workspace`).
pub const MEMORY_GRAPH: Endpoint = Endpoint {
    resource: "memory",
    sdk_method: "graph",
    method: HttpMethod::Get,
    path: "/api/v1/agents/{agent_id}/memories/graph",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workflows` (`workflows.list`, auth `workspace`).
pub const WORKFLOWS_LIST: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/workflows",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows` (`workflows.create`, auth `workspace`).
pub const WORKFLOWS_CREATE: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/workflows",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workflows/{workflow_id}` (`workflows.get`, auth `workspace`).
pub const WORKFLOWS_GET: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/{workflow_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/workflows/{workflow_id}` (`workflows.update`, auth `workspace`).
pub const WORKFLOWS_UPDATE: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/workflows/{workflow_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/workflows/{workflow_id}` (`workflows.delete`, auth `workspace`).
pub const WORKFLOWS_DELETE: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/workflows/{workflow_id}",
    auth: AuthMode::Workspace,
    success: "204",
};
/// `POST /api/v1/workflows/{workflow_id}/versions` (`workflows.create_version`, auth `workspace`).
pub const WORKFLOWS_CREATE_VERSION: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "create_version",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/versions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/versions/{version_id}/publish` (`workflows.publish_version`, auth `workspace`).
pub const WORKFLOWS_PUBLISH_VERSION: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "publish_version",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/versions/{version_id}/publish",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/versions/{version_id}/unpublish` (`workflows.unpublish_version`, auth `workspace`).
pub const WORKFLOWS_UNPUBLISH_VERSION: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "unpublish_version",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/versions/{version_id}/unpublish",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/share` (`workflows.share`, auth `workspace`).
pub const WORKFLOWS_SHARE: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "share",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/share",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workflows/{workflow_id}/export` (`workflows.export`, auth `workspace`).
pub const WORKFLOWS_EXPORT: Endpoint = Endpoint {
    resource: "workflows",
    sdk_method: "export",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/{workflow_id}/export",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workflows/{workflow_id}/runs` (`workflows.runs.list`, auth `workspace`).
pub const WORKFLOWS_RUNS_LIST: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/{workflow_id}/runs",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/runs` (`workflows.runs.create`, auth `workspace`).
pub const WORKFLOWS_RUNS_CREATE: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/runs",
    auth: AuthMode::Workspace,
    success: "201",
};
/// `GET /api/v1/workflows/{workflow_id}/runs/{run_id}` (`workflows.runs.get`, auth `workspace`).
pub const WORKFLOWS_RUNS_GET: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/{workflow_id}/runs/{run_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/cancel` (`workflows.runs.cancel`, auth `workspace`).
pub const WORKFLOWS_RUNS_CANCEL: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "cancel",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/runs/{run_id}/cancel",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/rerun-failed` (`workflows.runs.rerun_failed`, auth `workspace`).
pub const WORKFLOWS_RUNS_RERUN_FAILED: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "rerun_failed",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/runs/{run_id}/rerun-failed",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/runs/{run_id}/steps/{step_id}/retry` (`workflows.runs.retry_step`, auth `workspace`).
pub const WORKFLOWS_RUNS_RETRY_STEP: Endpoint = Endpoint {
    resource: "workflows.runs",
    sdk_method: "retry_step",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/runs/{run_id}/steps/{step_id}/retry",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workflows/{workflow_id}/agents` (`workflows.agents.list`, auth `workspace`).
pub const WORKFLOWS_AGENTS_LIST: Endpoint = Endpoint {
    resource: "workflows.agents",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/{workflow_id}/agents",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/{workflow_id}/agents` (`workflows.agents.grant`, auth `workspace`).
pub const WORKFLOWS_AGENTS_GRANT: Endpoint = Endpoint {
    resource: "workflows.agents",
    sdk_method: "grant",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/{workflow_id}/agents",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/workflows/{workflow_id}/agents` (`workflows.agents.revoke`, auth `workspace`).
pub const WORKFLOWS_AGENTS_REVOKE: Endpoint = Endpoint {
    resource: "workflows.agents",
    sdk_method: "revoke",
    method: HttpMethod::Delete,
    path: "/api/v1/workflows/{workflow_id}/agents",
    auth: AuthMode::Workspace,
    success: "204",
};
/// `GET /api/v1/workflows/from-template` (`workflows.from_template.list`, auth `workspace`).
pub const WORKFLOWS_FROM_TEMPLATE_LIST: Endpoint = Endpoint {
    resource: "workflows.from_template",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/workflows/from-template",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workflows/from-template` (`workflows.from_template.create`, auth `workspace`).
pub const WORKFLOWS_FROM_TEMPLATE_CREATE: Endpoint = Endpoint {
    resource: "workflows.from_template",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/workflows/from-template",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/scheduled-tasks` (`scheduled_tasks.list`, auth `workspace`).
pub const SCHEDULED_TASKS_LIST: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/scheduled-tasks",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/scheduled-tasks` (`scheduled_tasks.create`, auth `workspace`).
pub const SCHEDULED_TASKS_CREATE: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/scheduled-tasks",
    auth: AuthMode::Workspace,
    success: "201",
};
/// `GET /api/v1/scheduled-tasks/{task_id}` (`scheduled_tasks.get`, auth `workspace`).
pub const SCHEDULED_TASKS_GET: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/scheduled-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/scheduled-tasks/{task_id}` (`scheduled_tasks.update`, auth `workspace`).
pub const SCHEDULED_TASKS_UPDATE: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/scheduled-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/scheduled-tasks/{task_id}` (`scheduled_tasks.delete`, auth `workspace`).
pub const SCHEDULED_TASKS_DELETE: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/scheduled-tasks/{task_id}",
    auth: AuthMode::Workspace,
    success: "204",
};
/// `GET /api/v1/scheduled-tasks/{task_id}/runs` (`scheduled_tasks.runs`, auth `workspace`).
pub const SCHEDULED_TASKS_RUNS: Endpoint = Endpoint {
    resource: "scheduled_tasks",
    sdk_method: "runs",
    method: HttpMethod::Get,
    path: "/api/v1/scheduled-tasks/{task_id}/runs",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/agent-requests` (`agent_requests.list`, auth `workspace`).
pub const AGENT_REQUESTS_LIST: Endpoint = Endpoint {
    resource: "agent_requests",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/agent-requests",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/agent-requests` (`agent_requests.create`, auth `workspace`).
pub const AGENT_REQUESTS_CREATE: Endpoint = Endpoint {
    resource: "agent_requests",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/agent-requests",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/agent-requests` (`agent_requests.resolve`, auth `workspace`).
pub const AGENT_REQUESTS_RESOLVE: Endpoint = Endpoint {
    resource: "agent_requests",
    sdk_method: "resolve",
    method: HttpMethod::Patch,
    path: "/api/v1/agent-requests",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/service-requests` (`budget_check.check`, auth `agent`).
pub const BUDGET_CHECK_CHECK: Endpoint = Endpoint {
    resource: "budget_check",
    sdk_method: "check",
    method: HttpMethod::Post,
    path: "/api/v1/service-requests",
    auth: AuthMode::Agent,
    success: "200",
};
/// `POST /api/v1/chat/turn` (`chat.turn`, auth `workspace`).
pub const CHAT_TURN: Endpoint = Endpoint {
    resource: "chat",
    sdk_method: "turn",
    method: HttpMethod::Post,
    path: "/api/v1/chat/turn",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/chat/approvals/{approval_id}` (`chat.resolve_approval`, auth `workspace`).
pub const CHAT_RESOLVE_APPROVAL: Endpoint = Endpoint {
    resource: "chat",
    sdk_method: "resolve_approval",
    method: HttpMethod::Post,
    path: "/api/v1/chat/approvals/{approval_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/chat/sessions` (`chat.sessions.list`, auth `workspace`).
pub const CHAT_SESSIONS_LIST: Endpoint = Endpoint {
    resource: "chat.sessions",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/chat/sessions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/chat/sessions` (`chat.sessions.create`, auth `workspace`).
pub const CHAT_SESSIONS_CREATE: Endpoint = Endpoint {
    resource: "chat.sessions",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/chat/sessions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/chat/sessions/{session_id}` (`chat.sessions.get`, auth `workspace`).
pub const CHAT_SESSIONS_GET: Endpoint = Endpoint {
    resource: "chat.sessions",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/chat/sessions/{session_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/chat/sessions` (`chat.sessions.delete`, auth `workspace`).
pub const CHAT_SESSIONS_DELETE: Endpoint = Endpoint {
    resource: "chat.sessions",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/chat/sessions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/chat/sessions` (`chat.sessions.delete_all`, auth `workspace`).
pub const CHAT_SESSIONS_DELETE_ALL: Endpoint = Endpoint {
    resource: "chat.sessions",
    sdk_method: "delete_all",
    method: HttpMethod::Delete,
    path: "/api/v1/chat/sessions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/triggers` (`triggers.list`, auth `workspace`).
pub const TRIGGERS_LIST: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/triggers",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/triggers` (`triggers.create`, auth `workspace`).
pub const TRIGGERS_CREATE: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/triggers",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/triggers/{trigger_id}` (`triggers.get`, auth `workspace`).
pub const TRIGGERS_GET: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/triggers/{trigger_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/triggers/{trigger_id}` (`triggers.update`, auth `workspace`).
pub const TRIGGERS_UPDATE: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/triggers/{trigger_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/triggers/{trigger_id}` (`triggers.delete`, auth `workspace`).
pub const TRIGGERS_DELETE: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/triggers/{trigger_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/triggers/{trigger_id}/fire` (`triggers.fire`, auth `none`).
pub const TRIGGERS_FIRE: Endpoint = Endpoint {
    resource: "triggers",
    sdk_method: "fire",
    method: HttpMethod::Post,
    path: "/api/v1/triggers/{trigger_id}/fire",
    auth: AuthMode::None,
    success: "202",
};
/// `GET /api/v1/storage/objects` (`storage.objects.list`, auth `workspace`).
pub const STORAGE_OBJECTS_LIST: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/storage/objects",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/storage/objects/{object_id}` (`storage.objects.get`, auth `workspace`).
pub const STORAGE_OBJECTS_GET: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/storage/objects/{object_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/storage/objects/{object_id}` (`storage.objects.delete`, auth `workspace`).
pub const STORAGE_OBJECTS_DELETE: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/storage/objects/{object_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/storage/objects/{object_id}/restore` (`storage.objects.restore`, auth `workspace`).
pub const STORAGE_OBJECTS_RESTORE: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "restore",
    method: HttpMethod::Post,
    path: "/api/v1/storage/objects/{object_id}/restore",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/storage/objects` (`storage.objects.upload`, auth `workspace`).
pub const STORAGE_OBJECTS_UPLOAD: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "upload",
    method: HttpMethod::Post,
    path: "/api/v1/storage/objects",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/storage/objects` (`storage.objects.presign`, auth `workspace`).
pub const STORAGE_OBJECTS_PRESIGN: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "presign",
    method: HttpMethod::Post,
    path: "/api/v1/storage/objects",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/storage/objects/{object_id}/confirm` (`storage.objects.confirm`, auth `workspace`).
pub const STORAGE_OBJECTS_CONFIRM: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "confirm",
    method: HttpMethod::Post,
    path: "/api/v1/storage/objects/{object_id}/confirm",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/storage/objects/{object_id}/download` (`storage.objects.download`, auth `workspace`).
pub const STORAGE_OBJECTS_DOWNLOAD: Endpoint = Endpoint {
    resource: "storage.objects",
    sdk_method: "download",
    method: HttpMethod::Get,
    path: "/api/v1/storage/objects/{object_id}/download",
    auth: AuthMode::Workspace,
    success: "302",
};
/// `GET /api/v1/knowledge/collections` (`knowledge.collections.list`, auth `workspace`).
pub const KNOWLEDGE_COLLECTIONS_LIST: Endpoint = Endpoint {
    resource: "knowledge.collections",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/knowledge/collections",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/knowledge/collections` (`knowledge.collections.create`, auth `workspace`).
pub const KNOWLEDGE_COLLECTIONS_CREATE: Endpoint = Endpoint {
    resource: "knowledge.collections",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/knowledge/collections",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/knowledge/collections/{collection_id}` (`knowledge.collections.get`, auth `workspace`).
pub const KNOWLEDGE_COLLECTIONS_GET: Endpoint = Endpoint {
    resource: "knowledge.collections",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/knowledge/collections/{collection_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/knowledge/collections/{collection_id}` (`knowledge.collections.delete`, auth `workspace`).
pub const KNOWLEDGE_COLLECTIONS_DELETE: Endpoint = Endpoint {
    resource: "knowledge.collections",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/knowledge/collections/{collection_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/knowledge/collections/{collection_id}/documents` (`knowledge.documents.create`, auth `workspace`).
pub const KNOWLEDGE_DOCUMENTS_CREATE: Endpoint = Endpoint {
    resource: "knowledge.documents",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/knowledge/collections/{collection_id}/documents",
    auth: AuthMode::Workspace,
    success: "202",
};
/// `GET /api/v1/knowledge/collections/{collection_id}/documents/{doc_id}` (`knowledge.documents.get`, auth `workspace`).
pub const KNOWLEDGE_DOCUMENTS_GET: Endpoint = Endpoint {
    resource: "knowledge.documents",
    sdk_method: "get",
    method: HttpMethod::Get,
    path: "/api/v1/knowledge/collections/{collection_id}/documents/{doc_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/knowledge/collections/{collection_id}/documents/{doc_id}` (`knowledge.documents.delete`, auth `workspace`).
pub const KNOWLEDGE_DOCUMENTS_DELETE: Endpoint = Endpoint {
    resource: "knowledge.documents",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/knowledge/collections/{collection_id}/documents/{doc_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/services` (`services.list`, auth `none`).
pub const SERVICES_LIST: Endpoint = Endpoint {
    resource: "services",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/services",
    auth: AuthMode::None,
    success: "200",
};
/// `GET /api/v1/teams` (`teams.list`, auth `workspace`).
pub const TEAMS_LIST: Endpoint = Endpoint {
    resource: "teams",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/teams",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/teams/switch` (`teams.switch`, auth `workspace`).
pub const TEAMS_SWITCH: Endpoint = Endpoint {
    resource: "teams",
    sdk_method: "switch",
    method: HttpMethod::Post,
    path: "/api/v1/teams/switch",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/teams/{team_id}/budget` (`teams.budget`, auth `workspace`).
pub const TEAMS_BUDGET: Endpoint = Endpoint {
    resource: "teams",
    sdk_method: "budget",
    method: HttpMethod::Get,
    path: "/api/v1/teams/{team_id}/budget",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/teams/{team_id}/budget/allocate` (`teams.allocate_budget`, auth `workspace`).
pub const TEAMS_ALLOCATE_BUDGET: Endpoint = Endpoint {
    resource: "teams",
    sdk_method: "allocate_budget",
    method: HttpMethod::Post,
    path: "/api/v1/teams/{team_id}/budget/allocate",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/teams/{team_id}/members` (`teams.members.list`, auth `workspace`).
pub const TEAMS_MEMBERS_LIST: Endpoint = Endpoint {
    resource: "teams.members",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/teams/{team_id}/members",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/teams/{team_id}/members/{membership_id}` (`teams.members.update`, auth `workspace`).
pub const TEAMS_MEMBERS_UPDATE: Endpoint = Endpoint {
    resource: "teams.members",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/teams/{team_id}/members/{membership_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/workspaces` (`workspaces.list`, auth `workspace`).
pub const WORKSPACES_LIST: Endpoint = Endpoint {
    resource: "workspaces",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/workspaces",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/workspaces/switch` (`workspaces.switch`, auth `workspace`).
pub const WORKSPACES_SWITCH: Endpoint = Endpoint {
    resource: "workspaces",
    sdk_method: "switch",
    method: HttpMethod::Post,
    path: "/api/v1/workspaces/switch",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/budget-requests` (`budget_requests.create`, auth `workspace`).
pub const BUDGET_REQUESTS_CREATE: Endpoint = Endpoint {
    resource: "budget_requests",
    sdk_method: "create",
    method: HttpMethod::Post,
    path: "/api/v1/budget-requests",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/budget-requests` (`budget_requests.list`, auth `workspace`).
pub const BUDGET_REQUESTS_LIST: Endpoint = Endpoint {
    resource: "budget_requests",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/budget-requests",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/budget-requests/{request_id}` (`budget_requests.resolve`, auth `workspace`).
pub const BUDGET_REQUESTS_RESOLVE: Endpoint = Endpoint {
    resource: "budget_requests",
    sdk_method: "resolve",
    method: HttpMethod::Patch,
    path: "/api/v1/budget-requests/{request_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/devices/heartbeat` (`devices.heartbeat`, auth `workspace`).
pub const DEVICES_HEARTBEAT: Endpoint = Endpoint {
    resource: "devices",
    sdk_method: "heartbeat",
    method: HttpMethod::Post,
    path: "/api/v1/devices/heartbeat",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/devices/commands/{command_id}` (`devices.commands_update`, auth `workspace`).
pub const DEVICES_COMMANDS_UPDATE_ALIAS: Endpoint = Endpoint {
    resource: "devices",
    sdk_method: "commands_update",
    method: HttpMethod::Patch,
    path: "/api/v1/devices/commands/{command_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/devices/sessions` (`devices.sessions.list`, auth `workspace`).
pub const DEVICES_SESSIONS_LIST: Endpoint = Endpoint {
    resource: "devices.sessions",
    sdk_method: "list",
    method: HttpMethod::Get,
    path: "/api/v1/devices/sessions",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/devices/sessions/{session_id}` (`devices.sessions.update`, auth `workspace`).
pub const DEVICES_SESSIONS_UPDATE: Endpoint = Endpoint {
    resource: "devices.sessions",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/devices/sessions/{session_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/devices/sessions/{session_id}` (`devices.sessions.command`, auth `workspace`).
pub const DEVICES_SESSIONS_COMMAND: Endpoint = Endpoint {
    resource: "devices.sessions",
    sdk_method: "command",
    method: HttpMethod::Post,
    path: "/api/v1/devices/sessions/{session_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `DELETE /api/v1/devices/sessions/{session_id}` (`devices.sessions.delete`, auth `workspace`).
pub const DEVICES_SESSIONS_DELETE: Endpoint = Endpoint {
    resource: "devices.sessions",
    sdk_method: "delete",
    method: HttpMethod::Delete,
    path: "/api/v1/devices/sessions/{session_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `POST /api/v1/devices/sessions/{session_id}/cwd` (`devices.sessions.cwd`, auth `workspace`).
pub const DEVICES_SESSIONS_CWD: Endpoint = Endpoint {
    resource: "devices.sessions",
    sdk_method: "cwd",
    method: HttpMethod::Post,
    path: "/api/v1/devices/sessions/{session_id}/cwd",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `PATCH /api/v1/devices/commands/{command_id}` (`devices.commands.update`, auth `workspace`).
pub const DEVICES_COMMANDS_UPDATE: Endpoint = Endpoint {
    resource: "devices.commands",
    sdk_method: "update",
    method: HttpMethod::Patch,
    path: "/api/v1/devices/commands/{command_id}",
    auth: AuthMode::Workspace,
    success: "200",
};
/// `GET /api/v1/healthz` (`platform.health`, auth `none`).
pub const PLATFORM_HEALTH: Endpoint = Endpoint {
    resource: "platform",
    sdk_method: "health",
    method: HttpMethod::Get,
    path: "/api/v1/healthz",
    auth: AuthMode::None,
    success: "200",
};
/// `GET /api/v1/health/readiness` (`platform.readiness`, auth `none`).
pub const PLATFORM_READINESS: Endpoint = Endpoint {
    resource: "platform",
    sdk_method: "readiness",
    method: HttpMethod::Get,
    path: "/api/v1/health/readiness",
    auth: AuthMode::None,
    success: "200",
};
/// `GET /api/v1/agent-docs` (`platform.agent_docs`, auth `none`).
pub const PLATFORM_AGENT_DOCS: Endpoint = Endpoint {
    resource: "platform",
    sdk_method: "agent_docs",
    method: HttpMethod::Get,
    path: "/api/v1/agent-docs",
    auth: AuthMode::None,
    success: "200",
};
/// Every endpoint, in the order of `ENDPOINTS.tsv`.
pub const ALL: &[Endpoint] = &[
    SERVICE_REQUESTS_CREATE,
    SERVICE_REQUESTS_GET,
    BALANCE_GET,
    USAGE_LIST,
    APPROVALS_LIST,
    APPROVALS_APPROVE,
    APPROVALS_REJECT,
    AUDIT_LOGS_LIST,
    AGENTS_LIST,
    AGENTS_CREATE,
    AGENTS_GET,
    AGENTS_UPDATE,
    AGENTS_DELETE,
    AGENTS_RESET_KEY,
    AGENTS_CLONE,
    AGENTS_TRANSFER,
    AGENTS_SET_BUDGET,
    AGENTS_ENABLE_SERVICE,
    AGENTS_DISABLE_SERVICE,
    AGENTS_HEALTH,
    AGENTS_FLEET_HEALTH,
    AGENTS_ACTIVITY,
    AGENTS_SKILLS,
    AGENTS_REMOVE_SKILL,
    SPAWN_CREATE,
    SPAWN_ESTIMATE,
    DELEGATE_CREATE,
    DELEGATE_LIST,
    DELEGATE_GET_TASK,
    DELEGATE_UPDATE_TASK,
    DELEGATE_REATTACH,
    MEMORY_LIST,
    MEMORY_SEARCH,
    MEMORY_CREATE,
    MEMORY_UPDATE,
    MEMORY_DELETE,
    MEMORY_GRAPH,
    WORKFLOWS_LIST,
    WORKFLOWS_CREATE,
    WORKFLOWS_GET,
    WORKFLOWS_UPDATE,
    WORKFLOWS_DELETE,
    WORKFLOWS_CREATE_VERSION,
    WORKFLOWS_PUBLISH_VERSION,
    WORKFLOWS_UNPUBLISH_VERSION,
    WORKFLOWS_SHARE,
    WORKFLOWS_EXPORT,
    WORKFLOWS_RUNS_LIST,
    WORKFLOWS_RUNS_CREATE,
    WORKFLOWS_RUNS_GET,
    WORKFLOWS_RUNS_CANCEL,
    WORKFLOWS_RUNS_RERUN_FAILED,
    WORKFLOWS_RUNS_RETRY_STEP,
    WORKFLOWS_AGENTS_LIST,
    WORKFLOWS_AGENTS_GRANT,
    WORKFLOWS_AGENTS_REVOKE,
    WORKFLOWS_FROM_TEMPLATE_LIST,
    WORKFLOWS_FROM_TEMPLATE_CREATE,
    SCHEDULED_TASKS_LIST,
    SCHEDULED_TASKS_CREATE,
    SCHEDULED_TASKS_GET,
    SCHEDULED_TASKS_UPDATE,
    SCHEDULED_TASKS_DELETE,
    SCHEDULED_TASKS_RUNS,
    AGENT_REQUESTS_LIST,
    AGENT_REQUESTS_CREATE,
    AGENT_REQUESTS_RESOLVE,
    BUDGET_CHECK_CHECK,
    CHAT_TURN,
    CHAT_RESOLVE_APPROVAL,
    CHAT_SESSIONS_LIST,
    CHAT_SESSIONS_CREATE,
    CHAT_SESSIONS_GET,
    CHAT_SESSIONS_DELETE,
    CHAT_SESSIONS_DELETE_ALL,
    TRIGGERS_LIST,
    TRIGGERS_CREATE,
    TRIGGERS_GET,
    TRIGGERS_UPDATE,
    TRIGGERS_DELETE,
    TRIGGERS_FIRE,
    STORAGE_OBJECTS_LIST,
    STORAGE_OBJECTS_GET,
    STORAGE_OBJECTS_DELETE,
    STORAGE_OBJECTS_RESTORE,
    STORAGE_OBJECTS_UPLOAD,
    STORAGE_OBJECTS_PRESIGN,
    STORAGE_OBJECTS_CONFIRM,
    STORAGE_OBJECTS_DOWNLOAD,
    KNOWLEDGE_COLLECTIONS_LIST,
    KNOWLEDGE_COLLECTIONS_CREATE,
    KNOWLEDGE_COLLECTIONS_GET,
    KNOWLEDGE_COLLECTIONS_DELETE,
    KNOWLEDGE_DOCUMENTS_CREATE,
    KNOWLEDGE_DOCUMENTS_GET,
    KNOWLEDGE_DOCUMENTS_DELETE,
    SERVICES_LIST,
    TEAMS_LIST,
    TEAMS_SWITCH,
    TEAMS_BUDGET,
    TEAMS_ALLOCATE_BUDGET,
    TEAMS_MEMBERS_LIST,
    TEAMS_MEMBERS_UPDATE,
    WORKSPACES_LIST,
    WORKSPACES_SWITCH,
    BUDGET_REQUESTS_CREATE,
    BUDGET_REQUESTS_LIST,
    BUDGET_REQUESTS_RESOLVE,
    DEVICES_HEARTBEAT,
    DEVICES_COMMANDS_UPDATE_ALIAS,
    DEVICES_SESSIONS_LIST,
    DEVICES_SESSIONS_UPDATE,
    DEVICES_SESSIONS_COMMAND,
    DEVICES_SESSIONS_DELETE,
    DEVICES_SESSIONS_CWD,
    DEVICES_COMMANDS_UPDATE,
    PLATFORM_HEALTH,
    PLATFORM_READINESS,
    PLATFORM_AGENT_DOCS,
];

#[cfg(test)]
mod tests;
