-- Agent memories, as on SQLite (`seq` orders them newest first). `tsv` is
-- derived from the text (English stemming over content and tags), so an
-- import from SQLite, which has no such column, fills it by itself.
CREATE TABLE memories (
    seq        BIGSERIAL NOT NULL UNIQUE,
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    content    TEXT NOT NULL,
    tags       TEXT NOT NULL,
    archived   BOOLEAN NOT NULL DEFAULT false,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    tsv        TSVECTOR GENERATED ALWAYS AS
                   (to_tsvector('english'::regconfig, content || ' ' || tags)) STORED
);
CREATE INDEX memories_agent ON memories (agent_id, seq);
CREATE INDEX memories_tsv ON memories USING GIN (tsv);
