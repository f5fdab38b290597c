-- Knowledge: collections, documents ingested by a durable worker, and
-- their chunks with a generated English tsvector (GIN-indexed) and, when
-- an embeddings endpoint is set, vectors (base64 of little-endian f32).
CREATE TABLE knowledge_collections (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    description TEXT,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
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
    chunk_count      BIGINT NOT NULL DEFAULT 0,
    embedded         BOOLEAN NOT NULL DEFAULT false,
    attempts         BIGINT NOT NULL DEFAULT 0,
    lease_until      TIMESTAMPTZ,
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX knowledge_documents_collection ON knowledge_documents (collection_id, id);
CREATE INDEX knowledge_documents_queue ON knowledge_documents (status, lease_until)
    WHERE status IN ('pending', 'processing') AND deleted_at IS NULL;

CREATE TABLE knowledge_chunks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    collection_id TEXT NOT NULL,
    document_id   TEXT NOT NULL REFERENCES knowledge_documents(id),
    ordinal       BIGINT NOT NULL,
    text          TEXT NOT NULL,
    embedding     TEXT,
    tsv           TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX knowledge_chunks_document ON knowledge_chunks (document_id);
CREATE INDEX knowledge_chunks_collection ON knowledge_chunks (collection_id);
CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING GIN (tsv);
