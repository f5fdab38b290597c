//! `WorkflowStore` on PostgreSQL, with the answers of
//! `sqlite/workflows.rs`. A run saved at a stale revision, a publish
//! decided twice, a lease taken twice: the second of two nodes waits for
//! the first's row lock, then finds the row moved on and changes nothing.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::rows::json;
use super::{PgStore, audit, db_error};
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::store::*;

const WF_COLUMNS: &str = "id, org_id, agent_id, name, description, category, icon, status, \
    share_scope, created_by, created_at, updated_at, deleted_at";

#[derive(sqlx::FromRow)]
struct WfRow {
    id: String,
    org_id: String,
    agent_id: String,
    name: String,
    description: Option<String>,
    category: Option<String>,
    icon: Option<String>,
    status: String,
    share_scope: String,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

impl From<WfRow> for Workflow {
    fn from(r: WfRow) -> Workflow {
        Workflow {
            id: r.id,
            org_id: r.org_id,
            agent_id: r.agent_id,
            name: r.name,
            description: r.description,
            category: r.category,
            icon: r.icon,
            status: r.status,
            share_scope: r.share_scope,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        }
    }
}

const V_COLUMNS: &str =
    "id, workflow_id, org_id, number, status, definition, created_by, created_at, published_at";

#[derive(sqlx::FromRow)]
struct VRow {
    id: String,
    workflow_id: String,
    org_id: String,
    number: i64,
    status: String,
    definition: String,
    created_by: String,
    created_at: OffsetDateTime,
    published_at: Option<OffsetDateTime>,
}

impl VRow {
    fn into_version(self) -> StoreResult<WorkflowVersion> {
        Ok(WorkflowVersion {
            status: VersionStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("version status {:?}", self.status)))?,
            definition: json("definition", &self.definition)?,
            id: self.id,
            workflow_id: self.workflow_id,
            org_id: self.org_id,
            number: self.number,
            created_by: self.created_by,
            created_at: self.created_at,
            published_at: self.published_at,
        })
    }
}

const P_COLUMNS: &str = "p.id, p.org_id, p.workflow_id, p.version_id, w.name AS workflow_name, \
    w.agent_id, p.status, p.requested_by, p.note, p.decided_by, p.decided_at, p.created_at";
const P_FROM: &str = "workflow_publish_requests p JOIN workflows w ON w.id = p.workflow_id";

#[derive(sqlx::FromRow)]
struct PRow {
    id: String,
    org_id: String,
    workflow_id: String,
    version_id: String,
    workflow_name: String,
    agent_id: String,
    status: String,
    requested_by: String,
    note: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
}

impl PRow {
    fn into_request(self) -> StoreResult<PublishRequest> {
        Ok(PublishRequest {
            status: PublishStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("publish status {:?}", self.status)))?,
            id: self.id,
            org_id: self.org_id,
            workflow_id: self.workflow_id,
            version_id: self.version_id,
            workflow_name: self.workflow_name,
            agent_id: self.agent_id,
            requested_by: self.requested_by,
            note: self.note,
            decided_by: self.decided_by,
            decided_at: self.decided_at,
            created_at: self.created_at,
        })
    }
}

const R_COLUMNS: &str = "id, org_id, workflow_id, version_id, agent_id, status, input, \
    budget_cents, test_run, error, steps, revision, triggered_by, lease_until, created_at, \
    updated_at, finished_at";

#[derive(sqlx::FromRow)]
struct RRow {
    id: String,
    org_id: String,
    workflow_id: String,
    version_id: String,
    agent_id: String,
    status: String,
    input: String,
    budget_cents: Option<i64>,
    test_run: bool,
    error: Option<String>,
    steps: String,
    revision: i64,
    triggered_by: String,
    lease_until: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
}

impl RRow {
    fn into_run(self) -> StoreResult<WorkflowRun> {
        Ok(WorkflowRun {
            status: RunStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("run status {:?}", self.status)))?,
            input: json("input", &self.input)?,
            steps: json("steps", &self.steps)?,
            id: self.id,
            org_id: self.org_id,
            workflow_id: self.workflow_id,
            version_id: self.version_id,
            agent_id: self.agent_id,
            budget_cents: self.budget_cents,
            test_run: self.test_run,
            error: self.error,
            revision: self.revision,
            triggered_by: self.triggered_by,
            lease_until: self.lease_until,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        })
    }
}

fn runs_of(rows: Vec<RRow>) -> StoreResult<Vec<WorkflowRun>> {
    rows.into_iter().map(RRow::into_run).collect()
}

async fn workflow(conn: &mut PgConnection, org: &str, id: &str) -> StoreResult<Option<Workflow>> {
    let sql = format!(
        "SELECT {WF_COLUMNS} FROM workflows WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(sqlx::query_as::<_, WfRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Workflow::from))
}

async fn version(
    conn: &mut PgConnection,
    org: &str,
    id: &str,
) -> StoreResult<Option<WorkflowVersion>> {
    let sql = format!("SELECT {V_COLUMNS} FROM workflow_versions WHERE id = $1 AND org_id = $2");
    sqlx::query_as::<_, VRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(VRow::into_version)
        .transpose()
}

async fn publish_request(
    conn: &mut PgConnection,
    org: &str,
    id: &str,
) -> StoreResult<Option<PublishRequest>> {
    let sql = format!("SELECT {P_COLUMNS} FROM {P_FROM} WHERE p.id = $1 AND p.org_id = $2");
    sqlx::query_as::<_, PRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(PRow::into_request)
        .transpose()
}

async fn run(
    conn: &mut PgConnection,
    org: Option<&str>,
    id: &str,
) -> StoreResult<Option<WorkflowRun>> {
    let sql = format!(
        "SELECT {R_COLUMNS} FROM workflow_runs WHERE id = $1 AND ($2::TEXT IS NULL OR org_id = $2)"
    );
    sqlx::query_as::<_, RRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(RRow::into_run)
        .transpose()
}

#[async_trait]
impl WorkflowStore for PgStore {
    async fn create_workflow(&self, w: Workflow, audit: AuditEvent) -> StoreResult<Workflow> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO workflows (id, org_id, agent_id, name, description, category, icon, \
             status, share_scope, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(&w.id)
        .bind(&w.org_id)
        .bind(&w.agent_id)
        .bind(&w.name)
        .bind(&w.description)
        .bind(&w.category)
        .bind(&w.icon)
        .bind(&w.status)
        .bind(&w.share_scope)
        .bind(&w.created_by)
        .bind(w.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit, w.created_at).await?;
        let created = workflow(&mut tx, &w.org_id, &w.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn workflow(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Workflow>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        workflow(&mut conn, org_id.as_str(), id).await
    }

    async fn workflows(
        &self,
        org_id: &OrgId,
        category: Option<String>,
    ) -> StoreResult<Vec<Workflow>> {
        let sql = format!(
            "SELECT {WF_COLUMNS} FROM workflows WHERE org_id = $1 AND deleted_at IS NULL \
             AND ($2::TEXT IS NULL OR category = $2) ORDER BY created_at DESC, id COLLATE \"C\" DESC"
        );
        Ok(sqlx::query_as::<_, WfRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(category)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Workflow::from)
            .collect())
    }

    async fn save_workflow(
        &self,
        w: Workflow,
        expected: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Workflow> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE workflows SET name = $1, description = $2, category = $3, icon = $4, \
             status = $5, share_scope = $6, updated_at = $7, deleted_at = $8 \
             WHERE id = $9 AND org_id = $10 AND deleted_at IS NULL AND updated_at = $11",
        )
        .bind(&w.name)
        .bind(&w.description)
        .bind(&w.category)
        .bind(&w.icon)
        .bind(&w.status)
        .bind(&w.share_scope)
        .bind(w.updated_at)
        .bind(w.deleted_at)
        .bind(&w.id)
        .bind(&w.org_id)
        .bind(expected)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return match workflow(&mut tx, &w.org_id, &w.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict(
                    "the workflow changed meanwhile; read it and try again".into(),
                )),
            };
        }
        audit::insert(&mut tx, &audit, w.updated_at).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(w)
    }

    async fn create_version(
        &self,
        v: WorkflowVersion,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // The workflow's row lock orders two versions saved at once.
        sqlx::query("SELECT id FROM workflows WHERE id = $1 FOR UPDATE")
            .bind(&v.workflow_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO workflow_versions (id, workflow_id, org_id, number, status, definition, \
             created_by, created_at) \
             SELECT $1, $2, $3, COALESCE(MAX(number), 0) + 1, 'draft', $4, $5, $6 \
             FROM workflow_versions WHERE workflow_id = $2",
        )
        .bind(&v.id)
        .bind(&v.workflow_id)
        .bind(&v.org_id)
        .bind(v.definition.to_string())
        .bind(&v.created_by)
        .bind(v.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit, v.created_at).await?;
        let created = version(&mut tx, &v.org_id, &v.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn version(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowVersion>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        version(&mut conn, org_id.as_str(), id).await
    }

    async fn versions(
        &self,
        org_id: &OrgId,
        workflow_id: &str,
    ) -> StoreResult<Vec<WorkflowVersion>> {
        let sql = format!(
            "SELECT {V_COLUMNS} FROM workflow_versions WHERE workflow_id = $1 AND org_id = $2 \
             ORDER BY number DESC"
        );
        sqlx::query_as::<_, VRow>(AssertSqlSafe(sql))
            .bind(workflow_id)
            .bind(org_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(VRow::into_version)
            .collect()
    }

    async fn unpublish_version(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE workflow_versions SET status = 'draft', published_at = NULL \
             WHERE id = $1 AND org_id = $2 AND status = 'published'",
        )
        .bind(id)
        .bind(org_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(&mut tx, &audit, now).await?;
        let v = version(&mut tx, org_id.as_str(), id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(v)
    }

    async fn request_publish(
        &self,
        p: PublishRequest,
        audit: AuditEvent,
    ) -> StoreResult<PublishRequest> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let inserted = sqlx::query(
            "INSERT INTO workflow_publish_requests (id, org_id, workflow_id, version_id, status, \
             requested_by, note, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7) \
             ON CONFLICT (version_id) WHERE status = 'pending' DO NOTHING",
        )
        .bind(&p.id)
        .bind(&p.org_id)
        .bind(&p.workflow_id)
        .bind(&p.version_id)
        .bind(&p.requested_by)
        .bind(&p.note)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let id = if inserted == 1 {
            audit::insert(&mut tx, &audit, p.created_at).await?;
            p.id.clone()
        } else {
            sqlx::query_scalar::<_, String>(
                "SELECT id FROM workflow_publish_requests WHERE version_id = $1 AND status = 'pending'",
            )
            .bind(&p.version_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?
        };
        let request = publish_request(&mut tx, &p.org_id, &id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(request)
    }

    async fn publish_request(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<PublishRequest>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        publish_request(&mut conn, org_id.as_str(), id).await
    }

    async fn publish_requests(
        &self,
        org_id: &OrgId,
        status: Option<PublishStatus>,
    ) -> StoreResult<Vec<PublishRequest>> {
        let sql = format!(
            "SELECT {P_COLUMNS} FROM {P_FROM} WHERE p.org_id = $1 \
             AND ($2::TEXT IS NULL OR p.status = $2) AND w.deleted_at IS NULL \
             ORDER BY p.created_at DESC, p.id COLLATE \"C\" DESC"
        );
        sqlx::query_as::<_, PRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(status.map(PublishStatus::as_str))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(PRow::into_request)
            .collect()
    }

    async fn decide_publish(&self, d: DecidePublish) -> StoreResult<PublishDecision> {
        let org = d.org_id.as_str();
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE workflow_publish_requests SET status = $1, decided_by = $2, decided_at = $3, \
             note = COALESCE($4, note) WHERE id = $5 AND org_id = $6 AND status = 'pending'",
        )
        .bind(if d.approve { "approved" } else { "rejected" })
        .bind(d.user_id.as_str())
        .bind(d.now)
        .bind(&d.note)
        .bind(&d.id)
        .bind(org)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let current = publish_request(&mut tx, org, &d.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 {
            return Ok(PublishDecision::AlreadyDecided(current));
        }
        if d.approve {
            sqlx::query(
                "UPDATE workflow_versions SET status = 'draft', published_at = NULL \
                 WHERE workflow_id = $1 AND status = 'published'",
            )
            .bind(&current.workflow_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            sqlx::query(
                "UPDATE workflow_versions SET status = 'published', published_at = $1 WHERE id = $2",
            )
            .bind(d.now)
            .bind(&current.version_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        audit::insert(&mut tx, &d.audit, d.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(PublishDecision::Decided(current))
    }

    async fn create_run(&self, r: WorkflowRun, audit: AuditEvent) -> StoreResult<WorkflowRun> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO workflow_runs (id, org_id, workflow_id, version_id, agent_id, status, \
             input, budget_cents, test_run, error, steps, revision, triggered_by, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
        )
        .bind(&r.id)
        .bind(&r.org_id)
        .bind(&r.workflow_id)
        .bind(&r.version_id)
        .bind(&r.agent_id)
        .bind(r.status.as_str())
        .bind(r.input.to_string())
        .bind(r.budget_cents)
        .bind(r.test_run)
        .bind(&r.error)
        .bind(r.steps.to_string())
        .bind(r.revision)
        .bind(&r.triggered_by)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit, r.created_at).await?;
        let created = run(&mut tx, None, &r.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(created)
    }

    async fn run(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowRun>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        run(&mut conn, Some(org_id.as_str()), id).await
    }

    async fn run_by_id(&self, id: &str) -> StoreResult<Option<WorkflowRun>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        run(&mut conn, None, id).await
    }

    async fn runs(
        &self,
        org_id: &OrgId,
        workflow_id: Option<String>,
        status: Option<RunStatus>,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>> {
        let sql = format!(
            "SELECT {R_COLUMNS} FROM workflow_runs WHERE org_id = $1 \
             AND ($2::TEXT IS NULL OR workflow_id = $2) AND ($3::TEXT IS NULL OR status = $3) \
             ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $4"
        );
        let rows = sqlx::query_as::<_, RRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(workflow_id)
            .bind(status.map(RunStatus::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        runs_of(rows)
    }

    async fn runs_to_advance(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>> {
        let sql = format!(
            "SELECT {R_COLUMNS} FROM workflow_runs \
             WHERE status IN ('pending', 'running', 'waiting_approval') \
             AND (lease_until IS NULL OR lease_until <= $1) ORDER BY updated_at LIMIT $2"
        );
        let rows = sqlx::query_as::<_, RRow>(AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        runs_of(rows)
    }

    async fn lease_run(
        &self,
        id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE workflow_runs SET lease_until = $1 \
             WHERE id = $2 AND (lease_until IS NULL OR lease_until <= $3)",
        )
        .bind(until)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn release_run(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE workflow_runs SET lease_until = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn release_all_runs(&self) -> StoreResult<u64> {
        // Other nodes may hold leases on a shared database: they run out.
        Ok(0)
    }

    async fn save_run(&self, s: SaveRun) -> StoreResult<WorkflowRun> {
        let r = &s.run;
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE workflow_runs SET status = $1, error = $2, steps = $3, revision = revision + 1, \
             updated_at = $4, finished_at = $5 WHERE id = $6 AND revision = $7",
        )
        .bind(r.status.as_str())
        .bind(&r.error)
        .bind(r.steps.to_string())
        .bind(s.now)
        .bind(r.finished_at)
        .bind(&r.id)
        .bind(s.expected_revision)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return match run(&mut tx, None, &r.id).await? {
                None => Err(StoreError::NotFound),
                Some(_) => Err(StoreError::Conflict(
                    "the run changed meanwhile; read it and try again".into(),
                )),
            };
        }
        for event in &s.audit {
            audit::insert(&mut tx, event, s.now).await?;
        }
        let saved = run(&mut tx, None, &r.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(saved)
    }

    async fn grants(&self, org_id: &OrgId, workflow_id: &str) -> StoreResult<Vec<WorkflowGrant>> {
        let rows: Vec<(String, String, Option<String>, String, OffsetDateTime)> = sqlx::query_as(
            "SELECT g.workflow_id, g.agent_id, a.name, g.granted_by, g.created_at \
             FROM workflow_grants g LEFT JOIN agents a ON a.id = g.agent_id AND a.deleted_at IS NULL \
             WHERE g.workflow_id = $1 AND g.org_id = $2 ORDER BY g.created_at, g.agent_id COLLATE \"C\"",
        )
        .bind(workflow_id)
        .bind(org_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(workflow_id, agent_id, agent_name, granted_by, created_at)| WorkflowGrant {
                    workflow_id,
                    agent_id,
                    agent_name,
                    granted_by,
                    created_at,
                },
            )
            .collect())
    }

    async fn set_grant(&self, g: GrantChange) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = if g.granted {
            sqlx::query(
                "INSERT INTO workflow_grants (workflow_id, agent_id, org_id, granted_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workflow_id, agent_id) DO NOTHING",
            )
            .bind(&g.workflow_id)
            .bind(g.agent_id.as_str())
            .bind(g.org_id.as_str())
            .bind(&g.by)
            .bind(g.now)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "DELETE FROM workflow_grants WHERE workflow_id = $1 AND agent_id = $2 AND org_id = $3",
            )
            .bind(&g.workflow_id)
            .bind(g.agent_id.as_str())
            .bind(g.org_id.as_str())
            .execute(&mut *tx)
            .await
        }
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return if g.granted {
                Ok(())
            } else {
                Err(StoreError::NotFound)
            };
        }
        audit::insert(&mut tx, &g.audit, g.now).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn granted_workflows(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
    ) -> StoreResult<Vec<Workflow>> {
        let sql = format!(
            "SELECT {WF_COLUMNS} FROM workflows WHERE org_id = $1 AND deleted_at IS NULL AND id IN \
             (SELECT workflow_id FROM workflow_grants WHERE agent_id = $2) ORDER BY created_at DESC"
        );
        Ok(sqlx::query_as::<_, WfRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(agent_id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Workflow::from)
            .collect())
    }
}
