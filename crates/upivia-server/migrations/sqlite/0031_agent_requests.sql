-- The inbox for human attention: requests an agent (or a member on its
-- behalf) raises, decided once by a human (`resolved` or `rejected`) with
-- an optional response the agent reads with its key.
CREATE TABLE agent_requests (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES orgs(id),
    agent_id            TEXT REFERENCES agents(id),
    -- The agent's name when the request was made (shown if it is gone).
    agent_name          TEXT,
    -- Who raised it: `agent:<id>` or `user:<id>`.
    created_by          TEXT NOT NULL,
    created_by_user_id  TEXT REFERENCES users(id),
    request_type        TEXT NOT NULL CHECK (request_type IN ('clarification', 'budget_increase',
                          'plan_change', 'secret_needed', 'approval', 'blocked')),
    title               TEXT NOT NULL,
    body                TEXT NOT NULL,
    link                TEXT,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'resolved', 'rejected')),
    response            TEXT,
    resolved_by_user_id TEXT REFERENCES users(id),
    resolved_at         TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX agent_requests_org ON agent_requests(org_id, status, created_at);
CREATE INDEX agent_requests_agent ON agent_requests(agent_id, created_at);
