//! logpipe's Kafka-compatible broker: tansu (Apache-2.0) with its durable SQLite storage,
//! run on a runtime of its own inside the calling process. `logpipe standalone` embeds it
//! so that a laptop or a single container needs no other program; the `logpipe-broker`
//! executable runs it alone, for tests that crash the broker without the process under
//! test.
//!
//! # Layout
//! - `config`: `BrokerConfig`, where the broker listens and keeps its database, and the
//!   storage URL tansu reads it from.
//! - `embedded`: `EmbeddedBroker`, starting it, noticing when it stops, stopping it.
//! - `error`: what can go wrong doing so.
//! - `bin/logpipe-broker.rs`: the executable.

mod config;
mod embedded;
mod error;

pub use config::{BrokerConfig, DB_FILE};
pub use embedded::EmbeddedBroker;
pub use error::{Error, Result};
