//! The query role (search API, web UI, live tail) and `logpipe search`, its command-line
//! client. The search language lives in `language`; the alert engine evaluates rules with
//! its `Predicate`.

mod config;
pub mod language;
mod search;
mod service;

pub use config::{QueryConfig, SEARCH_VARS, VARS};
pub use language::{Predicate, Query, QueryError};
pub use search::{SearchArgs, SearchConfig, run_search};
