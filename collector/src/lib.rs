//! The collector role: a DaemonSet agent that ships every container log line and host
//! file record on its node to Kafka, losing nothing to rotation, restarts, broker outages
//! or bad input.

mod bounded;
pub mod checkpoint;
mod config;
pub mod discovery;
mod error;
mod events;
pub mod format;
pub mod generate;
pub mod identity;
mod ingest;
pub mod multiline;
pub mod redact;
pub mod server;
mod service;
pub mod shipper;
pub mod tailer;
mod telemetry;

pub use config::{CollectorConfig, HostFiles, MultilineRule, VARS};
pub use error::{CollectorError, FormatError};
