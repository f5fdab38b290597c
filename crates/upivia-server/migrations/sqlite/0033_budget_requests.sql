-- A member asks for money for a team's pool; the owner or a manager of the
-- team decides once. Approving moves the amount from the organisation
-- balance into the pool (the transfer it made is named here).
CREATE TABLE budget_requests (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    team_id              TEXT NOT NULL REFERENCES teams(id),
    requested_by_user_id TEXT NOT NULL REFERENCES users(id),
    amount_cents         INTEGER NOT NULL CHECK (amount_cents > 0),
    reason               TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    note                 TEXT,
    resolved_by_user_id  TEXT REFERENCES users(id),
    resolved_at          TEXT,
    transfer_id          TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX budget_requests_org ON budget_requests(org_id, status, created_at);
