-- Devices (API.md §2.20): a terminal attached to one of its owner's chat
-- sessions. A device session's id is the chat session's id; its row is
-- made by the first heartbeat (or pause) and goes with the chat session.
CREATE TABLE device_sessions (
    session_id        TEXT PRIMARY KEY REFERENCES chat_sessions(id),
    org_id            TEXT NOT NULL REFERENCES orgs(id),
    last_heartbeat_at TEXT,
    paused            INTEGER NOT NULL DEFAULT 0,
    cwd               TEXT
);
CREATE INDEX device_sessions_heartbeat ON device_sessions (org_id, last_heartbeat_at);

-- Commands queued for the device: `status` is queued until a heartbeat
-- hands it over (delivered, once), then done or failed as the device
-- reports. `content` is the string the device is given, usually JSON text.
CREATE TABLE device_commands (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES chat_sessions(id),
    org_id       TEXT NOT NULL REFERENCES orgs(id),
    content      TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    delivered_at TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX device_commands_session ON device_commands (session_id, status, created_at);
