//! Teams: who may create them, see them, and manage their members.

pub mod service;
