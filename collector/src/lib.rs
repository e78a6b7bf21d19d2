//! The collector role: a DaemonSet agent that ships every container log line and host
//! file record on its node to Kafka, losing nothing to rotation, restarts, broker outages
//! or bad input.
//!
//! # Layout
//! - `config`: `CollectorConfig`, its variables, and the redaction and multi-line rules
//!   files it reads.
//! - `service`: the collector as a logpipe service: the tail loop's thread, the inotify
//!   watcher that wakes it, the ingest endpoint.
//! - `tail_loop`: the one thread that discovers, reads, ships and checkpoints, with
//!   reading paused while too many bytes are in flight.
//! - `discovery`: the files to tail (kubelet's pod layout, host-file globs) behind the
//!   `PathsProvider` trait.
//! - `identity`: a file's identity across renames and inode reuse.
//! - `tailer`: one tailed file: reading, splitting, parsing, joining, acknowledgements.
//! - `format`: the CRI and Docker json-file line formats and the joining of partial lines.
//! - `multiline`: joining the records of a stack trace into one event.
//! - `bounded`: a byte buffer with a size limit.
//! - `events`: record and gap events, and their encoding within Kafka's message limit.
//! - `redact`: masking secrets in events before they leave the node.
//! - `shipper`: the Kafka producer and its delivery reports.
//! - `checkpoint`: the durable read positions.
//! - `ingest`: `POST /v1/logs` and `/v1/push`, events pushed over HTTP (`ingest::otlp`:
//!   OTLP/HTTP logs, decoding and OTLP's answers): admission,
//!   logpipe's own format, delivery to Kafka.
//! - `otlp_map`: OTLP log records → events.
//! - `k8s_events`: the cluster's Kubernetes Events, collected by the collector that holds
//!   a Lease.
//! - `metadata`: pod labels, annotations, workload and namespace labels from the API
//!   server, kept by watches and read by the tail loop.
//! - `ingest_tokens`: who may push, to which source names and namespace.
//! - `telemetry`: the collector's metrics.
//! - `error`: `CollectorError` and `FormatError`.

mod bounded;
pub mod checkpoint;
mod config;
pub mod discovery;
mod error;
mod events;
pub mod format;
mod identity;
mod ingest;
mod ingest_tokens;
mod k8s_events;
pub mod metadata;
mod multiline;
mod otlp_map;
pub mod redact;
mod service;
pub mod shipper;
pub mod tail_loop;
mod tailer;
mod telemetry;

pub use config::{CollectorConfig, HostFiles, MultilineRule, VARS};
pub use error::{CollectorError, FormatError};
pub use multiline::MultilineConfig;
