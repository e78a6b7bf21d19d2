//! The collector's metrics, from one place, with bounded label sets.

use metrics::{counter, gauge};

pub(crate) fn files_watched(count: usize) {
    gauge!("logpipe_collector_files_watched").set(count as f64);
}

pub(crate) fn read(lines: u64, bytes: u64) {
    counter!("logpipe_collector_lines_read_total").increment(lines);
    counter!("logpipe_collector_bytes_read_total").increment(bytes);
}

pub(crate) fn shipped(events: u64) {
    counter!("logpipe_collector_events_shipped_total").increment(events);
}

pub(crate) fn delivery_error() {
    counter!("logpipe_collector_delivery_errors_total").increment(1);
}

pub(crate) fn parse_error() {
    counter!("logpipe_collector_unparsed_lines_total").increment(1);
}

pub(crate) fn truncated() {
    counter!("logpipe_collector_truncated_records_total").increment(1);
}

pub(crate) fn redacted(replacements: usize) {
    if replacements > 0 {
        counter!("logpipe_collector_redactions_total").increment(replacements as u64);
    }
}

pub(crate) fn gap(bytes: u64) {
    counter!("logpipe_collector_gap_bytes_total").increment(bytes);
}

/// Bytes written to watched files and not yet read: the total and the worst file.
pub(crate) fn behind(total: u64, worst: u64) {
    gauge!("logpipe_collector_bytes_behind").set(total as f64);
    gauge!("logpipe_collector_bytes_behind_max_file").set(worst as f64);
}

pub(crate) fn in_flight(bytes: usize, paused: bool) {
    gauge!("logpipe_collector_in_flight_bytes").set(bytes as f64);
    gauge!("logpipe_collector_reading_paused").set(if paused { 1.0 } else { 0.0 });
}

pub(crate) fn ingest(events: u64) {
    counter!("logpipe_collector_ingest_events_total").increment(events);
}

/// A push refused before anything was taken: no valid token, or a source the token may
/// not write.
pub(crate) fn ingest_refused(unauthenticated: bool) {
    let reason = if unauthenticated { "token" } else { "source" };
    counter!("logpipe_collector_ingest_refused_total", "reason" => reason).increment(1);
}

/// A push turned away because the pushes in flight hold the whole byte budget.
pub(crate) fn ingest_busy() {
    counter!("logpipe_collector_ingest_busy_total").increment(1);
}

/// Pods the metadata cache holds, deleted ones kept for their last lines included.
pub(crate) fn metadata_pods(count: usize) {
    gauge!("logpipe_collector_metadata_pods").set(count as f64);
}

/// A failed request to the API server, by what it was for (`pods`, `namespaces`, `owners`).
pub(crate) fn metadata_error(watch: &'static str) {
    counter!("logpipe_collector_metadata_errors_total", "watch" => watch).increment(1);
}

/// Events shipped without their pod's metadata (flagged `k8s_metadata_missing`).
pub(crate) fn metadata_missing(events: u64) {
    counter!("logpipe_collector_metadata_missing_total").increment(events);
}

/// Whether this collector holds the Events lease and collects the cluster's Events.
pub(crate) fn k8s_events_leader(leading: bool) {
    gauge!("logpipe_collector_k8s_events_leader").set(if leading { 1.0 } else { 0.0 });
}

/// Kubernetes Events shipped.
pub(crate) fn k8s_events(events: u64) {
    counter!("logpipe_collector_k8s_events_total").increment(events);
}
