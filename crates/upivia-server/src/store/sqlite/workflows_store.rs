//! `WorkflowStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, rows, workflows as wf};
use crate::ids::{AgentId, OrgId};
use crate::model::AuditEvent;
use crate::store::*;

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_workflow(&self, w: Workflow, audit: AuditEvent) -> StoreResult<Workflow> {
        self.writer
            .write(move |ctx| wf::create_workflow(ctx, w, audit))
            .await
    }

    async fn workflow(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Workflow>> {
        self.lookup(|c| wf::workflow(c, org_id.as_str(), id))
    }

    async fn workflows(
        &self,
        org_id: &OrgId,
        category: Option<String>,
    ) -> StoreResult<Vec<Workflow>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| wf::workflows(c, &org, category.as_deref()))
            .await
    }

    async fn save_workflow(
        &self,
        w: Workflow,
        expected_updated_at: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<Workflow> {
        self.writer
            .write(move |ctx| wf::save_workflow(ctx, w, expected_updated_at, audit))
            .await
    }

    async fn create_version(
        &self,
        v: WorkflowVersion,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion> {
        self.writer
            .write(move |ctx| wf::create_version(ctx, v, audit))
            .await
    }

    async fn version(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowVersion>> {
        self.lookup(|c| wf::version(c, org_id.as_str(), id))
    }

    async fn versions(
        &self,
        org_id: &OrgId,
        workflow_id: &str,
    ) -> StoreResult<Vec<WorkflowVersion>> {
        self.lookup(|c| wf::versions(c, org_id.as_str(), workflow_id))
    }

    async fn unpublish_version(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<WorkflowVersion> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |ctx| wf::unpublish(ctx, &org, &id, now, audit))
            .await
    }

    async fn request_publish(
        &self,
        request: PublishRequest,
        audit: AuditEvent,
    ) -> StoreResult<PublishRequest> {
        self.writer
            .write(move |ctx| wf::request_publish(ctx, request, audit))
            .await
    }

    async fn publish_request(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<PublishRequest>> {
        self.lookup(|c| wf::publish_request(c, org_id.as_str(), id))
    }

    async fn publish_requests(
        &self,
        org_id: &OrgId,
        status: Option<PublishStatus>,
    ) -> StoreResult<Vec<PublishRequest>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| wf::publish_requests(c, &org, status.map(PublishStatus::as_str)))
            .await
    }

    async fn decide_publish(&self, decide: DecidePublish) -> StoreResult<PublishDecision> {
        self.writer
            .write(move |ctx| wf::decide_publish(ctx, decide))
            .await
    }

    async fn create_run(&self, run: WorkflowRun, audit: AuditEvent) -> StoreResult<WorkflowRun> {
        self.writer
            .write(move |ctx| wf::create_run(ctx, run, audit))
            .await
    }

    async fn run(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<WorkflowRun>> {
        self.lookup(|c| wf::run(c, Some(org_id.as_str()), id))
    }

    async fn run_by_id(&self, id: &str) -> StoreResult<Option<WorkflowRun>> {
        self.lookup(|c| wf::run(c, None, id))
    }

    async fn runs(
        &self,
        org_id: &OrgId,
        workflow_id: Option<String>,
        status: Option<RunStatus>,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| {
            wf::runs(
                c,
                &org,
                workflow_id.as_deref(),
                status.map(RunStatus::as_str),
                limit,
            )
        })
        .await
    }

    async fn runs_to_advance(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<WorkflowRun>> {
        let now = rows::ts(now);
        self.read(move |c| wf::runs_to_advance(c, &now, limit))
            .await
    }

    async fn lease_run(
        &self,
        id: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let (id, now, until) = (id.to_owned(), rows::ts(now), rows::ts(until));
        self.writer
            .write(move |ctx| wf::lease(ctx, &id, &now, &until))
            .await
    }

    async fn release_run(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.writer
            .write(move |ctx| wf::release(ctx, Some(&id)).map(|_| ()))
            .await
    }

    async fn release_all_runs(&self) -> StoreResult<u64> {
        self.writer.write(move |ctx| wf::release(ctx, None)).await
    }

    async fn save_run(&self, save: SaveRun) -> StoreResult<WorkflowRun> {
        self.writer.write(move |ctx| wf::save_run(ctx, save)).await
    }

    async fn grants(&self, org_id: &OrgId, workflow_id: &str) -> StoreResult<Vec<WorkflowGrant>> {
        self.lookup(|c| wf::grants(c, org_id.as_str(), workflow_id))
    }

    async fn set_grant(&self, change: GrantChange) -> StoreResult<()> {
        self.writer
            .write(move |ctx| wf::set_grant(ctx, change))
            .await
    }

    async fn granted_workflows(
        &self,
        org_id: &OrgId,
        agent_id: &AgentId,
    ) -> StoreResult<Vec<Workflow>> {
        self.lookup(|c| wf::granted_workflows(c, org_id.as_str(), agent_id.as_str()))
    }
}
