-- Rooms (API.md §2.22): a shared discussion of people and agents on an
-- objective. `kind` is `room`, or `swarm` for a moderated discussion over
-- `rounds`. `budget_cap_cents` caps what the agents' replies spend (the
-- ledger account `room:<id>`); NULL is no cap (still tracked).
CREATE TABLE rooms (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs(id),
    kind               TEXT NOT NULL,
    title              TEXT NOT NULL,
    objective          TEXT,
    status             TEXT NOT NULL,
    team_id            TEXT,
    budget_cap_cents   INTEGER,
    moderator_agent_id TEXT,
    rounds             INTEGER,
    created_by         TEXT NOT NULL REFERENCES users(id),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX rooms_org ON rooms (org_id, status, created_at);

-- Who takes part: agents (each with the chat session that is its view of
-- the room) and the people who posted.
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
    joined_at       TEXT NOT NULL,
    PRIMARY KEY (room_id, kind, participant_id)
);

CREATE TABLE room_messages (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    org_id      TEXT NOT NULL,
    author_kind TEXT NOT NULL,
    author_id   TEXT,
    author_name TEXT NOT NULL,
    body        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX room_messages_room ON room_messages (room_id, seq);

-- The agents' replies still to make, one room at a time in `seq` order:
-- `queued`, `running` under a lease, then `done` or `failed`. `kind` is
-- `reply`, or `summary` for a swarm's moderator after the last round.
CREATE TABLE room_turns (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    room_id     TEXT NOT NULL REFERENCES rooms(id),
    org_id      TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    round       INTEGER NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until TEXT,
    error       TEXT,
    message_id  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX room_turns_open ON room_turns (status, seq);
CREATE INDEX room_turns_room ON room_turns (room_id, seq);

-- An agent's session in a room is not one of a person's chats.
ALTER TABLE chat_sessions ADD COLUMN room_id TEXT;
