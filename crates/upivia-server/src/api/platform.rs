//! Liveness, readiness and the machine-readable self-description that
//! agents read to learn the API, the catalog and its prices.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use serde_json::{Value, json};

use super::AppState;
use super::services::catalog_json;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/health/readiness", get(readiness))
        .route("/agent-docs", get(agent_docs))
}

async fn healthz(State(state): State<AppState>) -> (StatusCode, AxumJson<Value>) {
    match state.platform.stores.governance.ping().await {
        Ok(()) => (StatusCode::OK, AxumJson(json!({"ok": true}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                AxumJson(
                    json!({"ok": false, "error": {"code": "unavailable", "message": "database unreachable"}}),
                ),
            )
        }
    }
}

async fn readiness(State(state): State<AppState>) -> (StatusCode, AxumJson<Value>) {
    let db_ok = state.platform.stores.governance.ping().await.is_ok();
    let worker = state.workers.status(state.platform.clock.now());
    let status = match (db_ok, worker.healthy) {
        (true, true) => "ok",
        (false, _) => "down",
        (true, false) => "degraded",
    };
    let code = if db_ok && worker.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": status,
        "checks": {
            "db": if db_ok { "ok" } else { "down" },
            "worker": if worker.healthy { "ok" } else { "stale" },
        },
        "worker_heartbeat_age_ms": worker.age_ms,
    });
    if code != StatusCode::OK {
        body["error"] = json!({"code": "unavailable", "message": format!("readiness is {status}")});
    }
    (code, AxumJson(body))
}

/// One documented endpoint: method, path under `/api/v1`, auth mode.
pub(super) struct EndpointDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub auth: &'static str,
    pub summary: &'static str,
}

/// Every endpoint this server serves. The integration tests call each one
/// and fail if it is not routed, so this list cannot drift from the code.
pub(super) const ENDPOINTS: &[EndpointDoc] = &[
    EndpointDoc {
        method: "GET",
        path: "/healthz",
        auth: "none",
        summary: "Liveness: pings the database.",
    },
    EndpointDoc {
        method: "GET",
        path: "/health/readiness",
        auth: "none",
        summary: "Database and background worker status.",
    },
    EndpointDoc {
        method: "GET",
        path: "/agent-docs",
        auth: "none",
        summary: "This document.",
    },
    EndpointDoc {
        method: "GET",
        path: "/services",
        auth: "none",
        summary: "The catalog: services, operations, prices, input schemas.",
    },
    EndpointDoc {
        method: "POST",
        path: "/auth/login",
        auth: "none",
        summary: "Email and password; sets an HttpOnly session cookie.",
    },
    EndpointDoc {
        method: "POST",
        path: "/auth/logout",
        auth: "workspace",
        summary: "Ends the session.",
    },
    EndpointDoc {
        method: "GET",
        path: "/whoami",
        auth: "workspace",
        summary: "The signed-in user.",
    },
    EndpointDoc {
        method: "POST",
        path: "/service-requests",
        auth: "agent",
        summary: "Submit a governed service request (Idempotency-Key header).",
    },
    EndpointDoc {
        method: "GET",
        path: "/service-requests/{request_id}",
        auth: "agent",
        summary: "A request's current outcome.",
    },
    EndpointDoc {
        method: "GET",
        path: "/approvals",
        auth: "workspace",
        summary: "Approvals, ?status=pending.",
    },
    EndpointDoc {
        method: "POST",
        path: "/approvals/{approval_id}/approve",
        auth: "workspace",
        summary: "Approve and execute the stored request (admin).",
    },
    EndpointDoc {
        method: "POST",
        path: "/approvals/{approval_id}/reject",
        auth: "workspace",
        summary: "Reject the stored request (admin).",
    },
    EndpointDoc {
        method: "GET",
        path: "/balance",
        auth: "workspace",
        summary: "Organisation balance in cents.",
    },
    EndpointDoc {
        method: "POST",
        path: "/balance/credits",
        auth: "workspace",
        summary: "Fund the organisation (owner).",
    },
    EndpointDoc {
        method: "GET",
        path: "/usage",
        auth: "workspace",
        summary: "Charged executions and their total.",
    },
    EndpointDoc {
        method: "GET",
        path: "/audit-logs",
        auth: "workspace",
        summary: "The hash-chained audit trail, cursor-paginated.",
    },
    EndpointDoc {
        method: "GET",
        path: "/agents",
        auth: "agent or workspace",
        summary: "Agents visible to the caller.",
    },
    EndpointDoc {
        method: "POST",
        path: "/agents",
        auth: "workspace",
        summary: "Create an agent; returns its key once.",
    },
    EndpointDoc {
        method: "GET",
        path: "/agents/{agent_id}",
        auth: "workspace",
        summary: "An agent and its service bindings.",
    },
    EndpointDoc {
        method: "PATCH",
        path: "/agents/{agent_id}",
        auth: "workspace",
        summary: "Update name, status, profile.",
    },
    EndpointDoc {
        method: "PATCH",
        path: "/agents/{agent_id}/key",
        auth: "workspace",
        summary: "Rotate the key; the new one is shown once.",
    },
    EndpointDoc {
        method: "PATCH",
        path: "/agents/{agent_id}/budget",
        auth: "workspace",
        summary: "Monthly cap in cents (null: no cap).",
    },
    EndpointDoc {
        method: "POST",
        path: "/agents/{agent_id}/services",
        auth: "workspace",
        summary: "Enable a service or operations with limits.",
    },
    EndpointDoc {
        method: "DELETE",
        path: "/agents/{agent_id}/services",
        auth: "workspace",
        summary: "Disable a service (?service_id=).",
    },
    EndpointDoc {
        method: "PATCH",
        path: "/org",
        auth: "workspace",
        summary: "Organisation settings: the kill switch (admin).",
    },
    EndpointDoc {
        method: "GET",
        path: "/admin/ledger/check",
        auth: "workspace",
        summary: "Verify the ledger invariants (admin).",
    },
    EndpointDoc {
        method: "GET",
        path: "/admin/audit/verify",
        auth: "workspace",
        summary: "Verify the audit hash chain (admin).",
    },
];

async fn agent_docs(State(state): State<AppState>) -> AxumJson<Value> {
    let endpoints: Vec<Value> = ENDPOINTS
        .iter()
        .map(|e| {
            json!({"method": e.method, "path": format!("/api/v1{}", e.path), "auth": e.auth, "summary": e.summary})
        })
        .collect();
    let mut catalog = catalog_json(
        &state.platform.catalog,
        &state.platform.providers,
        crate::model::KeyMode::Live,
    );
    AxumJson(json!({
        "name": "Upivia",
        "api_version": "v1",
        "base_url": &*state.base_url,
        "description": "A governed service execution platform for AI agents: every side effect is a \
            service request that is checked against policy, budget and approval rules, executed \
            through a provider, charged in integer cents and recorded in a tamper-evident audit trail.",
        "auth": {
            "agent": "Authorization: Bearer agent_key_live_… (or agent_key_test_…, sandbox only)",
            "workspace": "Authorization: Bearer upivia_pat_live_…, or the upivia_session cookie from POST /api/v1/auth/login",
            "none": "no credential",
        },
        "conventions": {
            "money": "integer cents in every *_cents field",
            "errors": "{\"error\": {\"code\", \"message\"}}",
            "idempotency": "send Idempotency-Key on POST /service-requests; a repeat replays the stored answer",
            "outcomes": ["executed", "blocked", "approval_required", "failed", "running"],
        },
        "endpoints": endpoints,
        "services": catalog["services"].take(),
    }))
}
