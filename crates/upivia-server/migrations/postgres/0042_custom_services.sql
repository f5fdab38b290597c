-- An organisation's private services (`platform.register_service`): each
-- operation is an HTTPS endpoint the platform calls with the named
-- organisation secret, governed like a built-in. The secret is referenced
-- by name only; its value stays sealed in org_secrets.
CREATE TABLE custom_operations (
    org_id              TEXT NOT NULL REFERENCES orgs(id),
    service             TEXT NOT NULL,
    operation           TEXT NOT NULL,
    description         TEXT NOT NULL,
    endpoint            TEXT NOT NULL,
    auth_type           TEXT NOT NULL CHECK (auth_type IN ('bearer', 'header')),
    auth_header         TEXT,
    secret_ref          TEXT NOT NULL,
    request_schema      TEXT NOT NULL,
    cost_estimate_cents BIGINT NOT NULL CHECK (cost_estimate_cents >= 0),
    registered_by       TEXT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, service, operation)
);
