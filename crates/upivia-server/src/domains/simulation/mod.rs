//! Policy simulation: who may ask what a request of an agent would meet.
//! The judging itself is the pipeline's (`governance::simulate`).

pub mod service;
