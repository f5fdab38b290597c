//! Agents: creating, changing and binding them to services; their
//! lifecycle (delete, clone, transfer) and what they did (health,
//! activity, skills).

pub mod activity;
pub mod health;
pub mod lifecycle;
pub mod service;
pub mod spawn;
