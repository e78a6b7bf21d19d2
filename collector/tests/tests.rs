//! Integration tests of the collector, on the shared third-party test data.

mod container_log_vectors;
mod fluent_bit_logs;
mod util;
