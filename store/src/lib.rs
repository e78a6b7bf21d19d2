//! logpipe's audit store: the day indexes on disk, how an event becomes a document, and
//! how the search language's queries run over them. The indexer writes through this
//! crate and the query service reads through it; neither depends on the other.
//!
//! # Layout
//! - `schema`: the tantivy schema and its version, and the analyzer full-text fields use.
//! - `layout`: where each day's index lives, its version file and the partition positions.
//! - `json`: an event's attributes read in place from its JSON for the index.
//! - `document`: event → tantivy document, read in place from the event's JSON.
//! - `writer`: one tantivy writer per open day; commits carry the Kafka offsets covered.
//! - `catalog`: readers over every day, reloaded as commits land.
//! - `ledger`: each commit round's events per partition, hash-chained.
//! - `digest`: signed digests of the ledger.
//! - `verify`: indexes, ledger and digests checked against one another.
//! - `archive`: the store's copy in object storage, synced round by round, and the
//!   restore of an empty volume from it.
//! - `translate`: the search language's `Query` → a tantivy query.
//! - `search`: hits with a cursor, histogram, top values, events by id, deadlines.
//! - `telemetry`: the commit metric.
//! - `testkit` (feature, and in this crate's tests): test indexes written as the indexer
//!   writes them.
//! - `error`: `StoreError`.

pub mod archive;
pub mod catalog;
pub mod digest;
pub mod document;
mod error;
pub mod json;
pub mod layout;
pub mod ledger;
pub mod schema;
pub mod search;
mod telemetry;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod translate;
pub mod verify;
pub mod writer;

pub use catalog::{Catalog, DayReader, DayStats, Reload};
pub use error::StoreError;
pub use layout::{Day, IndexLayout};
pub use translate::to_tantivy;
pub use writer::{CommitReport, Writer, WriterSettings};
