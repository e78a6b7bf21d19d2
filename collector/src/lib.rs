//! The collector role: a DaemonSet agent that ships every container log line and host
//! file record on its node to Kafka.

mod bounded;
mod config;
mod error;
pub mod format;
pub mod multiline;
pub mod redact;
mod service;

pub use config::{CollectorConfig, VARS};
pub use error::FormatError;
