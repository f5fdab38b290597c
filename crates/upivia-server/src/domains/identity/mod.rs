//! Identity: signing in, sessions and passwords.

pub mod service;
