//! Devices (API.md §2.20): terminals attached to their owner's chat
//! sessions, kept live by a heartbeat that also hands them the commands
//! queued from the web.

pub mod service;
