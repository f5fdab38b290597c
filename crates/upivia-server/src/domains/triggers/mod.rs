//! Triggers: who creates and changes them (`service`), a webhook fire
//! (`fire`) and the cron pass (`cron`).

pub mod cron;
pub mod fire;
pub mod service;
