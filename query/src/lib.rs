//! The query role (search API, web UI, live tail) and `logpipe search`, its command-line
//! client.

mod config;
mod search;
mod service;

pub use config::{QueryConfig, SEARCH_VARS, VARS};
pub use search::{SearchArgs, SearchConfig, run_search};
