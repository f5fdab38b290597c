//! Knowledge on SQLite: rows, and each chunk's text copied into an FTS5
//! index in the same transaction (`bm25()` ranks; lower is better, so the
//! score returned is its negation).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::writer::WriteCtx;
use super::{SqliteStore, audit, db_error, rows};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::search;
use crate::store::*;

const COLLECTION: &str =
    "id, org_id, name, description, created_by, created_at, updated_at, deleted_at";
const DOCUMENT: &str = "id, org_id, collection_id, stored_object_id, filename, content_type, \
    status, error, chunk_count, embedded, attempts, lease_until, created_by, created_at, \
    updated_at, deleted_at";

fn collection_row(row: &Row<'_>) -> rusqlite::Result<Collection> {
    Ok(Collection {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        deleted_at: rows::opt_time_col(row, "deleted_at")?,
    })
}

fn document_row(row: &Row<'_>) -> rusqlite::Result<Document> {
    let status: String = row.get("status")?;
    Ok(Document {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        collection_id: row.get("collection_id")?,
        stored_object_id: row.get("stored_object_id")?,
        filename: row.get("filename")?,
        content_type: row.get("content_type")?,
        status: DocumentStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("bad value in column status: {status:?}").into(),
            )
        })?,
        error: row.get("error")?,
        chunk_count: row.get("chunk_count")?,
        embedded: row.get("embedded")?,
        attempts: row.get("attempts")?,
        lease_until: rows::opt_time_col(row, "lease_until")?,
        created_by: row.get("created_by")?,
        created_at: rows::time_col(row, "created_at")?,
        updated_at: rows::time_col(row, "updated_at")?,
        deleted_at: rows::opt_time_col(row, "deleted_at")?,
    })
}

fn get_collection(conn: &Connection, org: &str, id: &str) -> StoreResult<Option<Collection>> {
    let sql = format!(
        "SELECT {COLLECTION} FROM knowledge_collections \
         WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, org], collection_row).optional())
        .map_err(db_error)
}

fn get_document(
    conn: &Connection,
    org: Option<&str>,
    collection: Option<&str>,
    id: &str,
) -> StoreResult<Option<Document>> {
    let sql = format!(
        "SELECT {DOCUMENT} FROM knowledge_documents WHERE id = ?1 \
         AND (?2 IS NULL OR org_id = ?2) AND (?3 IS NULL OR collection_id = ?3) \
         AND deleted_at IS NULL"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row(params![id, org, collection], document_row)
                .optional()
        })
        .map_err(db_error)
}

fn drop_chunks(conn: &Connection, column: &str, id: &str) -> StoreResult<()> {
    // `column` is one of two literals below.
    conn.execute(
        &format!("DELETE FROM knowledge_chunks_fts WHERE {column} = ?1"),
        params![id],
    )
    .map_err(db_error)?;
    conn.execute(
        &format!("DELETE FROM knowledge_chunks WHERE {column} = ?1"),
        params![id],
    )
    .map_err(db_error)?;
    Ok(())
}

fn finish(ctx: &mut WriteCtx<'_>, f: FinishIngestion) -> StoreResult<bool> {
    let now = rows::ts(f.now);
    let Some(doc) = get_document(ctx.conn, None, None, &f.id)? else {
        return Ok(false);
    };
    if doc.status != DocumentStatus::Processing || doc.lease_until != Some(f.lease_until) {
        return Ok(false);
    }
    match f.outcome {
        Ingested::Ready { chunks } => {
            drop_chunks(ctx.conn, "document_id", &doc.id)?;
            let embedded = !chunks.is_empty() && chunks.iter().all(|c| c.embedding.is_some());
            for c in &chunks {
                ctx.conn
                    .execute(
                        "INSERT INTO knowledge_chunks (id, org_id, collection_id, document_id, \
                         ordinal, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            c.id,
                            doc.org_id,
                            doc.collection_id,
                            doc.id,
                            c.ordinal,
                            c.text,
                            c.embedding.as_deref().map(encode_vector),
                        ],
                    )
                    .map_err(db_error)?;
                ctx.conn
                    .execute(
                        "INSERT INTO knowledge_chunks_fts (text, chunk_id, document_id, \
                         collection_id) VALUES (?1, ?2, ?3, ?4)",
                        params![c.text, c.id, doc.id, doc.collection_id],
                    )
                    .map_err(db_error)?;
            }
            ctx.conn
                .execute(
                    "UPDATE knowledge_documents SET status = 'ready', error = NULL, \
                     chunk_count = ?1, embedded = ?2, lease_until = NULL, updated_at = ?3 \
                     WHERE id = ?4",
                    params![chunks.len() as i64, embedded, now, doc.id],
                )
                .map_err(db_error)?;
        }
        Ingested::Failed { error } => {
            ctx.conn
                .execute(
                    "UPDATE knowledge_documents SET status = 'failed', error = ?1, \
                     lease_until = NULL, updated_at = ?2 WHERE id = ?3",
                    params![error, now, doc.id],
                )
                .map_err(db_error)?;
        }
    }
    audit::append(ctx, f.audit, f.now)?;
    Ok(true)
}

fn claim(ctx: &mut WriteCtx<'_>, now: &str, until: &str) -> StoreResult<Option<Document>> {
    let id: Option<String> = ctx
        .conn
        .query_row(
            "SELECT id FROM knowledge_documents WHERE deleted_at IS NULL AND attempts < ?2 \
               AND (status = 'pending' OR (status = 'processing' AND lease_until <= ?1)) \
             ORDER BY id LIMIT 1",
            params![now, MAX_INGEST_ATTEMPTS],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    let Some(id) = id else {
        // Out of attempts with a dead lease: failed, said why.
        ctx.conn
            .execute(
                "UPDATE knowledge_documents SET status = 'failed', lease_until = NULL, \
                 error = 'ingestion was interrupted ' || attempts || ' times', updated_at = ?1 \
                 WHERE status = 'processing' AND lease_until <= ?1 AND attempts >= ?2",
                params![now, MAX_INGEST_ATTEMPTS],
            )
            .map_err(db_error)?;
        return Ok(None);
    };
    ctx.conn
        .execute(
            "UPDATE knowledge_documents SET status = 'processing', attempts = attempts + 1, \
             lease_until = ?1, updated_at = ?2 WHERE id = ?3",
            params![until, now, id],
        )
        .map_err(db_error)?;
    get_document(ctx.conn, None, None, &id)
}

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn create_collection(&self, c: Collection, audit: AuditEvent) -> StoreResult<Collection> {
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO knowledge_collections (id, org_id, name, description, \
                         created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                        params![
                            c.id,
                            c.org_id,
                            c.name,
                            c.description,
                            c.created_by,
                            rows::ts(c.created_at)
                        ],
                    )
                    .map_err(db_error)?;
                audit::append(ctx, audit, c.created_at)?;
                get_collection(ctx.conn, &c.org_id, &c.id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn collection(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Collection>> {
        self.lookup(|c| get_collection(c, org_id.as_str(), id))
    }

    async fn collections(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Collection>> {
        let org = org_id.as_str().to_owned();
        self.read(move |c| {
            let sql = format!(
                "SELECT {COLLECTION} FROM knowledge_collections WHERE org_id = ?1 \
                 AND deleted_at IS NULL AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
            );
            let mut stmt = c.prepare_cached(&sql).map_err(db_error)?;
            stmt.query_map(params![org, before, limit], collection_row)
                .map_err(db_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_error)
        })
        .await
    }

    async fn delete_collection(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        self.writer
            .write(move |ctx| {
                let changed = ctx
                    .conn
                    .execute(
                        "UPDATE knowledge_collections SET deleted_at = ?1, updated_at = ?1 \
                         WHERE id = ?2 AND org_id = ?3 AND deleted_at IS NULL",
                        params![rows::ts(now), id, org],
                    )
                    .map_err(db_error)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                ctx.conn
                    .execute(
                        "UPDATE knowledge_documents SET deleted_at = ?1, updated_at = ?1, \
                         lease_until = NULL WHERE collection_id = ?2 AND deleted_at IS NULL",
                        params![rows::ts(now), id],
                    )
                    .map_err(db_error)?;
                drop_chunks(ctx.conn, "collection_id", &id)?;
                audit::append(ctx, audit, now)
            })
            .await
    }

    async fn create_document(&self, d: Document, audit: AuditEvent) -> StoreResult<Document> {
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO knowledge_documents (id, org_id, collection_id, \
                         stored_object_id, filename, content_type, status, created_by, \
                         created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?8)",
                        params![
                            d.id,
                            d.org_id,
                            d.collection_id,
                            d.stored_object_id,
                            d.filename,
                            d.content_type,
                            d.created_by,
                            rows::ts(d.created_at)
                        ],
                    )
                    .map_err(db_error)?;
                audit::append(ctx, audit, d.created_at)?;
                get_document(ctx.conn, None, None, &d.id)?.ok_or(StoreError::NotFound)
            })
            .await
    }

    async fn document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        self.lookup(|c| get_document(c, Some(org_id.as_str()), Some(collection_id), id))
    }

    async fn delete_document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (org, col, id) = (
            org_id.as_str().to_owned(),
            collection_id.to_owned(),
            id.to_owned(),
        );
        self.writer
            .write(move |ctx| {
                let changed = ctx
                    .conn
                    .execute(
                        "UPDATE knowledge_documents SET deleted_at = ?1, updated_at = ?1, \
                         lease_until = NULL \
                         WHERE id = ?2 AND org_id = ?3 AND collection_id = ?4 \
                           AND deleted_at IS NULL",
                        params![rows::ts(now), id, org, col],
                    )
                    .map_err(db_error)?;
                if changed == 0 {
                    return Err(StoreError::NotFound);
                }
                drop_chunks(ctx.conn, "document_id", &id)?;
                audit::append(ctx, audit, now)
            })
            .await
    }

    async fn claim_document(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Document>> {
        let (now, until) = (rows::ts(now), rows::ts(lease_until));
        self.writer.write(move |ctx| claim(ctx, &now, &until)).await
    }

    async fn finish_ingestion(&self, f: FinishIngestion) -> StoreResult<bool> {
        self.writer.write(move |ctx| finish(ctx, f)).await
    }

    async fn release_ingestion_leases(&self) -> StoreResult<u64> {
        // Expired, not cleared: the claim takes a processing document only
        // past its lease, and counts the attempt the crash cut off.
        let expired = rows::ts(OffsetDateTime::UNIX_EPOCH);
        self.writer
            .write(move |ctx| {
                ctx.conn
                    .execute(
                        "UPDATE knowledge_documents SET lease_until = ?1 \
                         WHERE status = 'processing' AND lease_until IS NOT NULL",
                        params![expired],
                    )
                    .map(|n| n as u64)
                    .map_err(db_error)
            })
            .await
    }

    async fn search_chunks(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<ChunkHit>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let expr = search::fts5_match(terms);
        let (org, col) = (org_id.as_str().to_owned(), collection_id.to_owned());
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT f.chunk_id, f.document_id, f.text, bm25(knowledge_chunks_fts) AS rank \
                     FROM knowledge_chunks_fts AS f \
                     JOIN knowledge_chunks AS k ON k.id = f.chunk_id \
                     WHERE knowledge_chunks_fts MATCH ?1 AND f.collection_id = ?2 \
                       AND k.org_id = ?3 \
                     ORDER BY rank LIMIT ?4",
                )
                .map_err(db_error)?;
            stmt.query_map(params![expr, col, org, limit], |r| {
                Ok(ChunkHit {
                    chunk_id: r.get(0)?,
                    document_id: r.get(1)?,
                    text: r.get(2)?,
                    score: -r.get::<_, f64>(3)?,
                })
            })
            .map_err(db_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_error)
        })
        .await
    }

    async fn chunk_vectors(
        &self,
        org_id: &OrgId,
        collection_id: &str,
    ) -> StoreResult<Vec<ChunkVector>> {
        let (org, col) = (org_id.as_str().to_owned(), collection_id.to_owned());
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, document_id, text, embedding FROM knowledge_chunks \
                     WHERE collection_id = ?1 AND org_id = ?2 AND embedding IS NOT NULL",
                )
                .map_err(db_error)?;
            let rows = stmt
                .query_map(params![col, org], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(db_error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_error)?;
            Ok(rows
                .into_iter()
                .filter_map(|(chunk_id, document_id, text, raw)| {
                    Some(ChunkVector {
                        chunk_id,
                        document_id,
                        text,
                        embedding: decode_vector(&raw)?,
                    })
                })
                .collect())
        })
        .await
    }
}
