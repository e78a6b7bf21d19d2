//! The store's metrics, named as the indexer's (the store writes on its behalf).

use std::time::Duration;

/// One day index committed, in `elapsed`.
pub(crate) fn committed(elapsed: Duration) {
    metrics::histogram!("logpipe_indexer_commit_seconds").record(elapsed);
}
