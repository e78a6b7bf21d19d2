//! The indexer role: consumes the event stream from Kafka and stores it in the audit
//! store (`logpipe-store`), one index per UTC day, exactly once as seen by search.
//!
//! # Layout
//! - `config`: `IndexerConfig`, read from the environment.
//! - `service`: the indexer as a logpipe service: stores opened, consumer thread started;
//!   `Started` hands the catalog to whoever serves search over it.
//! - `consumer`: the Kafka consumer loop, rebalances and offset positions.
//! - `decode`: a Kafka message → the document it is indexed as, or why it is refused.
//! - `pipeline`: decode, deduplicate, write, chain in the ledger, commit with offsets,
//!   sign digests, retention.
//! - `dedup`: the recent ids a replay is checked against.
//! - `dead_letter`: refused messages, with the reason, to the dead-letter topic: whole, or
//!   by reference when they cannot go whole.
//! - `retention`: which days go, by age and by size.
//! - `archive`: the index copied to object storage on a thread of its own, and an empty
//!   volume restored from it.
//! - `http`: the indexer's own endpoint (the days it holds).
//! - `telemetry`: the indexer's metrics.
//! - `error`: `IndexerError`.

pub mod archive;
mod config;
pub mod consumer;
pub mod dead_letter;
pub mod decode;
mod dedup;
mod error;
mod http;
#[cfg(test)]
mod integrity_tests;
pub mod pipeline;
pub mod retention;
pub mod service;
mod telemetry;

pub use config::{Assignment, IndexerConfig, VARS};
pub use error::IndexerError;
pub use service::Started;
