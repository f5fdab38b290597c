//! Delegation (API.md §2.7): tasks a parent agent hands to its children,
//! the state machine they move through, and who may drive it.

pub mod autonomy;
pub mod machine;
pub mod service;
