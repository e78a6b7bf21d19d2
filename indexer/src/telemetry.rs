//! The indexer's metrics, from one place, with bounded label sets.

use metrics::{counter, gauge};

use logpipe_store::catalog::DayStats;

pub fn taken(indexed: u64, duplicates: u64, replayed: u64) {
    counter!("logpipe_indexer_events_indexed_total").increment(indexed);
    counter!("logpipe_indexer_duplicates_dropped_total", "by" => "id").increment(duplicates);
    counter!("logpipe_indexer_duplicates_dropped_total", "by" => "offset").increment(replayed);
}

/// The ids remembered for deduplication and the observation time they span.
pub fn dedup_window(ids: usize, span: std::time::Duration) {
    gauge!("logpipe_indexer_dedup_ids").set(ids as f64);
    gauge!("logpipe_indexer_dedup_window_seconds").set(span.as_secs_f64());
}

pub fn repaired() {
    counter!("logpipe_indexer_events_repaired_total").increment(1);
}

pub fn ts_out_of_bounds() {
    counter!("logpipe_indexer_ts_out_of_bounds_total").increment(1);
}

pub fn dead_lettered() {
    counter!("logpipe_indexer_dead_lettered_total").increment(1);
}

/// A dead letter recorded by reference: the message could not be produced whole.
pub fn dead_lettered_by_reference() {
    counter!("logpipe_indexer_dead_letter_references_total").increment(1);
}

/// A dead-letter reference the broker refused, offered again.
pub fn dead_letter_reference_retried() {
    counter!("logpipe_indexer_dead_letter_reference_retries_total").increment(1);
}

pub fn retention_removed(bytes: u64) {
    counter!("logpipe_indexer_retention_removed_days_total").increment(1);
    counter!("logpipe_indexer_retention_removed_bytes_total").increment(bytes);
}

pub fn evicted(bytes: u64) {
    counter!("logpipe_indexer_evicted_days_total").increment(1);
    counter!("logpipe_indexer_evicted_bytes_total").increment(bytes);
}

pub fn fetched_back() {
    counter!("logpipe_indexer_fetched_back_days_total").increment(1);
}

/// Totals over every day index.
pub fn store(days: &[DayStats]) {
    gauge!("logpipe_indexer_days").set(days.len() as f64);
    gauge!("logpipe_indexer_segments").set(days.iter().map(|d| d.segments).sum::<usize>() as f64);
    gauge!("logpipe_indexer_index_bytes").set(days.iter().map(|d| d.bytes).sum::<u64>() as f64);
    gauge!("logpipe_indexer_docs").set(days.iter().map(|d| d.docs).sum::<u64>() as f64);
}

/// Messages in `partition` not yet consumed, as librdkafka last saw it.
pub fn consumer_lag(partition: i32, lag: i64) {
    gauge!("logpipe_indexer_consumer_lag", "partition" => partition.to_string()).set(lag as f64);
}

/// A round copied `files` files of `bytes` bytes to object storage.
pub fn archive_uploaded(files: usize, bytes: u64) {
    counter!("logpipe_indexer_archive_uploaded_files_total").increment(files as u64);
    counter!("logpipe_indexer_archive_uploaded_bytes_total").increment(bytes);
}

/// A round to object storage failed (it is retried the next).
pub fn archive_failed() {
    counter!("logpipe_indexer_archive_failures_total").increment(1);
}

/// How long object storage has been behind what the index committed (0 when current).
pub fn archive_lag(lag: std::time::Duration) {
    gauge!("logpipe_indexer_archive_lag_seconds").set(lag.as_secs_f64());
}
