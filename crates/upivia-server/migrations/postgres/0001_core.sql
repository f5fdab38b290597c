-- The core schema on PostgreSQL: the same tables as SQLite's migrations
-- 0001-0004 (tenancy, identity, agents and bindings, governed requests,
-- approvals, the ledger, the audit trail), plus what several nodes over one
-- database need instead of the SQLite writer's in-memory state: balance
-- rows to lock (account_balances), daily counters (daily_counts), the
-- owner of each executing request (service_requests.node_id), and audit
-- rows written unchained and chained afterwards in commit order.
-- Money is BIGINT cents; times are TIMESTAMPTZ (microseconds, as the
-- RFC 3339 strings the API and the audit hash use); JSON is stored as the
-- exact text the server produced (TEXT), so a replayed answer and an
-- exported row are byte-identical to what was written.

CREATE TABLE orgs (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    kill_switch             BOOLEAN NOT NULL DEFAULT FALSE,
    kill_switch_set_by_role TEXT NOT NULL DEFAULT 'admin'
        CHECK (kill_switch_set_by_role IN ('owner', 'admin', 'member')),
    created_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE memberships (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE UNIQUE INDEX memberships_one_owner ON memberships(org_id) WHERE role = 'owner';
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE pats (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- The first start's bootstrap, once per database whichever node runs it:
-- the row's insert is the claim (a primary key admits one).
CREATE TABLE bootstrap (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE agents (
    id                              TEXT PRIMARY KEY,
    org_id                          TEXT NOT NULL REFERENCES orgs(id),
    team_id                         TEXT REFERENCES teams(id),
    owner_user_id                   TEXT REFERENCES users(id),
    name                            TEXT NOT NULL,
    description                     TEXT,
    status                          TEXT NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
    key_hash                        TEXT NOT NULL UNIQUE,
    key_mode                        TEXT NOT NULL CHECK (key_mode IN ('live', 'test')),
    monthly_budget_cents            BIGINT CHECK (monthly_budget_cents >= 0),
    daily_request_limit             BIGINT CHECK (daily_request_limit >= 0),
    rate_limit_per_minute           BIGINT CHECK (rate_limit_per_minute > 0),
    default_model_id                TEXT,
    profile                         TEXT NOT NULL DEFAULT '{}',
    created_at                      TIMESTAMPTZ NOT NULL,
    updated_at                      TIMESTAMPTZ NOT NULL,
    deleted_at                      TIMESTAMPTZ,
    status_set_by_role              TEXT NOT NULL DEFAULT 'admin'
        CHECK (status_set_by_role IN ('owner', 'admin', 'member')),
    monthly_budget_set_by_role      TEXT NOT NULL DEFAULT 'admin'
        CHECK (monthly_budget_set_by_role IN ('owner', 'admin', 'member')),
    daily_request_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
        CHECK (daily_request_limit_set_by_role IN ('owner', 'admin', 'member')),
    rate_limit_set_by_role          TEXT NOT NULL DEFAULT 'admin'
        CHECK (rate_limit_set_by_role IN ('owner', 'admin', 'member'))
);
CREATE INDEX agents_org ON agents(org_id);

-- One row per (agent, service, operation); operation '*' binds the whole
-- service. Disabling keeps the row (enabled = false), see SQLite's 0003.
CREATE TABLE bindings (
    id                             TEXT PRIMARY KEY,
    agent_id                       TEXT NOT NULL REFERENCES agents(id),
    service_id                     TEXT NOT NULL,
    operation                      TEXT NOT NULL,
    require_approval               BOOLEAN NOT NULL DEFAULT FALSE,
    approval_threshold_cents       BIGINT CHECK (approval_threshold_cents >= 0),
    max_cost_cents                 BIGINT CHECK (max_cost_cents >= 0),
    monthly_budget_cents           BIGINT CHECK (monthly_budget_cents >= 0),
    daily_request_limit            BIGINT CHECK (daily_request_limit >= 0),
    rate_limit_per_minute          BIGINT CHECK (rate_limit_per_minute > 0),
    created_at                     TIMESTAMPTZ NOT NULL,
    updated_at                     TIMESTAMPTZ NOT NULL,
    enabled                        BOOLEAN NOT NULL DEFAULT TRUE,
    enabled_set_by_role            TEXT NOT NULL DEFAULT 'admin'
        CHECK (enabled_set_by_role IN ('owner', 'admin', 'member')),
    require_approval_set_by_role   TEXT NOT NULL DEFAULT 'admin'
        CHECK (require_approval_set_by_role IN ('owner', 'admin', 'member')),
    approval_threshold_set_by_role TEXT NOT NULL DEFAULT 'admin'
        CHECK (approval_threshold_set_by_role IN ('owner', 'admin', 'member')),
    max_cost_set_by_role           TEXT NOT NULL DEFAULT 'admin'
        CHECK (max_cost_set_by_role IN ('owner', 'admin', 'member')),
    monthly_budget_set_by_role     TEXT NOT NULL DEFAULT 'admin'
        CHECK (monthly_budget_set_by_role IN ('owner', 'admin', 'member')),
    daily_request_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
        CHECK (daily_request_limit_set_by_role IN ('owner', 'admin', 'member')),
    rate_limit_set_by_role         TEXT NOT NULL DEFAULT 'admin'
        CHECK (rate_limit_set_by_role IN ('owner', 'admin', 'member')),
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
    counts_toward_limits BOOLEAN NOT NULL,
    reason_code          TEXT,
    message              TEXT,
    estimated_cost_cents BIGINT NOT NULL CHECK (estimated_cost_cents >= 0),
    initial_cost_cents   BIGINT,
    cost_cents           BIGINT NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    result               TEXT,
    provider             TEXT,
    external_id          TEXT,
    approval_id          TEXT,
    idempotency_key      TEXT,
    -- What the request holds now: `held_cents` on each account listed in
    -- `held_accounts` (a JSON array of ledger account keys).
    held_accounts        TEXT,
    held_cents           BIGINT NOT NULL DEFAULT 0 CHECK (held_cents >= 0),
    created_at           TIMESTAMPTZ NOT NULL,
    started_at           TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ NOT NULL,
    -- The node executing the request while it is `executing`: recovery
    -- takes over only the requests of nodes that stopped beating.
    node_id              TEXT
);
CREATE INDEX service_requests_agent_time ON service_requests(agent_id, created_at);
CREATE INDEX service_requests_executing ON service_requests(created_at) WHERE status = 'executing';
CREATE INDEX service_requests_running ON service_requests(created_at) WHERE status = 'running';
CREATE INDEX service_requests_usage ON service_requests(org_id, created_at) WHERE status = 'executed';

CREATE TABLE idempotency_keys (
    agent_id        TEXT NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agent_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

CREATE TABLE approvals (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    agent_id             TEXT NOT NULL REFERENCES agents(id),
    request_id           TEXT NOT NULL UNIQUE REFERENCES service_requests(id),
    payload_digest       TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    estimated_cost_cents BIGINT NOT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    decided_at           TIMESTAMPTZ,
    decided_by           TEXT,
    created_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX approvals_org_status ON approvals(org_id, status);
CREATE INDEX approvals_pending_expiry ON approvals(expires_at) WHERE status = 'pending';

-- Append-only: the truth about money (see ARCHITECTURE.md, the ledger).
CREATE TABLE ledger_entries (
    seq          BIGSERIAL PRIMARY KEY,
    org_id       TEXT NOT NULL,
    account      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'reserve', 'release', 'settle')),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    request_id   TEXT,
    note         TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries(account);

-- The running sums of each account's entries, updated in the transaction
-- that appends them. The row is what concurrent reservations lock (in
-- account-key order, so two never wait on each other in a cycle); the
-- entries stay the truth, and the ledger check compares the two.
CREATE TABLE account_balances (
    account        TEXT PRIMARY KEY,
    credits_cents  BIGINT NOT NULL DEFAULT 0 CHECK (credits_cents >= 0),
    settled_cents  BIGINT NOT NULL DEFAULT 0 CHECK (settled_cents >= 0),
    reserved_cents BIGINT NOT NULL DEFAULT 0 CHECK (reserved_cents >= 0)
);

-- Requests counted toward a daily limit, per scope and UTC day
-- (`agent:<id>:<YYYY-MM-DD>`, `binding:<id>:<YYYY-MM-DD>`), incremented
-- by a conditional upsert so the limit holds across nodes.
CREATE TABLE daily_counts (
    key   TEXT PRIMARY KEY,
    count BIGINT NOT NULL CHECK (count >= 0)
);

-- Audit entries. A transaction inserts its entry unchained (`seq` from a
-- sequence, `xid` its transaction id), so appends of concurrent requests
-- never queue on a chain head. A sealer (one node at a time) then gives
-- entries whose transactions are all finished their place in the chain,
-- `chain_seq` (contiguous from 1), with `prev_hash`, `hash` and `mac`
-- exactly as on SQLite, in commit order. `seq` orders the API's listing.
CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    actor      TEXT NOT NULL,
    agent_id   TEXT,
    service    TEXT,
    operation  TEXT,
    status     TEXT,
    request_id TEXT,
    cost_cents BIGINT,
    details    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    xid        XID8 NOT NULL DEFAULT pg_current_xact_id(),
    chain_seq  BIGINT UNIQUE,
    prev_hash  TEXT,
    hash       TEXT,
    mac        TEXT
);
CREATE INDEX audit_log_org_seq ON audit_log(org_id, seq);
CREATE INDEX audit_log_unchained ON audit_log(seq) WHERE chain_seq IS NULL;

-- The chain's record: one chain, `global`, keyed from its first entry.
-- `head_seq`/`head_hash` are the sealed head (0 and the genesis hash when
-- empty); the checkpoint columns record signed checkpoints, as on SQLite.
CREATE TABLE audit_chains (
    chain          TEXT PRIMARY KEY,
    keyed_from     BIGINT NOT NULL,
    mac_key_id     TEXT,
    head_seq       BIGINT NOT NULL DEFAULT 0,
    head_hash      TEXT NOT NULL
        DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
    checkpoints    BIGINT NOT NULL DEFAULT 0,
    checkpoint_seq BIGINT,
    checkpoint_at  TIMESTAMPTZ
);
INSERT INTO audit_chains (chain, keyed_from) VALUES ('global', 1);

CREATE TABLE worker_heartbeats (
    worker  TEXT PRIMARY KEY,
    beat_at TIMESTAMPTZ NOT NULL
);

-- The nodes serving this database. Each beats its row every few seconds;
-- one whose beat is older than the lease is dead, and what it held
-- (executing requests, job leases) is taken over.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    beat_at    TIMESTAMPTZ NOT NULL,
    stopped_at TIMESTAMPTZ
);
