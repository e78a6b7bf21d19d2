//! `logpipe generate`: realistic container logs in the kubelet layout at a steady rate,
//! for the standalone demo, the end-to-end tests and the benchmarks.

mod generator;
mod workload;
mod writer;

pub use generator::{ContainerSummary, GenerateOptions, Generator, Summary};
pub use workload::{Framing, WORKLOAD};
pub use writer::RUNTIME_LINE_BYTES;
