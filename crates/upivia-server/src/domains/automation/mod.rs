//! What triggers, scheduled tasks and workflows share: when they run
//! (`schedule`), how a payload is filled in (`template`) and how a service
//! request is sent on an agent's behalf (`dispatch`).

pub mod dispatch;
pub mod schedule;
pub mod template;
