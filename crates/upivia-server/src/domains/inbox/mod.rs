//! The agent-requests inbox: who may raise, read and decide a request.

pub mod service;
