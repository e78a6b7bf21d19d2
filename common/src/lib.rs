//! Shared foundation of every logpipe role: the event contract, configuration from the
//! environment, telemetry, the ops HTTP server, shutdown, Kafka client settings, and the
//! access control the HTTP APIs share (bearer tokens in `tokens`, `Host` names in `hosts`).
//!
//! Without the `runtime` feature (on by default) only the event contract (`event`) and
//! durable files (`durable`) are built, on serde and a few small crates: the search
//! language depends on that much and no more.

#[cfg(feature = "testkit")]
pub mod broker;
#[cfg(feature = "runtime")]
pub mod config;
pub mod durable;
#[cfg(feature = "runtime")]
pub mod error;
pub mod event;
#[cfg(feature = "runtime")]
pub mod health;
#[cfg(feature = "runtime")]
pub mod hosts;
#[cfg(feature = "runtime")]
pub mod kafka;
#[cfg(feature = "runtime")]
pub mod ops;
#[cfg(feature = "runtime")]
pub mod release;
#[cfg(feature = "runtime")]
pub mod service;
#[cfg(feature = "runtime")]
pub mod shutdown;
#[cfg(feature = "runtime")]
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;
#[cfg(feature = "runtime")]
pub mod tokens;

#[cfg(feature = "runtime")]
pub use error::Error;
pub use event::{EventId, K8s, Level, LogEvent, RawRecord, Source, SourceKind, Stream, Timestamp};
