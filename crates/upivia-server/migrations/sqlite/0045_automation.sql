-- Triggers (webhook and cron) and scheduled tasks with their runs. Every
-- fire and run is a service request of the agent; these rows hold what
-- decides when, and what a dispatch came to.
CREATE TABLE triggers (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    agent_id             TEXT NOT NULL REFERENCES agents(id),
    kind                 TEXT NOT NULL CHECK (kind IN ('webhook', 'cron')),
    service              TEXT NOT NULL,
    operation            TEXT NOT NULL,
    payload_template     TEXT NOT NULL,
    schedule_expr        TEXT,
    timezone             TEXT,
    sealed_secret        TEXT NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    next_run_at          TEXT,
    pending_tick         TEXT,
    pending_since        TEXT,
    last_fired_at        TEXT,
    last_request_id      TEXT,
    last_dispatch_status TEXT,
    fire_count           INTEGER NOT NULL DEFAULT 0,
    created_by           TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX triggers_org ON triggers (org_id, id);
CREATE INDEX triggers_due ON triggers (next_run_at) WHERE kind = 'cron' AND disabled = 0;
CREATE INDEX triggers_pending ON triggers (pending_since) WHERE pending_tick IS NOT NULL;

CREATE TABLE scheduled_tasks (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    agent_id    TEXT NOT NULL REFERENCES agents(id),
    name        TEXT NOT NULL,
    description TEXT,
    category    TEXT,
    service     TEXT NOT NULL,
    operation   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    schedule    TEXT,
    run_at      TEXT,
    timezone    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed', 'cancelled')),
    next_run_at TEXT,
    last_run_at TEXT,
    run_count   INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX scheduled_tasks_org ON scheduled_tasks (org_id, created_at);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (next_run_at) WHERE status = 'active';

CREATE TABLE scheduled_task_runs (
    id                 TEXT PRIMARY KEY,
    task_id            TEXT NOT NULL REFERENCES scheduled_tasks(id) ON DELETE CASCADE,
    org_id             TEXT NOT NULL REFERENCES orgs(id),
    agent_id           TEXT NOT NULL,
    scheduled_for      TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'dispatched', 'refused')),
    service_request_id TEXT,
    dispatch_status    TEXT,
    reason_code        TEXT,
    error              TEXT,
    started_at         TEXT NOT NULL,
    claimed_at         TEXT NOT NULL,
    finished_at        TEXT,
    UNIQUE (task_id, scheduled_for)
);
CREATE INDEX scheduled_task_runs_task ON scheduled_task_runs (task_id, started_at);
CREATE INDEX scheduled_task_runs_pending ON scheduled_task_runs (claimed_at) WHERE state = 'pending';
