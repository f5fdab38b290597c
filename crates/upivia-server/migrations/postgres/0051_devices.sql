-- Devices (API.md §2.20), as on SQLite.
CREATE TABLE device_sessions (
    session_id        TEXT PRIMARY KEY REFERENCES chat_sessions(id),
    org_id            TEXT NOT NULL REFERENCES orgs(id),
    last_heartbeat_at TIMESTAMPTZ,
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    cwd               TEXT
);
CREATE INDEX device_sessions_heartbeat ON device_sessions (org_id, last_heartbeat_at);

CREATE TABLE device_commands (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES chat_sessions(id),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    content      TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX device_commands_session ON device_commands (session_id, status, created_at);
