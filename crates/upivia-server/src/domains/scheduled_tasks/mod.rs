//! Scheduled tasks: who creates and changes them (`service`) and the pass
//! that runs them (`runs`).

pub mod runs;
pub mod service;
