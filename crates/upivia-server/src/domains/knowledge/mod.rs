//! Knowledge (API.md §2.15): collections of documents an organisation's
//! agents answer from. `service` holds who may do what; `text` turns a
//! document's bytes into text and chunks; `ingest` is the durable worker
//! that does it (and embeds the chunks when an embeddings endpoint is
//! set); `retrieval` ranks chunks for `knowledge.search`, the governed
//! operation agents query with.

pub mod ingest;
pub mod retrieval;
pub mod service;
pub mod text;
