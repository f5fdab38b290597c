-- Knowledge: collections of documents, each ingested (by a durable
-- worker) into chunks indexed for full-text search (FTS5, BM25 ranking on
-- a Porter-stemmed tokenizer) and, when an embeddings endpoint is set,
-- vectors. Chunks are derived data: replaced whole when a document is
-- ingested again, deleted with it.
CREATE TABLE knowledge_collections (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    description TEXT,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE INDEX knowledge_collections_org ON knowledge_collections (org_id, id);

CREATE TABLE knowledge_documents (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    collection_id    TEXT NOT NULL REFERENCES knowledge_collections(id),
    stored_object_id TEXT NOT NULL REFERENCES stored_objects(id),
    filename         TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error            TEXT,
    chunk_count      INTEGER NOT NULL DEFAULT 0,
    embedded         INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_until      TEXT,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deleted_at       TEXT
);
CREATE INDEX knowledge_documents_collection ON knowledge_documents (collection_id, id);
CREATE INDEX knowledge_documents_queue ON knowledge_documents (status, lease_until)
    WHERE status IN ('pending', 'processing') AND deleted_at IS NULL;

CREATE TABLE knowledge_chunks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    document_id   TEXT NOT NULL REFERENCES knowledge_documents(id),
    ordinal       INTEGER NOT NULL,
    text          TEXT NOT NULL,
    embedding     TEXT
);
CREATE INDEX knowledge_chunks_document ON knowledge_chunks (document_id);
CREATE INDEX knowledge_chunks_collection ON knowledge_chunks (collection_id);

-- Its own copy of each chunk's text, keyed by the chunk's id.
CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5(
    text, chunk_id UNINDEXED, document_id UNINDEXED, collection_id UNINDEXED,
    tokenize = 'porter unicode61'
);
