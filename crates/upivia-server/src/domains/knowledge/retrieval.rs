//! Retrieval for `knowledge.search`: BM25-style full-text ranking over any
//! of the query's terms (the store's index), fused by reciprocal rank with
//! cosine similarity to the query's vector when the collection's chunks
//! have vectors and the embeddings endpoint answers. `semantic` says which
//! happened; nothing is presented as semantic that was not.

use serde_json::{Value, json};

use super::super::DomainError;
use crate::ids::OrgId;
use crate::platform::Platform;
use crate::search::{self, fuse};
use crate::store::ChunkHit;

pub const DEFAULT_TOP_K: u32 = 5;
pub const MAX_TOP_K: u32 = 50;
/// How deep each list is before fusion.
const CANDIDATES: u32 = 50;
const MAX_QUERY: usize = 2000;

#[derive(Clone, Debug)]
pub struct Found {
    pub hits: Vec<ChunkHit>,
    pub semantic: bool,
}

/// The best `top_k` chunks of a collection for `query`.
pub async fn search(
    platform: &Platform,
    org: &OrgId,
    collection_id: &str,
    query: &str,
    top_k: u32,
) -> Result<Found, DomainError> {
    if query.chars().count() > MAX_QUERY {
        return Err(DomainError::Invalid(format!(
            "invalid field query: at most {MAX_QUERY} characters"
        )));
    }
    super::service::collection(platform, org, collection_id).await?;
    let terms = search::terms(query);
    let lexical = platform
        .stores
        .knowledge
        .search_chunks(org, collection_id, &terms, CANDIDATES.max(top_k))
        .await?;
    let Some(embedder) = &platform.embedder else {
        return Ok(Found {
            hits: lexical.into_iter().take(top_k as usize).collect(),
            semantic: false,
        });
    };
    let vectors = platform
        .stores
        .knowledge
        .chunk_vectors(org, collection_id)
        .await?;
    if vectors.is_empty() || query.trim().is_empty() {
        return Ok(Found {
            hits: lexical.into_iter().take(top_k as usize).collect(),
            semantic: false,
        });
    }
    let q = match embedder.embed(&[query.to_owned()]).await {
        Ok(mut v) if !v.is_empty() => v.remove(0),
        // The endpoint down must not take search down: lexical, and said so.
        other => {
            if let Err(e) = other {
                tracing::warn!(error = %e, "query embedding failed; searching full-text only");
            }
            return Ok(Found {
                hits: lexical.into_iter().take(top_k as usize).collect(),
                semantic: false,
            });
        }
    };
    let mut by_similarity: Vec<(f64, ChunkHit)> = vectors
        .into_iter()
        .map(|v| {
            (
                fuse::cosine(&q, &v.embedding),
                ChunkHit {
                    chunk_id: v.chunk_id,
                    document_id: v.document_id,
                    text: v.text,
                    score: 0.0,
                },
            )
        })
        .collect();
    by_similarity.sort_by(|a, b| b.0.total_cmp(&a.0));
    by_similarity.truncate(CANDIDATES as usize);
    let mut texts = std::collections::HashMap::new();
    for hit in lexical.iter().chain(by_similarity.iter().map(|(_, h)| h)) {
        texts
            .entry(hit.chunk_id.clone())
            .or_insert_with(|| (hit.document_id.clone(), hit.text.clone()));
    }
    let fused = fuse::rrf(&[
        lexical.iter().map(|h| h.chunk_id.clone()).collect(),
        by_similarity
            .iter()
            .map(|(_, h)| h.chunk_id.clone())
            .collect(),
    ]);
    let hits = fused
        .into_iter()
        .take(top_k as usize)
        .filter_map(|(id, score)| {
            let (document_id, text) = texts.remove(&id)?;
            Some(ChunkHit {
                chunk_id: id,
                document_id,
                text,
                score,
            })
        })
        .collect();
    Ok(Found {
        hits,
        semantic: true,
    })
}

/// The result `knowledge.search` answers.
pub fn result_json(found: &Found) -> Value {
    json!({
        "results": found.hits.iter().map(|h| json!({
            "document_id": h.document_id,
            "chunk_id": h.chunk_id,
            "text": h.text,
            "score": h.score,
        })).collect::<Vec<_>>(),
        "semantic": found.semantic,
    })
}
