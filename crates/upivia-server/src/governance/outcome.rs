//! The outcome of a service request as clients see it: one JSON shape told
//! apart by `status` (`executed | blocked | approval_required | failed |
//! running`). The same rendering answers the create, GET, approve and
//! reject calls, and is what an idempotent replay returns.
//!
//! This is the wire format the official SDK pins, built here (and not in
//! `api/`) because the pipeline stores it for idempotent replays.

use serde_json::{Map, Value, json};

use crate::clock::rfc3339;
use crate::model::{RequestStatus, ServiceRequest};
use crate::store::StoredResponse;

/// Wire name of a request's status.
pub fn wire_status(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::AwaitingApproval => "approval_required",
        RequestStatus::Executing | RequestStatus::Running => "running",
        RequestStatus::Executed => "executed",
        RequestStatus::Blocked => "blocked",
        RequestStatus::Failed => "failed",
    }
}

/// HTTP status of a create answer: 202 while running, else 200.
pub fn http_status(status: RequestStatus) -> u16 {
    match status {
        RequestStatus::Executing | RequestStatus::Running => 202,
        _ => 200,
    }
}

pub fn render(req: &ServiceRequest) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), json!(wire_status(req.status)));
    out.insert("request_id".into(), json!(req.id));
    out.insert("service".into(), json!(req.service));
    out.insert("operation".into(), json!(req.operation));
    out.insert(
        "estimated_cost_cents".into(),
        json!(req.estimated_cost.get()),
    );
    out.insert("created_at".into(), json!(rfc3339(req.created_at)));
    match req.status {
        RequestStatus::Executed => {
            out.insert("cost_cents".into(), json!(req.cost.get()));
            out.insert("actual_cost_cents".into(), json!(req.cost.get()));
            let result = req.result.clone().unwrap_or_else(|| json!({}));
            if req.service == "platform" && req.operation == "check_budget" {
                // The SDK's budget check reads these at the top level.
                if let Value::Object(fields) = &result {
                    for (k, v) in fields {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            out.insert("result".into(), result);
            if let Some(provider) = &req.provider {
                out.insert("provider".into(), json!(provider));
            }
        }
        RequestStatus::Blocked | RequestStatus::Failed => {
            out.insert(
                "reason_code".into(),
                json!(req.reason_code.map(|r| r.as_str())),
            );
            out.insert("message".into(), json!(req.message));
            out.insert("cost_cents".into(), json!(0));
        }
        RequestStatus::AwaitingApproval => {
            out.insert("approval_id".into(), json!(req.approval_id));
            out.insert(
                "expires_at".into(),
                json!(req.approval_expires_at.map(rfc3339)),
            );
            out.insert(
                "message".into(),
                json!("this request needs a human's approval before it runs"),
            );
        }
        RequestStatus::Executing | RequestStatus::Running => {
            out.insert(
                "initial_cost_cents".into(),
                json!(req.initial_cost.unwrap_or(req.estimated_cost).get()),
            );
            out.insert("provider".into(), json!(req.provider));
            out.insert("external_id".into(), json!(req.external_id));
        }
    }
    Value::Object(out)
}

/// The answer to a create call, as stored for replays.
pub fn response(req: &ServiceRequest) -> StoredResponse {
    StoredResponse {
        status: http_status(req.status),
        body: render(req),
    }
}

/// Counts a decision in `upivia_decisions_total` and logs it: one `info`
/// line per decided request, with what an operator needs to find it.
pub fn decided(platform: &crate::platform::Platform, req: &ServiceRequest) {
    let status = wire_status(req.status);
    metrics::counter!("upivia_decisions_total", "status" => status).increment(1);
    let took = platform.clock.now() - req.created_at;
    tracing::info!(
        request_id = %req.id,
        agent_id = %req.agent_id,
        operation = %format_args!("{}.{}", req.service, req.operation),
        outcome = status,
        reason = req.reason_code.map(|r| r.as_str()),
        cost_cents = req.cost.get(),
        duration_ms = took.whole_milliseconds() as i64,
        "decision"
    );
}
