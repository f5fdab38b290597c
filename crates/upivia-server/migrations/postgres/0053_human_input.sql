-- Human-input requests (API.md §2.22), as on SQLite. Of two nodes asking
-- under one `dedupe_key` at once, the unique index lets one insert.
CREATE TABLE human_inputs (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES orgs(id),
    source              TEXT NOT NULL CHECK (source IN ('workflow', 'room')),
    title               TEXT NOT NULL,
    prompt_text         TEXT NOT NULL,
    assignee_email      TEXT,
    workflow_id         TEXT,
    workflow_name       TEXT,
    workflow_run_id     TEXT,
    step_id             TEXT,
    room_id             TEXT,
    agent_id            TEXT,
    dedupe_key          TEXT UNIQUE,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'cancelled')),
    answer_text         TEXT,
    answered_by_user_id TEXT,
    answered_by_email   TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    answered_at         TIMESTAMPTZ,
    cancelled_at        TIMESTAMPTZ
);
CREATE INDEX human_inputs_org ON human_inputs (org_id, status, created_at);
CREATE INDEX human_inputs_run ON human_inputs (workflow_run_id) WHERE workflow_run_id IS NOT NULL;
