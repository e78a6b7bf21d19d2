//! End-to-end tests: the built `logpipe` binary as operators run it.

mod alerting;
mod backtest;
mod bad_input;
mod cli;
mod collector;
mod deployment;
mod indexer;
mod layout;
mod manifests;
mod network_policies;
mod operations;
mod pipeline;
mod policy_engine;
mod runtime;
mod search;
mod util;
