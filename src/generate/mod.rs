//! `logpipe generate`: realistic container logs in the kubelet layout at a steady rate,
//! for the standalone demo, the end-to-end tests and the benchmarks.

mod command;
mod generator;
mod workload;
mod writer;

pub use command::{Args, run};
pub use generator::{GenerateOptions, Generator};
