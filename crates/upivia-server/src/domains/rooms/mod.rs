//! Rooms and swarms (API.md §2.22): discussions of people and agents on
//! an objective, where each agent's reply is a governed chat turn that
//! spends from the room's budget. `service` holds who may open, see and
//! post; `replies` makes the agents' replies in the background.

pub mod replies;
pub mod service;
