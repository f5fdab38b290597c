//! Workflows: definitions (`definition`), run states and their pure rules
//! (`state`), the durable runner (`runner`), who may do what (`service`),
//! their decisions in the approvals inbox (`inbox`), the templates
//! catalogue (`templates`) and `workflow.run`, the governed operation a
//! granted agent starts one with (`skill`).

pub mod definition;
pub mod inbox;
pub mod runner;
pub mod service;
pub mod skill;
pub mod state;
pub mod templates;
