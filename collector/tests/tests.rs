//! Integration tests of the collector: conformance on the shared third-party test data,
//! and files → collector → a real tansu broker.

mod audit_webhook;
mod container_log_vectors;
mod fluent_bit_logs;
mod harness;
mod k8s_events;
mod metadata;
mod otlp;
mod pipeline;
mod util;
