//! Knowledge: collections, their documents (each a stored object) and the
//! chunks ingestion makes of them. A document moves `pending →
//! processing → ready | failed`; the ingestion worker claims one with a
//! conditional update that sets a lease (of several nodes one claims it,
//! and a claim whose node died is taken again once its lease runs out),
//! and its chunks replace the document's old ones in the transaction that
//! marks it ready.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;

#[derive(Clone, Debug)]
pub struct Collection {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentStatus {
    Pending,
    Processing,
    Ready,
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<DocumentStatus> {
        match raw {
            "pending" => Some(DocumentStatus::Pending),
            "processing" => Some(DocumentStatus::Processing),
            "ready" => Some(DocumentStatus::Ready),
            "failed" => Some(DocumentStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Document {
    pub id: String,
    pub org_id: String,
    pub collection_id: String,
    pub stored_object_id: String,
    pub filename: String,
    pub content_type: String,
    pub status: DocumentStatus,
    pub error: Option<String>,
    pub chunk_count: i64,
    /// Whether its chunks have vectors.
    pub embedded: bool,
    pub attempts: i64,
    pub lease_until: Option<OffsetDateTime>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

/// A chunk to store.
#[derive(Clone, Debug)]
pub struct NewChunk {
    pub id: String,
    pub ordinal: i64,
    pub text: String,
    pub embedding: Option<Vec<f32>>,
}

/// What an ingestion came to.
#[derive(Clone, Debug)]
pub enum Ingested {
    Ready { chunks: Vec<NewChunk> },
    Failed { error: String },
}

/// Finishing the claim `lease_until` (as claimed) of document `id`.
#[derive(Clone, Debug)]
pub struct FinishIngestion {
    pub id: String,
    pub lease_until: OffsetDateTime,
    pub outcome: Ingested,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// A chunk found by a search; `score` is higher for better (BM25 on
/// SQLite, `ts_rank` normalised by length on PostgreSQL).
#[derive(Clone, Debug)]
pub struct ChunkHit {
    pub chunk_id: String,
    pub document_id: String,
    pub text: String,
    pub score: f64,
}

/// A chunk with its vector, for similarity search.
#[derive(Clone, Debug)]
pub struct ChunkVector {
    pub chunk_id: String,
    pub document_id: String,
    pub text: String,
    pub embedding: Vec<f32>,
}

#[async_trait]
pub trait KnowledgeStore: Send + Sync + 'static {
    async fn create_collection(&self, c: Collection, audit: AuditEvent) -> StoreResult<Collection>;
    /// Live collections only.
    async fn collection(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Collection>>;
    /// Live, newest first, ids below `before`.
    async fn collections(
        &self,
        org_id: &OrgId,
        before: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Collection>>;
    /// Soft-deletes it and drops its documents' chunks; `NotFound` when
    /// not live.
    async fn delete_collection(
        &self,
        org_id: &OrgId,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    async fn create_document(&self, d: Document, audit: AuditEvent) -> StoreResult<Document>;
    /// Live documents only.
    async fn document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>>;
    /// Soft-deletes it and drops its chunks; `NotFound` when not live.
    async fn delete_document(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Claims the oldest document waiting for ingestion (pending, or
    /// processing with a lease that ran out, with attempts left) until
    /// `lease_until`.
    async fn claim_document(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<Option<Document>>;
    /// `false` when the claim was lost (another node took it over, or the
    /// document was deleted).
    async fn finish_ingestion(&self, finish: FinishIngestion) -> StoreResult<bool>;
    /// Frees every lease (a single node starting: nobody else holds one).
    async fn release_ingestion_leases(&self) -> StoreResult<u64>;
    /// Chunks of live, ready documents of the collection holding any of
    /// the terms, best first.
    async fn search_chunks(
        &self,
        org_id: &OrgId,
        collection_id: &str,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<ChunkHit>>;
    /// Every chunk of the collection that has a vector.
    async fn chunk_vectors(
        &self,
        org_id: &OrgId,
        collection_id: &str,
    ) -> StoreResult<Vec<ChunkVector>>;
}

/// Most attempts an ingestion gets before it is marked failed.
pub const MAX_INGEST_ATTEMPTS: i64 = 3;

/// A vector as stored: base64 of little-endian f32s.
pub fn encode_vector(v: &[f32]) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn decode_vector(raw: &str) -> Option<Vec<f32>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}
