-- The core schema: tenancy, identity, agents and their bindings, governed
-- requests, approvals, the money ledger, usage and the audit chain.
-- Times are RFC 3339 UTC strings; money is INTEGER cents.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kill_switch INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
-- At most one owner per organisation, enforced by the database.
CREATE UNIQUE INDEX memberships_one_owner ON memberships(org_id) WHERE role = 'owner';

CREATE TABLE pats (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE agents (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES orgs(id),
    team_id               TEXT REFERENCES teams(id),
    owner_user_id         TEXT REFERENCES users(id),
    name                  TEXT NOT NULL,
    description           TEXT,
    status                TEXT NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
    key_hash              TEXT NOT NULL UNIQUE,
    key_mode              TEXT NOT NULL CHECK (key_mode IN ('live', 'test')),
    monthly_budget_cents  INTEGER CHECK (monthly_budget_cents >= 0),
    daily_request_limit   INTEGER CHECK (daily_request_limit >= 0),
    rate_limit_per_minute INTEGER CHECK (rate_limit_per_minute > 0),
    default_model_id      TEXT,
    profile               TEXT NOT NULL DEFAULT '{}',
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    deleted_at            TEXT
);
CREATE INDEX agents_org ON agents(org_id);

-- One row per (agent, service, operation); operation '*' binds the whole service.
CREATE TABLE bindings (
    id                       TEXT PRIMARY KEY,
    agent_id                 TEXT NOT NULL REFERENCES agents(id),
    service_id               TEXT NOT NULL,
    operation                TEXT NOT NULL,
    require_approval         INTEGER NOT NULL DEFAULT 0,
    approval_threshold_cents INTEGER CHECK (approval_threshold_cents >= 0),
    max_cost_cents           INTEGER CHECK (max_cost_cents >= 0),
    monthly_budget_cents     INTEGER CHECK (monthly_budget_cents >= 0),
    daily_request_limit      INTEGER CHECK (daily_request_limit >= 0),
    rate_limit_per_minute    INTEGER CHECK (rate_limit_per_minute > 0),
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    UNIQUE (agent_id, service_id, operation)
);

CREATE TABLE service_requests (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    agent_id             TEXT NOT NULL REFERENCES agents(id),
    binding_id           TEXT,
    service              TEXT NOT NULL,
    operation            TEXT NOT NULL,
    payload              TEXT NOT NULL,
    metadata             TEXT,
    payload_digest       TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN
                           ('awaiting_approval', 'executing', 'running', 'executed', 'blocked', 'failed')),
    counts_toward_limits INTEGER NOT NULL,
    reason_code          TEXT,
    message              TEXT,
    estimated_cost_cents INTEGER NOT NULL CHECK (estimated_cost_cents >= 0),
    initial_cost_cents   INTEGER,
    cost_cents           INTEGER NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    result               TEXT,
    provider             TEXT,
    external_id          TEXT,
    approval_id          TEXT,
    idempotency_key      TEXT,
    -- What the request holds now: `held_cents` on each account listed in
    -- `held_accounts` (a JSON array of ledger account keys).
    held_accounts        TEXT,
    held_cents           INTEGER NOT NULL DEFAULT 0 CHECK (held_cents >= 0),
    created_at           TEXT NOT NULL,
    started_at           TEXT,
    updated_at           TEXT NOT NULL
);
CREATE INDEX service_requests_agent_time ON service_requests(agent_id, created_at);
CREATE INDEX service_requests_open ON service_requests(status) WHERE status IN ('executing', 'running');
-- Usage is the executed requests: one row each, with what was charged.
CREATE INDEX service_requests_usage ON service_requests(org_id, created_at) WHERE status = 'executed';

CREATE TABLE idempotency_keys (
    agent_id        TEXT NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (agent_id, key)
);

CREATE TABLE approvals (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    agent_id             TEXT NOT NULL REFERENCES agents(id),
    request_id           TEXT NOT NULL UNIQUE REFERENCES service_requests(id),
    payload_digest       TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    estimated_cost_cents INTEGER NOT NULL,
    expires_at           TEXT NOT NULL,
    decided_at           TEXT,
    decided_by           TEXT,
    created_at           TEXT NOT NULL
);
CREATE INDEX approvals_org_status ON approvals(org_id, status);

-- Append-only. A balance is a sum over these rows, never a stored counter.
-- reserve holds money for a request; settle spends part of what is held;
-- release returns the rest; credit adds money.
CREATE TABLE ledger_entries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL,
    account      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'reserve', 'release', 'settle')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    request_id   TEXT,
    note         TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries(account);

-- Hash-chained: hash = sha256(prev_hash || canonical JSON of the entry).
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    actor      TEXT NOT NULL,
    agent_id   TEXT,
    service    TEXT,
    operation  TEXT,
    status     TEXT,
    request_id TEXT,
    cost_cents INTEGER,
    details    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_org_seq ON audit_log(org_id, seq);

CREATE TABLE worker_heartbeats (
    worker     TEXT PRIMARY KEY,
    beat_at    TEXT NOT NULL
);
