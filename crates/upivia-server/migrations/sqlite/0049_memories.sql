-- Agent memories: short texts an agent writes for itself, searched by
-- rank. `seq` (the rowid) orders them newest first and keys the FTS5
-- index, which holds no copy of the text (external content) and is kept
-- in step by the triggers below, inside the writing transaction. `tags`
-- is a JSON array of strings; its text is indexed as it is (the
-- tokenizer drops the brackets and quotes).
CREATE TABLE memories (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    content    TEXT NOT NULL,
    tags       TEXT NOT NULL,
    archived   INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX memories_agent ON memories (agent_id, seq);

CREATE VIRTUAL TABLE memories_fts USING fts5(
    content, tags,
    content = 'memories', content_rowid = 'seq',
    tokenize = 'porter unicode61'
);

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.seq, new.content, new.tags);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags)
    VALUES ('delete', old.seq, old.content, old.tags);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, tags ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags)
    VALUES ('delete', old.seq, old.content, old.tags);
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.seq, new.content, new.tags);
END;
