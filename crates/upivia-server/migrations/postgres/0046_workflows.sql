-- Workflows: an agent's versioned DAGs, their publish requests (decided in
-- the approvals inbox), their runs (step states as one JSON document,
-- changed by compare-and-set on `revision`) and the agents they are
-- granted to.
CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    name        TEXT NOT NULL,
    description TEXT,
    category    TEXT,
    icon        TEXT,
    status      TEXT NOT NULL,
    share_scope TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX workflows_org ON workflows (org_id, created_at);

CREATE TABLE workflow_versions (
    id           TEXT PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    number       BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'published')),
    definition   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ,
    UNIQUE (workflow_id, number)
);
-- At most one live version per workflow.
CREATE UNIQUE INDEX workflow_versions_published ON workflow_versions (workflow_id)
    WHERE status = 'published';

CREATE TABLE workflow_publish_requests (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    version_id   TEXT NOT NULL REFERENCES workflow_versions(id),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by TEXT NOT NULL,
    note         TEXT,
    decided_by   TEXT,
    decided_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX workflow_publish_requests_org ON workflow_publish_requests (org_id, created_at);
CREATE UNIQUE INDEX workflow_publish_requests_pending ON workflow_publish_requests (version_id)
    WHERE status = 'pending';

CREATE TABLE workflow_runs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    version_id   TEXT NOT NULL REFERENCES workflow_versions(id),
    agent_id     TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN
                   ('pending', 'running', 'waiting_approval', 'completed', 'failed', 'cancelled')),
    input        TEXT NOT NULL,
    budget_cents BIGINT,
    test_run     BOOLEAN NOT NULL,
    error        TEXT,
    steps        TEXT NOT NULL,
    revision     BIGINT NOT NULL,
    triggered_by TEXT NOT NULL,
    lease_until  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, created_at);
CREATE INDEX workflow_runs_org ON workflow_runs (org_id, created_at);
CREATE INDEX workflow_runs_open ON workflow_runs (lease_until)
    WHERE status IN ('pending', 'running', 'waiting_approval');

CREATE TABLE workflow_grants (
    workflow_id TEXT NOT NULL REFERENCES workflows(id),
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    granted_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow_id, agent_id)
);
CREATE INDEX workflow_grants_agent ON workflow_grants (agent_id);
