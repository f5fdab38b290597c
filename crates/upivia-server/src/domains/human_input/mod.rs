//! Human-input requests: who asks, who sees and answers them, and what an
//! answer resumes (`service`).

pub mod service;
