-- Coordination between the nodes sharing this database.

-- Background jobs run by one node at a time. A row is never deleted: a
-- released lease only expires, so `fence` keeps growing with each new
-- holder.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    fence      BIGINT NOT NULL CHECK (fence > 0),
    expires_at TIMESTAMPTZ NOT NULL
);

-- Per-minute token buckets (`agent:<id>`, `binding:<id>`), shared by every
-- node. UNLOGGED: a bucket is a few seconds of state that the next minute
-- rebuilds, so it is not worth a WAL write and an fsync on each governed
-- request; after a crash of PostgreSQL (or on a promoted replica) the
-- table is empty and every bucket starts full, one burst allowed.
-- `admitted` is the answer of the last check, so one upsert both decides
-- and tells.
CREATE UNLOGGED TABLE rate_buckets (
    key        TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    per_minute BIGINT NOT NULL CHECK (per_minute > 0),
    admitted   BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
