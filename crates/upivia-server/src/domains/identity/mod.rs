//! Identity: signing in, sessions and passwords (service.rs); members,
//! their roles, personal access tokens and workspaces (people.rs).

pub mod people;
pub mod service;
