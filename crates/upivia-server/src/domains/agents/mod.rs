//! Agents: creating, changing and binding them to services.

pub mod service;
