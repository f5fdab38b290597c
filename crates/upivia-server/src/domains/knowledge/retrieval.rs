//! Retrieval for `knowledge.search`: BM25-style full-text ranking over any
//! of the query's terms (the store's index), fused with cosine similarity
//! to the query's vector (`search::fuse::hybrid`: a weighted sum of the two
//! scores, each normalised per query) when the collection's chunks have
//! vectors and the embeddings endpoint answers. `semantic` says which
//! happened; nothing is presented as semantic that was not.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::super::DomainError;
use crate::ids::OrgId;
use crate::platform::Platform;
use crate::search::{self, fuse};
use crate::store::ChunkHit;

pub const DEFAULT_TOP_K: u32 = 5;
pub const MAX_TOP_K: u32 = 50;
/// How deep the lexical list is, and how many of the most similar chunks
/// join it, before fusion.
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
    let mut vectors = platform
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
    // Every chunk's similarity: the fusion normalises against the whole
    // collection and takes the most similar itself. Sorted by id so that
    // equal similarities fall the same way whatever order the store
    // returned the vectors in.
    vectors.sort_by(|a, b| a.chunk_id.cmp(&b.chunk_id));
    let similarity: Vec<(&str, f64)> = vectors
        .iter()
        .map(|v| (v.chunk_id.as_str(), fuse::cosine(&q, &v.embedding)))
        .collect();
    let full_text: Vec<(&str, f64)> = lexical
        .iter()
        .map(|h| (h.chunk_id.as_str(), h.score))
        .collect();
    let fused = fuse::hybrid(&full_text, &similarity, CANDIDATES as usize);
    let mut texts: HashMap<&str, (&str, &str)> = HashMap::new();
    for (id, document_id, text) in lexical
        .iter()
        .map(|h| (&h.chunk_id, &h.document_id, &h.text))
        .chain(
            vectors
                .iter()
                .map(|v| (&v.chunk_id, &v.document_id, &v.text)),
        )
    {
        texts
            .entry(id.as_str())
            .or_insert((document_id.as_str(), text.as_str()));
    }
    let hits = fused
        .into_iter()
        .take(top_k as usize)
        .filter_map(|(id, score)| {
            let (document_id, text) = texts.get(id)?;
            Some(ChunkHit {
                chunk_id: id.to_owned(),
                document_id: (*document_id).to_owned(),
                text: (*text).to_owned(),
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
