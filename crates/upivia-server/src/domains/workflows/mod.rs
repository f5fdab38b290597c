//! Workflows: definitions (`definition`), run states and their pure rules
//! (`state`), the durable runner (`runner`), who may do what (`service`),
//! their decisions in the approvals inbox (`inbox`) and the templates
//! catalogue (`templates`).

pub mod definition;
pub mod inbox;
pub mod runner;
pub mod service;
pub mod state;
pub mod templates;
