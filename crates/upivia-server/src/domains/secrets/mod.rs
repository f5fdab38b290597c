//! Organisation secrets: who may write, list and delete them, and how a
//! value is sealed before it reaches the store and opened when the
//! platform uses it (see `vault`).

pub mod service;
pub mod webhook_signing;
