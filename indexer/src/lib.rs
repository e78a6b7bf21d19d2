//! The indexer role: consumes the event stream from Kafka and stores it in tantivy for
//! audit search.

mod config;
mod service;

pub use config::{IndexerConfig, VARS};
