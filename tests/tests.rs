//! End-to-end tests: the built `logpipe` binary as operators run it.

mod cli;
mod collector;
mod runtime;
mod util;
