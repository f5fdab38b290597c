//! What each decision about a request writes to the audit trail.

use serde_json::json;

use super::outcome::wire_status;
use crate::model::{AuditEvent, ServiceRequest};

/// `service_request.<status>` for a request in its current state.
pub fn decision(req: &ServiceRequest, actor: &str) -> AuditEvent {
    named(req, actor, wire_status(req.status))
}

/// `service_request.<suffix>`, e.g. `reconciled`.
pub fn named(req: &ServiceRequest, actor: &str, suffix: &str) -> AuditEvent {
    let status = wire_status(req.status);
    let mut details = json!({
        "reason_code": req.reason_code.map(|r| r.as_str()),
        "message": req.message,
        "estimated_cost_cents": req.estimated_cost.get(),
        "approval_id": req.approval_id,
        "binding_id": req.binding_id,
        "payload_digest": req.payload_digest,
    });
    // The MCP client a request came through (`api/mcp`), as it named itself.
    if let Some(client) = req.metadata.as_ref().and_then(|m| m.get("mcp_client")) {
        details["mcp_client"] = client.clone();
    }
    // Each request a provider made, where it reports them (webhooks).
    if let Some(log) = req.result.as_ref().and_then(|r| r.get("attempt_log")) {
        details["attempts"] = log.clone();
    }
    AuditEvent::new(&req.org_id, &format!("service_request.{suffix}"), actor)
        .with_agent(&req.agent_id)
        .with_operation(&req.service, &req.operation)
        .with_status(status)
        .with_request(&req.id)
        .with_cost(req.cost)
        .with_details(details)
}

pub fn agent_actor(agent_id: &str) -> String {
    format!("agent:{agent_id}")
}

pub fn user_actor(user_id: &str) -> String {
    format!("user:{user_id}")
}

pub const SYSTEM: &str = "system";
