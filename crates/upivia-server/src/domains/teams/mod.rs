//! Teams: who may create them, see them, and manage their members
//! (service.rs); their pools of money (pool.rs); and the budget requests
//! that ask for more (budget_requests.rs).

pub mod budget_requests;
pub mod pool;
pub mod service;
