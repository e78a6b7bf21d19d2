//! The query role (search API, web UI, live tail) and `logpipe search`, its command-line
//! client. Searches run through `logpipe-store`; the language is `logpipe-language`'s.
//! Bearer tokens and the `Host` allow-list are `logpipe-common`'s (`tokens`, `hosts`), each
//! token granting a `logpipe_language::Scope`.
//!
//! # Layout
//! - `config`: `QueryConfig` (the service) and the client's settings.
//! - `service`: the query service as a logpipe service: backend chosen, routes served.
//! - `serve`: the search API over one catalog, which `logpipe indexer` serves.
//! - `api`: the HTTP API's routes, parameters and errors.
//! - `backend`: where a search runs: the local index or every indexer, and the days only
//!   object storage holds, merged.
//! - `cold`: those days, fetched into a bounded cache on local disk.
//! - `tail`: live tail, one Kafka consumer shared by every subscriber.
//! - `openapi`: the API's OpenAPI document.
//! - `telemetry`: the service's metrics (requests, latency, partial answers, tail).
//! - `client`: `logpipe search`, the command-line client.

pub mod api;
pub mod backend;
mod client;
pub mod cold;
mod config;
mod openapi;
pub mod serve;
mod service;
pub mod tail;
mod telemetry;

pub use client::{Output, SearchArgs, run_search};
pub use config::{QueryConfig, VARS};
