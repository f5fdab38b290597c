-- Rooms (API.md §2.22), as on SQLite.
CREATE TABLE rooms (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs(id),
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    objective          TEXT,
    status             TEXT NOT NULL,
    team_id            TEXT,
    budget_cap_cents   BIGINT,
    moderator_agent_id TEXT,
    rounds             INTEGER,
    created_by         TEXT NOT NULL REFERENCES users(id),
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX rooms_org ON rooms (org_id, status, created_at);

CREATE TABLE room_participants (
    room_id         TEXT NOT NULL REFERENCES rooms(id),
    org_id          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    participant_id  TEXT NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    role            TEXT NOT NULL,
    position        INTEGER NOT NULL,
    chat_session_id TEXT,
    joined_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (room_id, kind, participant_id)
);

CREATE TABLE room_messages (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    org_id      TEXT NOT NULL,
    author_kind TEXT NOT NULL,
    author_id   TEXT,
    author_name TEXT NOT NULL,
    body        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX room_messages_room ON room_messages (room_id, seq);

CREATE TABLE room_turns (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    org_id      TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    round       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TIMESTAMPTZ,
    error       TEXT,
    message_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX room_turns_open ON room_turns (status, seq);
CREATE INDEX room_turns_room ON room_turns (room_id, seq);

ALTER TABLE chat_sessions ADD COLUMN room_id TEXT;
