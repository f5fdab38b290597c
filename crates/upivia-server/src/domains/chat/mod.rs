//! Chat: sessions between a person and an agent, and the agent loop that
//! answers a turn with a model and governed tool calls (API.md §1.11,
//! §2.12).

pub mod model;
pub mod openai_model;
pub mod sandbox;
pub mod service;
pub mod tools;
pub mod turn;
pub mod unattended;
