//! Integration tests of the query API over real indexes on disk, real HTTP servers on
//! loopback, a real broker for live tail and headless Chromium for the web UI; the `Host`
//! names answered, through the routers.

mod access;
mod api;
mod fanout;
mod hosts;
mod store;
mod tail;
mod ui;
mod util;
