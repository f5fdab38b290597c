//! The ingestion worker: claims a pending document (a lease, so one node
//! works on it and a node that dies mid-way is taken over when its lease
//! runs out, or at once when a single SQLite node restarts), reads its
//! stored object, extracts and chunks the text, embeds the chunks when an
//! embeddings endpoint is configured, and stores the chunks with the
//! document's `ready` status in one transaction. What cannot be ingested
//! (an unsupported format, no text, the embeddings endpoint refusing) is
//! `failed` with the reason; an interrupted ingestion is tried again, up
//! to three attempts.

use serde_json::json;
use time::Duration;

use super::text;
use crate::domains::storage::service as storage;
use crate::governance::trail;
use crate::ids::{self, OrgId};
use crate::model::AuditEvent;
use crate::platform::Platform;
use crate::store::{Document, FinishIngestion, Ingested, NewChunk, StoreError};

/// Largest document ingested.
pub const MAX_DOCUMENT_BYTES: u64 = 20 * 1024 * 1024;
/// How long a claim lasts before another node may take it over.
const LEASE: Duration = Duration::minutes(5);
/// Documents one pass ingests at most.
const PER_PASS: usize = 16;

/// Ingests what is waiting, in the background.
pub fn kick(platform: &Platform) {
    let platform = platform.clone();
    tokio::spawn(async move {
        if let Err(e) = tick(&platform).await {
            tracing::warn!(error = %e, "knowledge ingestion pass failed");
        }
    });
}

/// One pass; how many documents it finished.
pub async fn tick(platform: &Platform) -> Result<usize, StoreError> {
    let mut done = 0;
    for _ in 0..PER_PASS {
        let now = platform.clock.now();
        // Whole seconds: both stores hand the lease back exactly.
        let lease_until = (now + LEASE).replace_nanosecond(0).unwrap_or(now + LEASE);
        let Some(doc) = platform
            .stores
            .knowledge
            .claim_document(now, lease_until)
            .await?
        else {
            break;
        };
        let outcome = ingest(platform, &doc).await;
        let (kind, details) = match &outcome {
            Ingested::Ready { chunks } => (
                "knowledge.document_ready",
                json!({"chunks": chunks.len(),
                       "embedded": chunks.first().is_some_and(|c| c.embedding.is_some())}),
            ),
            Ingested::Failed { error } => ("knowledge.document_failed", json!({"error": error})),
        };
        let mut details = details;
        details["document_id"] = json!(doc.id);
        details["collection_id"] = json!(doc.collection_id);
        let audit = AuditEvent::new(&doc.org_id, kind, trail::SYSTEM).with_details(details);
        let finished = platform
            .stores
            .knowledge
            .finish_ingestion(FinishIngestion {
                id: doc.id.clone(),
                lease_until,
                outcome,
                now: platform.clock.now(),
                audit,
            })
            .await?;
        if finished {
            done += 1;
        } else {
            tracing::info!(document_id = %doc.id, "an ingestion's claim was lost (deleted or taken over)");
        }
    }
    Ok(done)
}

async fn ingest(platform: &Platform, doc: &Document) -> Ingested {
    let failed = |error: String| Ingested::Failed { error };
    let org = OrgId::from(&doc.org_id);
    let bytes =
        match storage::read_live(platform, &org, &doc.stored_object_id, MAX_DOCUMENT_BYTES).await {
            Ok((_, bytes)) => bytes,
            Err(e) => return failed(format!("reading the stored object: {e}")),
        };
    // Parsing a large PDF or HTML file is CPU work; off the async workers.
    let (content_type, filename) = (doc.content_type.clone(), doc.filename.clone());
    let extracted = tokio::task::spawn_blocking(move || {
        text::extract(&bytes, &content_type, &filename).and_then(|t| text::chunks(&t))
    })
    .await;
    let chunks = match extracted {
        Ok(Ok(chunks)) => chunks,
        Ok(Err(e)) => return failed(e.to_string()),
        Err(e) => return failed(format!("extracting the text: {e}")),
    };
    let vectors = match &platform.embedder {
        Some(embedder) => match embedder.embed(&chunks).await {
            Ok(v) => Some(v),
            Err(e) => return failed(format!("embedding the chunks: {e}")),
        },
        None => None,
    };
    let mut vectors = vectors.map(Vec::into_iter);
    let chunks = chunks
        .into_iter()
        .enumerate()
        .map(|(i, text)| NewChunk {
            id: ids::new_id("kchk"),
            ordinal: i as i64,
            text,
            embedding: vectors.as_mut().and_then(Iterator::next),
        })
        .collect();
    Ingested::Ready { chunks }
}
