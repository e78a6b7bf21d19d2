//! The indexer role: consumes the event stream from Kafka and stores it in tantivy, one
//! index per UTC day, exactly once as seen by search.
//!
//! The layout (`layout`), schema (`schema`) and readers (`catalog`) are the library API
//! the query crate opens.

pub mod catalog;
mod config;
pub mod consumer;
pub mod dead_letter;
pub mod decode;
mod dedup;
pub mod document;
mod error;
pub mod http;
pub mod json;
pub mod layout;
pub mod pipeline;
pub mod retention;
pub mod schema;
pub mod service;
pub mod store;
mod telemetry;

pub use catalog::{Catalog, DayReader, DayStats, Reload};
pub use config::{Assignment, IndexerConfig, ReadApi, VARS};
pub use error::IndexerError;
pub use layout::{Day, IndexLayout};
