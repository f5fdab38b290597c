-- Delegated tasks: an objective a parent agent hands to one of its
-- children, with a budget cap (the hold limit of its `task:<id>` ledger
-- account) and the operations the child may use for it. `status` changes
-- only by a compare-and-set on the current value; `last_seq` numbers the
-- task's events, taken by the same update that appends them.
CREATE TABLE delegated_tasks (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    parent_agent_id  TEXT NOT NULL REFERENCES agents(id),
    child_agent_id   TEXT NOT NULL REFERENCES agents(id),
    objective        TEXT NOT NULL,
    -- NULL: no cap beyond the child's own budgets.
    budget_cap_cents INTEGER CHECK (budget_cap_cents IS NULL OR budget_cap_cents >= 0),
    -- A JSON array of operation names (`service.operation`); empty = no narrowing.
    permissions      TEXT NOT NULL,
    model_id         TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'in_progress',
                       'completed', 'failed', 'cancelled')),
    -- JSON, as the child reported it.
    result           TEXT,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX delegated_tasks_parent ON delegated_tasks(parent_agent_id, created_at);
CREATE INDEX delegated_tasks_child ON delegated_tasks(child_agent_id, created_at);

-- What happened under a task, numbered per task from 1: status changes,
-- service requests made under it, and the files the child reports writing.
CREATE TABLE delegated_task_events (
    task_id  TEXT NOT NULL REFERENCES delegated_tasks(id),
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('status', 'request', 'file_write')),
    path     TEXT,
    detail   TEXT NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
);
