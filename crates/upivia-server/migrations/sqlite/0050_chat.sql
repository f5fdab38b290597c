-- Chat sessions: a person talking to one of the organisation's agents.
-- `message_count` makes "hide empty sessions" and "reuse an open empty
-- one" index-free checks. `seq` orders a session's messages.
CREATE TABLE chat_sessions (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    agent_id        TEXT NOT NULL REFERENCES agents(id),
    model_id        TEXT,
    title           TEXT,
    message_count   INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    last_message_at TEXT,
    closed_at       TEXT
);
CREATE INDEX chat_sessions_user ON chat_sessions (org_id, user_id, created_at);

-- `role` is user, assistant or tool. An assistant message that called
-- tools carries them (`tool_calls`, a JSON array of {id, name,
-- arguments}); each answer is a tool message naming its call.
CREATE TABLE chat_messages (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    session_id   TEXT NOT NULL REFERENCES chat_sessions(id),
    role         TEXT NOT NULL,
    content      TEXT NOT NULL,
    tool_calls   TEXT,
    tool_call_id TEXT,
    tool_name    TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX chat_messages_session ON chat_messages (session_id, seq);

-- A turn that stopped for an approval or for the client's local tools:
-- what it needs to go on (`state`, JSON), kept apart from any connection.
-- At most one per session; resuming takes it (a DELETE), so a turn
-- resumes once.
CREATE TABLE chat_pauses (
    session_id  TEXT PRIMARY KEY REFERENCES chat_sessions(id),
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    kind        TEXT NOT NULL,
    request_id  TEXT,
    approval_id TEXT,
    state       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
