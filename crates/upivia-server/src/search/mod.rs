//! Ranked text retrieval shared by knowledge chunks and agent memories.
//! A query becomes its terms (`terms`); the stores match documents that
//! hold *any* term and rank them BM25-style (SQLite FTS5's `bm25()`,
//! PostgreSQL `ts_rank` normalised by document length) on an English
//! stemming tokenizer, so "restarting" finds "restart". Where vectors
//! exist the lexical ranking is fused with vector similarity (`fuse`: a
//! weighted sum of the two scores, each normalised per query).

pub mod fuse;
pub mod terms;

pub use terms::{fts5_match, pg_tsquery, terms};
