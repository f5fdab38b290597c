-- Organisation secrets, encrypted at rest (see src/vault): each
-- organisation's data key, wrapped by the master key (which is never
-- stored), and each secret's value sealed by that data key, bound to the
-- organisation, the name and the version it was written as.
CREATE TABLE org_data_keys (
    org_id     TEXT PRIMARY KEY REFERENCES orgs(id),
    wrapped    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE org_secrets (
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version >= 1),
    sealed     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, name)
);
