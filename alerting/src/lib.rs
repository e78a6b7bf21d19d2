//! The alerting role: evaluates rules on the Kafka event stream and calls webhooks.

mod config;
pub mod engine;
pub mod notify;
pub mod rules;
mod service;

pub use config::{AlertingConfig, VARS};
