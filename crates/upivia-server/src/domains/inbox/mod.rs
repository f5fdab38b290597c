//! The agent-requests inbox: who may raise, read and decide a request,
//! and the chat turns' approval gates shown beside them.

pub mod chat_gates;
pub mod service;
