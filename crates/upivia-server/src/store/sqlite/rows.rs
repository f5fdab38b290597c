//! Mapping between SQLite rows and domain records. Conversions are checked
//! (`try_from`, parse) so a bad row is an error, never a panic.

use std::cell::Cell;

use rusqlite::Row;
use rusqlite::types::FromSql;
use serde_json::Value;
use time::OffsetDateTime;

use crate::clock::{parse_rfc3339, rfc3339};
use crate::model::agent::{AgentSetters, BindingSetters};
use crate::model::{
    Agent, AgentStatus, Approval, ApprovalStatus, AuditEntry, AuditEvent, Binding, KeyMode,
    OutcomeReview, ReasonCode, RequestStatus, ReviewStatus, Role, ServiceRequest, UsageRecord,
};
use crate::money::Cents;

fn bad(column: &str, raw: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {raw:?}").into(),
    )
}

/// A row whose columns are read by name.
pub(super) trait Named {
    fn get<T: FromSql>(&self, column: &str) -> rusqlite::Result<T>;
}

impl Named for Row<'_> {
    fn get<T: FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        Row::get(self, column)
    }
}

/// A row read by column name, cheaply when the columns are read in the
/// order they were selected. rusqlite finds a name by comparing it with
/// every column's name in turn (a C call each), so reading all of a
/// 20-column row by name made about 200 calls; this compares each name
/// first with the column after the one read last, and only when that is
/// not it searches as rusqlite does.
pub(super) struct Columns<'r, 's> {
    row: &'r Row<'s>,
    next: Cell<usize>,
}

impl<'r, 's> Columns<'r, 's> {
    pub(super) fn new(row: &'r Row<'s>) -> Self {
        Columns {
            row,
            next: Cell::new(0),
        }
    }
}

impl Named for Columns<'_, '_> {
    fn get<T: FromSql>(&self, column: &str) -> rusqlite::Result<T> {
        let stmt = self.row.as_ref();
        let guess = self.next.get();
        let index = if stmt.column_name(guess).is_ok_and(|name| name == column) {
            guess
        } else {
            stmt.column_index(column)?
        };
        self.next.set(index + 1);
        self.row.get(index)
    }
}

pub(super) fn ts(t: OffsetDateTime) -> String {
    rfc3339(t)
}

pub(super) fn time_col(
    row: &(impl Named + ?Sized),
    column: &str,
) -> rusqlite::Result<OffsetDateTime> {
    let raw: String = row.get(column)?;
    parse_rfc3339(&raw).ok_or_else(|| bad(column, &raw))
}

pub(super) fn opt_time_col(
    row: &(impl Named + ?Sized),
    column: &str,
) -> rusqlite::Result<Option<OffsetDateTime>> {
    let raw: Option<String> = row.get(column)?;
    raw.map(|r| parse_rfc3339(&r).ok_or_else(|| bad(column, &r)))
        .transpose()
}

pub(super) fn cents_col(row: &(impl Named + ?Sized), column: &str) -> rusqlite::Result<Cents> {
    Ok(Cents::new(row.get(column)?))
}

pub(super) fn opt_cents_col(
    row: &(impl Named + ?Sized),
    column: &str,
) -> rusqlite::Result<Option<Cents>> {
    Ok(row.get::<Option<i64>>(column)?.map(Cents::new))
}

pub(super) fn opt_u32_col(
    row: &(impl Named + ?Sized),
    column: &str,
) -> rusqlite::Result<Option<u32>> {
    let raw: Option<i64> = row.get(column)?;
    raw.map(|v| u32::try_from(v).map_err(|_| bad(column, &v.to_string())))
        .transpose()
}

pub(super) fn json_col(row: &(impl Named + ?Sized), column: &str) -> rusqlite::Result<Value> {
    let raw: String = row.get(column)?;
    serde_json::from_str(&raw).map_err(|_| bad(column, &raw))
}

pub(super) fn opt_json_col(
    row: &(impl Named + ?Sized),
    column: &str,
) -> rusqlite::Result<Option<Value>> {
    let raw: Option<String> = row.get(column)?;
    raw.map(|r| serde_json::from_str(&r).map_err(|_| bad(column, &r)))
        .transpose()
}

pub(super) fn opt_i64(v: Option<Cents>) -> Option<i64> {
    v.map(Cents::get)
}

pub(super) const AGENT_COLUMNS: &str = "id, org_id, team_id, owner_user_id, name, description, status, \
    key_mode, monthly_budget_cents, daily_request_limit, rate_limit_per_minute, default_model_id, \
    profile, created_at, updated_at, status_set_by_role, monthly_budget_set_by_role, \
    daily_request_limit_set_by_role, rate_limit_set_by_role, parent_agent_id, spawn_depth";

pub(super) fn role_col(row: &(impl Named + ?Sized), column: &str) -> rusqlite::Result<Role> {
    let raw: String = row.get(column)?;
    Role::parse(&raw).ok_or_else(|| bad(column, &raw))
}

pub(super) fn agent(row: &Row<'_>) -> rusqlite::Result<Agent> {
    // Fields in the order of AGENT_COLUMNS (see `Columns`).
    let row = &Columns::new(row);
    Ok(Agent {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        team_id: row.get("team_id")?,
        owner_user_id: row.get("owner_user_id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        status: {
            let status: String = row.get("status")?;
            AgentStatus::parse(&status).ok_or_else(|| bad("status", &status))?
        },
        key_mode: {
            let key_mode: String = row.get("key_mode")?;
            KeyMode::parse(&key_mode).ok_or_else(|| bad("key_mode", &key_mode))?
        },
        monthly_budget: opt_cents_col(row, "monthly_budget_cents")?,
        daily_request_limit: opt_u32_col(row, "daily_request_limit")?,
        rate_limit_per_minute: opt_u32_col(row, "rate_limit_per_minute")?,
        default_model_id: row.get("default_model_id")?,
        profile: json_col(row, "profile")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
        set_by: AgentSetters {
            status: role_col(row, "status_set_by_role")?,
            monthly_budget: role_col(row, "monthly_budget_set_by_role")?,
            daily_request_limit: role_col(row, "daily_request_limit_set_by_role")?,
            rate_limit: role_col(row, "rate_limit_set_by_role")?,
        },
        parent_agent_id: row.get("parent_agent_id")?,
        spawn_depth: row.get("spawn_depth")?,
    })
}

pub(super) const BINDING_COLUMNS: &str = "id, agent_id, service_id, operation, require_approval, \
    approval_threshold_cents, max_cost_cents, monthly_budget_cents, daily_request_limit, \
    rate_limit_per_minute, created_at, updated_at, enabled, enabled_set_by_role, \
    require_approval_set_by_role, approval_threshold_set_by_role, max_cost_set_by_role, \
    monthly_budget_set_by_role, daily_request_limit_set_by_role, rate_limit_set_by_role";

pub(super) fn binding(row: &Row<'_>) -> rusqlite::Result<Binding> {
    // Fields in the order of BINDING_COLUMNS (see `Columns`).
    let row = &Columns::new(row);
    Ok(Binding {
        id: row.get("id")?,
        agent_id: row.get("agent_id")?,
        service_id: row.get("service_id")?,
        operation: {
            let operation: String = row.get("operation")?;
            (operation != "*").then_some(operation)
        },
        require_approval: row.get("require_approval")?,
        approval_threshold: opt_cents_col(row, "approval_threshold_cents")?,
        max_cost: opt_cents_col(row, "max_cost_cents")?,
        monthly_budget: opt_cents_col(row, "monthly_budget_cents")?,
        daily_request_limit: opt_u32_col(row, "daily_request_limit")?,
        rate_limit_per_minute: opt_u32_col(row, "rate_limit_per_minute")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
        enabled: row.get("enabled")?,
        set_by: BindingSetters {
            enabled: role_col(row, "enabled_set_by_role")?,
            require_approval: role_col(row, "require_approval_set_by_role")?,
            approval_threshold: role_col(row, "approval_threshold_set_by_role")?,
            max_cost: role_col(row, "max_cost_set_by_role")?,
            monthly_budget: role_col(row, "monthly_budget_set_by_role")?,
            daily_request_limit: role_col(row, "daily_request_limit_set_by_role")?,
            rate_limit: role_col(row, "rate_limit_set_by_role")?,
        },
    })
}

pub(super) const REQUEST_COLUMNS: &str = "r.id, r.org_id, r.agent_id, r.binding_id, r.service, \
    r.operation, r.payload, r.metadata, r.payload_digest, r.status, r.reason_code, r.message, \
    r.estimated_cost_cents, r.initial_cost_cents, r.cost_cents, r.result, r.provider, \
    r.external_id, r.approval_id, r.idempotency_key, r.created_at, r.started_at, r.updated_at, \
    r.provider_started_at, a.expires_at AS approval_expires_at";

/// `FROM` clause matching [`REQUEST_COLUMNS`].
pub(super) const REQUEST_FROM: &str =
    "service_requests r LEFT JOIN approvals a ON a.id = r.approval_id";

pub(super) fn request(row: &Row<'_>) -> rusqlite::Result<ServiceRequest> {
    // Fields in the order of REQUEST_COLUMNS (see `Columns`).
    let row = &Columns::new(row);
    Ok(ServiceRequest {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        binding_id: row.get("binding_id")?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        payload: json_col(row, "payload")?,
        metadata: opt_json_col(row, "metadata")?,
        payload_digest: row.get("payload_digest")?,
        status: {
            let status: String = row.get("status")?;
            RequestStatus::parse(&status).ok_or_else(|| bad("status", &status))?
        },
        reason_code: {
            let reason: Option<String> = row.get("reason_code")?;
            reason
                .map(|r| ReasonCode::parse(&r).ok_or_else(|| bad("reason_code", &r)))
                .transpose()?
        },
        message: row.get("message")?,
        estimated_cost: cents_col(row, "estimated_cost_cents")?,
        initial_cost: opt_cents_col(row, "initial_cost_cents")?,
        cost: cents_col(row, "cost_cents")?,
        result: opt_json_col(row, "result")?,
        provider: row.get("provider")?,
        external_id: row.get("external_id")?,
        approval_id: row.get("approval_id")?,
        idempotency_key: row.get("idempotency_key")?,
        created_at: time_col(row, "created_at")?,
        started_at: opt_time_col(row, "started_at")?,
        updated_at: time_col(row, "updated_at")?,
        provider_started_at: opt_time_col(row, "provider_started_at")?,
        approval_expires_at: opt_time_col(row, "approval_expires_at")?,
    })
}

pub(super) const APPROVAL_SELECT: &str = "SELECT ap.id, ap.org_id, ap.agent_id, ag.name AS agent_name, \
    ap.request_id, r.service, r.operation, r.payload, ap.payload_digest, ap.status, \
    ap.estimated_cost_cents, ap.expires_at, ap.decided_at, ap.decided_by, ap.created_at \
    FROM approvals ap JOIN service_requests r ON r.id = ap.request_id \
    JOIN agents ag ON ag.id = ap.agent_id";

pub(super) fn approval(row: &Row<'_>) -> rusqlite::Result<Approval> {
    let row = &Columns::new(row);
    let status: String = row.get("status")?;
    Ok(Approval {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        agent_name: row.get("agent_name")?,
        request_id: row.get("request_id")?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        payload: json_col(row, "payload")?,
        payload_digest: row.get("payload_digest")?,
        status: ApprovalStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        estimated_cost: cents_col(row, "estimated_cost_cents")?,
        expires_at: time_col(row, "expires_at")?,
        decided_at: opt_time_col(row, "decided_at")?,
        decided_by: row.get("decided_by")?,
        created_at: time_col(row, "created_at")?,
    })
}

pub(super) const REVIEW_SELECT: &str = "SELECT o.id, o.org_id, o.agent_id, ag.name AS agent_name, \
    o.request_id, r.service, r.operation, r.payload, o.provider, o.held_cents, o.status, \
    o.charged_cents, o.decided_at, o.decided_by, o.created_at \
    FROM outcome_reviews o JOIN service_requests r ON r.id = o.request_id \
    JOIN agents ag ON ag.id = o.agent_id";

pub(super) fn review(row: &Row<'_>) -> rusqlite::Result<OutcomeReview> {
    let row = &Columns::new(row);
    let status: String = row.get("status")?;
    Ok(OutcomeReview {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        agent_name: row.get("agent_name")?,
        request_id: row.get("request_id")?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        payload: json_col(row, "payload")?,
        provider: row.get("provider")?,
        held: cents_col(row, "held_cents")?,
        status: ReviewStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        charged: opt_cents_col(row, "charged_cents")?,
        decided_at: opt_time_col(row, "decided_at")?,
        decided_by: row.get("decided_by")?,
        created_at: time_col(row, "created_at")?,
    })
}

pub(super) const AUDIT_COLUMNS: &str = "seq, id, org_id, event_type, actor, agent_id, service, \
    operation, status, request_id, cost_cents, details, created_at, prev_hash, hash, mac";

pub(super) fn audit_entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let row = &Columns::new(row);
    Ok(AuditEntry {
        seq: row.get("seq")?,
        id: row.get("id")?,
        event: AuditEvent {
            org_id: row.get("org_id")?,
            event_type: row.get("event_type")?,
            actor: row.get("actor")?,
            agent_id: row.get("agent_id")?,
            service: row.get("service")?,
            operation: row.get("operation")?,
            status: row.get("status")?,
            request_id: row.get("request_id")?,
            cost: opt_cents_col(row, "cost_cents")?,
            details: json_col(row, "details")?,
        },
        created_at: time_col(row, "created_at")?,
        prev_hash: row.get("prev_hash")?,
        hash: row.get("hash")?,
        mac: row.get("mac")?,
    })
}

/// A usage record from an executed request row (its id is the request's).
pub(super) fn usage_record(row: &Row<'_>) -> rusqlite::Result<UsageRecord> {
    let row = &Columns::new(row);
    Ok(UsageRecord {
        id: row.get("id")?,
        agent_id: row.get("agent_id")?,
        request_id: row.get("id")?,
        service: row.get("service")?,
        operation: row.get("operation")?,
        cost: cents_col(row, "cost_cents")?,
        created_at: time_col(row, "created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{Columns, Named};

    #[test]
    fn columns_read_in_any_order_as_by_name() {
        let conn = Connection::open_in_memory().expect("open");
        let read = |order: &[&str]| -> Vec<i64> {
            conn.query_row("SELECT 1 AS a, 2 AS b, 3 AS c, 4 AS d", [], |row| {
                let row = Columns::new(row);
                order.iter().map(|name| row.get::<i64>(name)).collect()
            })
            .expect("row")
        };
        assert_eq!(read(&["a", "b", "c", "d"]), [1, 2, 3, 4]);
        assert_eq!(read(&["c", "a", "d", "b", "b"]), [3, 1, 4, 2, 2]);
        // Names match without regard to case, as rusqlite's lookup does.
        assert_eq!(read(&["A", "b", "C"]), [1, 2, 3]);
        let missing = conn.query_row("SELECT 1 AS a", [], |row| Columns::new(row).get::<i64>("z"));
        assert!(missing.is_err());
    }
}
