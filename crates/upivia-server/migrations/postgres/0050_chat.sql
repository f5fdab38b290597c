-- Chat sessions, their messages and paused turns, as on SQLite.
CREATE TABLE chat_sessions (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    agent_id        TEXT NOT NULL REFERENCES agents(id),
    model_id        TEXT,
    title           TEXT,
    message_count   BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    last_message_at TIMESTAMPTZ,
    closed_at       TIMESTAMPTZ
);
CREATE INDEX chat_sessions_user ON chat_sessions (org_id, user_id, created_at);

CREATE TABLE chat_messages (
    seq          BIGSERIAL NOT NULL UNIQUE,
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES chat_sessions(id),
    role         TEXT NOT NULL,
    content      TEXT NOT NULL,
    tool_calls   TEXT,
    tool_call_id TEXT,
    tool_name    TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_messages_session ON chat_messages (session_id, seq);

CREATE TABLE chat_pauses (
    session_id  TEXT PRIMARY KEY REFERENCES chat_sessions(id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    kind        TEXT NOT NULL,
    request_id  TEXT,
    approval_id TEXT,
    state       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
