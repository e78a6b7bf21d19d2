//! End-to-end tests: the built `logpipe` binary as operators run it.

mod cli;
mod runtime;
mod util;
