//! End-to-end tests: the built `logpipe` binary as operators run it.

mod alerting;
mod backtest;
mod cli;
mod collector;
mod indexer;
mod runtime;
mod search;
mod util;
