//! The operator's view of an organisation (API.md §2.22): the snapshot of
//! its fleet, blockers, spend and background work, and the recent runs
//! of every workflow. Reads only.

pub mod service;
pub mod spend;
