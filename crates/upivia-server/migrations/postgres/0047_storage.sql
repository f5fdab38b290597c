-- Stored objects: the row is the truth about an object; its bytes live in
-- the blob backend under `blob_key`. `size_bytes` counts against the
-- organisation's quota from the moment the row exists (a presigned upload
-- reserves its declared size) until the bytes are purged.
CREATE TABLE stored_objects (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs(id),
    filename          TEXT NOT NULL,
    content_type      TEXT NOT NULL,
    size_bytes        BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256            TEXT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'live', 'deleted', 'purged')),
    blob_key          TEXT,
    uploaded_sha256   TEXT,
    upload_expires_at TIMESTAMPTZ,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    sealed_at         TIMESTAMPTZ,
    deleted_at        TIMESTAMPTZ,
    purged_at         TIMESTAMPTZ
);
CREATE INDEX stored_objects_org ON stored_objects (org_id, status, id);
CREATE INDEX stored_objects_deleted ON stored_objects (deleted_at) WHERE status = 'deleted';
CREATE INDEX stored_objects_pending ON stored_objects (upload_expires_at) WHERE status = 'pending';
