//! The query role (search API, web UI, live tail) and `logpipe search`, its command-line
//! client. The search language lives in `language`; the alert engine evaluates rules with
//! its `Predicate`.

pub mod api;
pub mod auth;
pub mod backend;
mod config;
pub mod engine;
pub mod language;
mod openapi;
pub mod scope;
mod search;
mod service;
pub mod tail;

pub use config::{QueryConfig, SEARCH_VARS, VARS};
pub use language::{Predicate, Query, QueryError};
pub use search::{Output, SearchArgs, SearchConfig, run_search};
pub use service::SearchingIndexer;
