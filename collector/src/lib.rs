//! The collector role: a DaemonSet agent that ships every container log line and host
//! file record on its node to Kafka.

mod config;
mod service;

pub use config::{CollectorConfig, VARS};
