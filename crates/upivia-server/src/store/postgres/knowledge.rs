//! `KnowledgeStore` on PostgreSQL, with the answers of
//! `sqlite/knowledge.rs`. A claim takes the oldest waiting document with
//! `FOR UPDATE SKIP LOCKED`, so nodes claiming at once take different
//! ones; search ranks with `ts_rank` normalised by document length
//! (BM25-like: term frequency saturated by length) over an any-term
//! `to_tsquery`.

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use super::error::corrupt;
use super::{PgStore, audit, db_error};
use crate::ids::OrgId;
use crate::model::AuditEvent;
use crate::search;
use crate::store::*;

const COLLECTION: &str =
    "id, org_id, name, description, created_by, created_at, updated_at, deleted_at";
const DOCUMENT: &str = "id, org_id, collection_id, stored_object_id, filename, content_type, \
    status, error, chunk_count, embedded, attempts, lease_until, created_by, created_at, \
    updated_at, deleted_at";

#[derive(sqlx::FromRow)]
struct CollectionRow {
    id: String,
    org_id: String,
    name: String,
    description: Option<String>,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

impl From<CollectionRow> for Collection {
    fn from(r: CollectionRow) -> Collection {
        Collection {
            id: r.id,
            org_id: r.org_id,
            name: r.name,
            description: r.description,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: String,
    org_id: String,
    collection_id: String,
    stored_object_id: String,
    filename: String,
    content_type: String,
    status: String,
    error: Option<String>,
    chunk_count: i64,
    embedded: bool,
    attempts: i64,
    lease_until: Option<OffsetDateTime>,
    created_by: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    deleted_at: Option<OffsetDateTime>,
}

impl DocumentRow {
    fn into_document(self) -> StoreResult<Document> {
        Ok(Document {
            status: DocumentStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("document status {:?}", self.status)))?,
            id: self.id,
            org_id: self.org_id,
            collection_id: self.collection_id,
            stored_object_id: self.stored_object_id,
            filename: self.filename,
            content_type: self.content_type,
            error: self.error,
            chunk_count: self.chunk_count,
            embedded: self.embedded,
            attempts: self.attempts,
            lease_until: self.lease_until,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        })
    }
}

async fn get_collection(
    conn: &mut PgConnection,
    org: &str,
    id: &str,
) -> StoreResult<Option<Collection>> {
    let sql = format!(
        "SELECT {COLLECTION} FROM knowledge_collections \
         WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(sqlx::query_as::<_, CollectionRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(Collection::from))
}

async fn get_document(
    conn: &mut PgConnection,
    org: Option<&str>,
    collection: Option<&str>,
    id: &str,
    lock: bool,
) -> StoreResult<Option<Document>> {
    let sql = format!(
        "SELECT {DOCUMENT} FROM knowledge_documents WHERE id = $1 \
         AND ($2::TEXT IS NULL OR org_id = $2) AND ($3::TEXT IS NULL OR collection_id = $3) \
         AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(sql))
        .bind(id)
        .bind(org)
        .bind(collection)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(DocumentRow::into_document)
        .transpose()
}

#[async_trait]
impl KnowledgeStore for PgStore {
    async fn create_collection(&self, c: Collection, audit: AuditEvent) -> StoreResult<Collection> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO knowledge_collections (id, org_id, name, description, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&c.id)
        .bind(&c.org_id)
        .bind(&c.name)
        .bind(&c.description)
        .bind(&c.created_by)
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit, c.created_at).await?;
        let made = get_collection(&mut tx, &c.org_id, &c.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(made)
    }

    async fn collection(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Collection>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get_collection(&mut conn, org_id.as_str(), id).await
    }

    async fn collections(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Collection>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let sql = format!(
            "SELECT {COLLECTION} FROM knowledge_collections WHERE org_id = $1 \
             AND deleted_at IS NULL AND ($2::TEXT IS NULL OR id COLLATE \"C\" < $2) \
             ORDER BY id COLLATE \"C\" DESC LIMIT $3"
        );
        Ok(sqlx::query_as::<_, CollectionRow>(AssertSqlSafe(sql))
            .bind(org_id.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Collection::from)
            .collect())
    }

    async fn delete_collection(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE knowledge_collections SET deleted_at = $1, updated_at = $1 \
             WHERE id = $2 AND org_id = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE knowledge_documents SET deleted_at = $1, updated_at = $1, lease_until = NULL \
             WHERE collection_id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM knowledge_chunks WHERE collection_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        audit::insert(&mut tx, &audit, now).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn create_document(&self, d: Document, audit: AuditEvent) -> StoreResult<Document> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "INSERT INTO knowledge_documents (id, org_id, collection_id, stored_object_id, \
             filename, content_type, status, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8)",
        )
        .bind(&d.id)
        .bind(&d.org_id)
        .bind(&d.collection_id)
        .bind(&d.stored_object_id)
        .bind(&d.filename)
        .bind(&d.content_type)
        .bind(&d.created_by)
        .bind(d.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        audit::insert(&mut tx, &audit, d.created_at).await?;
        let made = get_document(&mut tx, None, None, &d.id, false)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db_error)?;
        Ok(made)
    }

    async fn document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        get_document(
            &mut conn,
            Some(org_id.as_str()),
            Some(collection_id),
            id,
            false,
        )
        .await
    }

    async fn delete_document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let changed = sqlx::query(
            "UPDATE knowledge_documents SET deleted_at = $1, updated_at = $1, lease_until = NULL \
             WHERE id = $2 AND org_id = $3 AND collection_id = $4 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org_id.as_str())
        .bind(collection_id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM knowledge_chunks WHERE document_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        audit::insert(&mut tx, &audit, now).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn claim_document(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Document>> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(
            "UPDATE knowledge_documents SET status = 'failed', lease_until = NULL, \
             error = 'ingestion was interrupted ' || attempts || ' times', updated_at = $1 \
             WHERE status = 'processing' AND lease_until <= $1 AND attempts >= $2 \
               AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(MAX_INGEST_ATTEMPTS)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let id: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM knowledge_documents WHERE deleted_at IS NULL AND attempts < $2 \
               AND (status = 'pending' OR (status = 'processing' AND lease_until <= $1)) \
             ORDER BY id COLLATE \"C\" LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(MAX_INGEST_ATTEMPTS)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some((id,)) = id else {
            tx.commit().await.map_err(db_error)?;
            return Ok(None);
        };
        sqlx::query(
            "UPDATE knowledge_documents SET status = 'processing', attempts = attempts + 1, \
             lease_until = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(lease_until)
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let doc = get_document(&mut tx, None, None, &id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(doc)
    }

    async fn finish_ingestion(&self, f: FinishIngestion) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let Some(doc) = get_document(&mut tx, None, None, &f.id, true).await? else {
            return Ok(false);
        };
        if doc.status != DocumentStatus::Processing || doc.lease_until != Some(f.lease_until) {
            return Ok(false);
        }
        match &f.outcome {
            Ingested::Ready { chunks } => {
                sqlx::query("DELETE FROM knowledge_chunks WHERE document_id = $1")
                    .bind(&doc.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let embedded = !chunks.is_empty() && chunks.iter().all(|c| c.embedding.is_some());
                for c in chunks {
                    sqlx::query(
                        "INSERT INTO knowledge_chunks (id, org_id, collection_id, document_id, \
                         ordinal, text, embedding) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&c.id)
                    .bind(&doc.org_id)
                    .bind(&doc.collection_id)
                    .bind(&doc.id)
                    .bind(c.ordinal)
                    .bind(&c.text)
                    .bind(c.embedding.as_deref().map(encode_vector))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                sqlx::query(
                    "UPDATE knowledge_documents SET status = 'ready', error = NULL, \
                     chunk_count = $1, embedded = $2, lease_until = NULL, updated_at = $3 \
                     WHERE id = $4",
                )
                .bind(chunks.len() as i64)
                .bind(embedded)
                .bind(f.now)
                .bind(&doc.id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
            Ingested::Failed { error } => {
                sqlx::query(
                    "UPDATE knowledge_documents SET status = 'failed', error = $1, \
                     lease_until = NULL, updated_at = $2 WHERE id = $3",
                )
                .bind(error)
                .bind(f.now)
                .bind(&doc.id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
        }
        audit::insert(&mut tx, &f.audit, f.now).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn release_ingestion_leases(&self) -> StoreResult<u64> {
        // Other nodes may hold leases: they run out on their own.
        Ok(0)
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
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let rows: Vec<(String, String, String, f32)> = sqlx::query_as(
            "SELECT id, document_id, text, ts_rank(tsv, q, 1) AS rank \
             FROM knowledge_chunks, to_tsquery('english', $1) AS q \
             WHERE collection_id = $2 AND org_id = $3 AND tsv @@ q \
             ORDER BY rank DESC, id LIMIT $4",
        )
        .bind(search::pg_tsquery(terms))
        .bind(collection_id)
        .bind(org_id.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(chunk_id, document_id, text, rank)| ChunkHit {
                chunk_id,
                document_id,
                text,
                score: f64::from(rank),
            })
            .collect())
    }

    async fn chunk_vectors(
        &self,
        org_id: &OrgId,
        collection_id: &str,
    ) -> StoreResult<Vec<ChunkVector>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, document_id, text, embedding FROM knowledge_chunks \
             WHERE collection_id = $1 AND org_id = $2 AND embedding IS NOT NULL",
        )
        .bind(collection_id)
        .bind(org_id.as_str())
        .fetch_all(&mut *conn)
        .await
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
    }
}
