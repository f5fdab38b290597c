//! Workflows, versions, publish requests, runs and grants on SQLite. Every
//! decision is a conditional update inside the writer's one-at-a-time
//! jobs: a run saved at a stale revision, a publish decided twice, a lease
//! taken twice change nothing.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::writer::WriteCtx;
use super::{audit, db_error, rows};
use crate::model::AuditEvent;
use crate::store::{
    DecidePublish, GrantChange, PublishDecision, PublishRequest, PublishStatus, RunStatus, SaveRun,
    StoreError, StoreResult, VersionStatus, Workflow, WorkflowGrant, WorkflowRun, WorkflowVersion,
};

fn bad(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("bad value in column {column}: {value:?}").into(),
    )
}

const WF_COLUMNS: &str = "id, org_id, agent_id, name, description, category, icon, status, \
    share_scope, created_by, created_at, updated_at, deleted_at";

fn workflow_row(row: &Row<'_>) -> rusqlite::Result<Workflow> {
    Ok(Workflow {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        agent_id: row.get("agent_id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        category: row.get("category")?,
        icon: row.get("icon")?,
        status: row.get("status")?,
        share_scope: row.get("share_scope")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        deleted_at: rows::opt_time_col(row, "deleted_at")?,
    })
}

const V_COLUMNS: &str =
    "id, workflow_id, org_id, number, status, definition, created_by, created_at, published_at";

fn version_row(row: &Row<'_>) -> rusqlite::Result<WorkflowVersion> {
    let status: String = row.get("status")?;
    Ok(WorkflowVersion {
        id: row.get("id")?,
        workflow_id: row.get("workflow_id")?,
        org_id: row.get("org_id")?,
        number: row.get("number")?,
        status: VersionStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        definition: rows::json_col(row, "definition")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        published_at: rows::opt_time_col(row, "published_at")?,
    })
}

const P_COLUMNS: &str = "p.id, p.org_id, p.workflow_id, p.version_id, w.name AS workflow_name, \
    w.agent_id, p.status, p.requested_by, p.note, p.decided_by, p.decided_at, p.created_at";
const P_FROM: &str = "workflow_publish_requests p JOIN workflows w ON w.id = p.workflow_id";

fn publish_row(row: &Row<'_>) -> rusqlite::Result<PublishRequest> {
    let status: String = row.get("status")?;
    Ok(PublishRequest {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        workflow_id: row.get("workflow_id")?,
        version_id: row.get("version_id")?,
        workflow_name: row.get("workflow_name")?,
        agent_id: row.get("agent_id")?,
        status: PublishStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        requested_by: row.get("requested_by")?,
        note: row.get("note")?,
        decided_by: row.get("decided_by")?,
        decided_at: rows::opt_time_col(row, "decided_at")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

const R_COLUMNS: &str = "id, org_id, workflow_id, version_id, agent_id, status, input, \
    budget_cents, test_run, error, steps, revision, triggered_by, lease_until, created_at, \
    updated_at, finished_at";

fn run_row(row: &Row<'_>) -> rusqlite::Result<WorkflowRun> {
    let status: String = row.get("status")?;
    Ok(WorkflowRun {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        workflow_id: row.get("workflow_id")?,
        version_id: row.get("version_id")?,
        agent_id: row.get("agent_id")?,
        status: RunStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        input: rows::json_col(row, "input")?,
        budget_cents: row.get("budget_cents")?,
        test_run: row.get("test_run")?,
        error: row.get("error")?,
        steps: rows::json_col(row, "steps")?,
        revision: row.get("revision")?,
        triggered_by: row.get("triggered_by")?,
        lease_until: rows::opt_time_col(row, "lease_until")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        finished_at: rows::opt_time_col(row, "finished_at")?,
    })
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_error)?;
    stmt.query_map(params, f)
        .map_err(db_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_error)
}

fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params, f).optional())
        .map_err(db_error)
}

pub(super) fn workflow(conn: &Connection, org: &str, id: &str) -> StoreResult<Option<Workflow>> {
    let sql = format!(
        "SELECT {WF_COLUMNS} FROM workflows WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL"
    );
    one(conn, &sql, params![id, org], workflow_row)
}

pub(super) fn workflows(
    conn: &Connection,
    org: &str,
    category: Option<&str>,
) -> StoreResult<Vec<Workflow>> {
    let sql = format!(
        "SELECT {WF_COLUMNS} FROM workflows WHERE org_id = ?1 AND deleted_at IS NULL \
         AND (?2 IS NULL OR category = ?2) ORDER BY created_at DESC, id DESC"
    );
    all(conn, &sql, params![org, category], workflow_row)
}

pub(super) fn create_workflow(
    ctx: &mut WriteCtx<'_>,
    w: Workflow,
    event: AuditEvent,
) -> StoreResult<Workflow> {
    ctx.conn
        .execute(
            "INSERT INTO workflows (id, org_id, agent_id, name, description, category, icon, \
             status, share_scope, created_by, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
            params![
                w.id,
                w.org_id,
                w.agent_id,
                w.name,
                w.description,
                w.category,
                w.icon,
                w.status,
                w.share_scope,
                w.created_by,
                rows::ts(w.created_at)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, w.created_at)?;
    workflow(ctx.conn, &w.org_id, &w.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn save_workflow(
    ctx: &mut WriteCtx<'_>,
    w: Workflow,
    expected: time::OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<Workflow> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflows SET name = ?1, description = ?2, category = ?3, icon = ?4, \
             status = ?5, share_scope = ?6, updated_at = ?7, deleted_at = ?8 \
             WHERE id = ?9 AND org_id = ?10 AND deleted_at IS NULL AND updated_at = ?11",
            params![
                w.name,
                w.description,
                w.category,
                w.icon,
                w.status,
                w.share_scope,
                rows::ts(w.updated_at),
                w.deleted_at.map(rows::ts),
                w.id,
                w.org_id,
                rows::ts(expected)
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return match workflow(ctx.conn, &w.org_id, &w.id)? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::Conflict(
                "the workflow changed meanwhile; read it and try again".into(),
            )),
        };
    }
    audit::append(ctx, event, w.updated_at)?;
    Ok(w)
}

pub(super) fn version(
    conn: &Connection,
    org: &str,
    id: &str,
) -> StoreResult<Option<WorkflowVersion>> {
    let sql = format!("SELECT {V_COLUMNS} FROM workflow_versions WHERE id = ?1 AND org_id = ?2");
    one(conn, &sql, params![id, org], version_row)
}

pub(super) fn versions(
    conn: &Connection,
    org: &str,
    workflow_id: &str,
) -> StoreResult<Vec<WorkflowVersion>> {
    let sql = format!(
        "SELECT {V_COLUMNS} FROM workflow_versions WHERE workflow_id = ?1 AND org_id = ?2 \
         ORDER BY number DESC"
    );
    all(conn, &sql, params![workflow_id, org], version_row)
}

pub(super) fn create_version(
    ctx: &mut WriteCtx<'_>,
    v: WorkflowVersion,
    event: AuditEvent,
) -> StoreResult<WorkflowVersion> {
    ctx.conn
        .execute(
            "INSERT INTO workflow_versions (id, workflow_id, org_id, number, status, definition, \
             created_by, created_at) \
             SELECT ?1, ?2, ?3, COALESCE(MAX(number), 0) + 1, 'draft', ?4, ?5, ?6 \
             FROM workflow_versions WHERE workflow_id = ?2",
            params![
                v.id,
                v.workflow_id,
                v.org_id,
                v.definition.to_string(),
                v.created_by,
                rows::ts(v.created_at)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, v.created_at)?;
    version(ctx.conn, &v.org_id, &v.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn unpublish(
    ctx: &mut WriteCtx<'_>,
    org: &str,
    id: &str,
    now: time::OffsetDateTime,
    event: AuditEvent,
) -> StoreResult<WorkflowVersion> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflow_versions SET status = 'draft', published_at = NULL \
             WHERE id = ?1 AND org_id = ?2 AND status = 'published'",
            params![id, org],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    audit::append(ctx, event, now)?;
    version(ctx.conn, org, id)?.ok_or(StoreError::NotFound)
}

pub(super) fn publish_request(
    conn: &Connection,
    org: &str,
    id: &str,
) -> StoreResult<Option<PublishRequest>> {
    let sql = format!("SELECT {P_COLUMNS} FROM {P_FROM} WHERE p.id = ?1 AND p.org_id = ?2");
    one(conn, &sql, params![id, org], publish_row)
}

pub(super) fn publish_requests(
    conn: &Connection,
    org: &str,
    status: Option<&str>,
) -> StoreResult<Vec<PublishRequest>> {
    let sql = format!(
        "SELECT {P_COLUMNS} FROM {P_FROM} WHERE p.org_id = ?1 AND (?2 IS NULL OR p.status = ?2) \
         AND w.deleted_at IS NULL ORDER BY p.created_at DESC, p.id DESC"
    );
    all(conn, &sql, params![org, status], publish_row)
}

pub(super) fn request_publish(
    ctx: &mut WriteCtx<'_>,
    p: PublishRequest,
    event: AuditEvent,
) -> StoreResult<PublishRequest> {
    let pending = format!(
        "SELECT {P_COLUMNS} FROM {P_FROM} WHERE p.version_id = ?1 AND p.status = 'pending'"
    );
    if let Some(existing) = one(ctx.conn, &pending, params![p.version_id], publish_row)? {
        return Ok(existing);
    }
    ctx.conn
        .execute(
            "INSERT INTO workflow_publish_requests (id, org_id, workflow_id, version_id, status, \
             requested_by, note, created_at) VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7)",
            params![
                p.id,
                p.org_id,
                p.workflow_id,
                p.version_id,
                p.requested_by,
                p.note,
                rows::ts(p.created_at)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, p.created_at)?;
    publish_request(ctx.conn, &p.org_id, &p.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn decide_publish(
    ctx: &mut WriteCtx<'_>,
    d: DecidePublish,
) -> StoreResult<PublishDecision> {
    let org = d.org_id.as_str();
    let now = rows::ts(d.now);
    let status = if d.approve { "approved" } else { "rejected" };
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflow_publish_requests SET status = ?1, decided_by = ?2, decided_at = ?3, \
             note = COALESCE(?4, note) WHERE id = ?5 AND org_id = ?6 AND status = 'pending'",
            params![status, d.user_id.as_str(), now, d.note, d.id, org],
        )
        .map_err(db_error)?;
    let current = publish_request(ctx.conn, org, &d.id)?.ok_or(StoreError::NotFound)?;
    if changed == 0 {
        return Ok(PublishDecision::AlreadyDecided(current));
    }
    if d.approve {
        ctx.conn
            .execute(
                "UPDATE workflow_versions SET status = 'draft', published_at = NULL \
                 WHERE workflow_id = ?1 AND status = 'published'",
                params![current.workflow_id],
            )
            .map_err(db_error)?;
        ctx.conn
            .execute(
                "UPDATE workflow_versions SET status = 'published', published_at = ?1 WHERE id = ?2",
                params![now, current.version_id],
            )
            .map_err(db_error)?;
    }
    audit::append(ctx, d.audit, d.now)?;
    Ok(PublishDecision::Decided(current))
}

pub(super) fn run(
    conn: &Connection,
    org: Option<&str>,
    id: &str,
) -> StoreResult<Option<WorkflowRun>> {
    let sql = format!(
        "SELECT {R_COLUMNS} FROM workflow_runs WHERE id = ?1 AND (?2 IS NULL OR org_id = ?2)"
    );
    one(conn, &sql, params![id, org], run_row)
}

pub(super) fn runs(
    conn: &Connection,
    org: &str,
    workflow_id: Option<&str>,
    status: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<WorkflowRun>> {
    let sql = format!(
        "SELECT {R_COLUMNS} FROM workflow_runs WHERE org_id = ?1 \
         AND (?2 IS NULL OR workflow_id = ?2) AND (?3 IS NULL OR status = ?3) \
         ORDER BY created_at DESC, id DESC LIMIT ?4"
    );
    all(
        conn,
        &sql,
        params![org, workflow_id, status, limit],
        run_row,
    )
}

pub(super) fn runs_to_advance(
    conn: &Connection,
    now: &str,
    limit: u32,
) -> StoreResult<Vec<WorkflowRun>> {
    let sql = format!(
        "SELECT {R_COLUMNS} FROM workflow_runs \
         WHERE status IN ('pending', 'running', 'waiting_approval') \
         AND (lease_until IS NULL OR lease_until <= ?1) ORDER BY updated_at LIMIT ?2"
    );
    all(conn, &sql, params![now, limit], run_row)
}

pub(super) fn create_run(
    ctx: &mut WriteCtx<'_>,
    r: WorkflowRun,
    event: AuditEvent,
) -> StoreResult<WorkflowRun> {
    ctx.conn
        .execute(
            "INSERT INTO workflow_runs (id, org_id, workflow_id, version_id, agent_id, status, \
             input, budget_cents, test_run, error, steps, revision, triggered_by, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
            params![
                r.id,
                r.org_id,
                r.workflow_id,
                r.version_id,
                r.agent_id,
                r.status.as_str(),
                r.input.to_string(),
                r.budget_cents,
                r.test_run,
                r.error,
                r.steps.to_string(),
                r.revision,
                r.triggered_by,
                rows::ts(r.created_at)
            ],
        )
        .map_err(db_error)?;
    audit::append(ctx, event, r.created_at)?;
    run(ctx.conn, None, &r.id)?.ok_or(StoreError::NotFound)
}

pub(super) fn lease(ctx: &mut WriteCtx<'_>, id: &str, now: &str, until: &str) -> StoreResult<bool> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflow_runs SET lease_until = ?1 \
             WHERE id = ?2 AND (lease_until IS NULL OR lease_until <= ?3)",
            params![until, id, now],
        )
        .map_err(db_error)?;
    Ok(changed == 1)
}

pub(super) fn release(ctx: &mut WriteCtx<'_>, id: Option<&str>) -> StoreResult<u64> {
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflow_runs SET lease_until = NULL \
             WHERE (?1 IS NULL OR id = ?1) AND lease_until IS NOT NULL",
            params![id],
        )
        .map_err(db_error)?;
    Ok(changed as u64)
}

pub(super) fn save_run(ctx: &mut WriteCtx<'_>, s: SaveRun) -> StoreResult<WorkflowRun> {
    let r = &s.run;
    let changed = ctx
        .conn
        .execute(
            "UPDATE workflow_runs SET status = ?1, error = ?2, steps = ?3, revision = revision + 1, \
             updated_at = ?4, finished_at = ?5 WHERE id = ?6 AND revision = ?7",
            params![
                r.status.as_str(),
                r.error,
                r.steps.to_string(),
                rows::ts(s.now),
                r.finished_at.map(rows::ts),
                r.id,
                s.expected_revision
            ],
        )
        .map_err(db_error)?;
    if changed == 0 {
        return match run(ctx.conn, None, &r.id)? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::Conflict(
                "the run changed meanwhile; read it and try again".into(),
            )),
        };
    }
    for event in s.audit {
        audit::append(ctx, event, s.now)?;
    }
    run(ctx.conn, None, &r.id)?.ok_or(StoreError::NotFound)
}

fn grant_row(row: &Row<'_>) -> rusqlite::Result<WorkflowGrant> {
    Ok(WorkflowGrant {
        workflow_id: row.get("workflow_id")?,
        agent_id: row.get("agent_id")?,
        agent_name: row.get("agent_name")?,
        granted_by: row.get("granted_by")?,
        created_at: rows::time_col(row, "created_at")?,
    })
}

pub(super) fn grants(
    conn: &Connection,
    org: &str,
    workflow_id: &str,
) -> StoreResult<Vec<WorkflowGrant>> {
    all(
        conn,
        "SELECT g.workflow_id, g.agent_id, a.name AS agent_name, g.granted_by, g.created_at \
         FROM workflow_grants g LEFT JOIN agents a ON a.id = g.agent_id AND a.deleted_at IS NULL \
         WHERE g.workflow_id = ?1 AND g.org_id = ?2 ORDER BY g.created_at, g.agent_id",
        params![workflow_id, org],
        grant_row,
    )
}

pub(super) fn granted_workflows(
    conn: &Connection,
    org: &str,
    agent: &str,
) -> StoreResult<Vec<Workflow>> {
    let sql = format!(
        "SELECT {WF_COLUMNS} FROM workflows WHERE org_id = ?1 AND deleted_at IS NULL AND id IN \
         (SELECT workflow_id FROM workflow_grants WHERE agent_id = ?2) ORDER BY created_at DESC"
    );
    all(conn, &sql, params![org, agent], workflow_row)
}

pub(super) fn set_grant(ctx: &mut WriteCtx<'_>, g: GrantChange) -> StoreResult<()> {
    let changed = if g.granted {
        ctx.conn.execute(
            "INSERT INTO workflow_grants (workflow_id, agent_id, org_id, granted_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workflow_id, agent_id) DO NOTHING",
            params![
                g.workflow_id,
                g.agent_id.as_str(),
                g.org_id.as_str(),
                g.by,
                rows::ts(g.now)
            ],
        )
    } else {
        ctx.conn.execute(
            "DELETE FROM workflow_grants WHERE workflow_id = ?1 AND agent_id = ?2 AND org_id = ?3",
            params![g.workflow_id, g.agent_id.as_str(), g.org_id.as_str()],
        )
    }
    .map_err(db_error)?;
    if changed == 0 {
        // Granting again is a no-op; revoking nothing is not found.
        return if g.granted {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        };
    }
    audit::append(ctx, g.audit, g.now)
}
