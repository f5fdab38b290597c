//! Agent memory: who writes, reads and changes an agent's memories, the
//! quota and audit of a write (`service`), and the graph drawn from them
//! (`graph`, a pure function).

pub mod graph;
pub mod service;
