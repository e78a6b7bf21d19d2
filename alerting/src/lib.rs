//! The alerting role: evaluates rules on the Kafka event stream and calls webhooks.

mod check;
mod config;
pub mod engine;
pub mod notify;
pub mod rules;
pub mod runner;
mod service;

pub use check::check;
pub use config::{AlertingConfig, VARS};
