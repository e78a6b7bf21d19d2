//! The alerting role: evaluates rules on the Kafka event stream and calls webhooks.

mod config;
mod service;

pub use config::{AlertingConfig, VARS};
