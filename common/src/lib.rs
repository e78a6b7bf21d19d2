//! Shared foundation of every logpipe role: the event contract, configuration from the
//! environment, telemetry, the ops HTTP server, shutdown and Kafka client settings.

pub mod broker;
pub mod config;
pub mod durable;
pub mod error;
pub mod event;
pub mod health;
pub mod kafka;
pub mod ops;
pub mod service;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::Error;
pub use event::{EventId, K8s, Level, LogEvent, RawRecord, Source, SourceKind, Stream, Timestamp};
