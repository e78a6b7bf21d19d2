//! Search over the day indexes of a `Catalog`, the primitives that `logpipe indexer` and
//! `logpipe query` both serve: hits newest first with a cursor, a date histogram, the top
//! values of a field and events by id. Every search stops at its deadline.

mod deadline;
mod histogram;
mod hits;
mod newest;
#[cfg(test)]
mod probe;
mod request;
mod values;

pub use histogram::{Histogram, MAX_BUCKETS, auto_interval, histogram};
pub use hits::{Page, event, search, search_page};
pub use request::{Cursor, DEFAULT_MAX_PAGE_BYTES, MAX_LIMIT, Request, SearchError, TimeRange};
pub use values::{TopValues, facet_column, top_values};
