//! Counters of the work this thread's searches did, for tests that show a search stopped
//! early or skipped work (tantivy searches on the calling thread unless given an executor,
//! and the store never gives one).

use std::cell::Cell;

thread_local! {
    static VISITED: Cell<u64> = const { Cell::new(0) };
    static IDS_READ: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn visited(docs: usize) {
    VISITED.with(|visited| visited.set(visited.get() + docs as u64));
}

/// Documents handed to deadline-checked collectors since the last call.
pub(crate) fn take_visited() -> u64 {
    VISITED.with(|visited| visited.replace(0))
}

pub(crate) fn ids_read(ids: usize) {
    IDS_READ.with(|read| read.set(read.get() + ids as u64));
}

/// Event ids read as text to order hits since the last call.
pub(crate) fn take_ids_read() -> u64 {
    IDS_READ.with(|read| read.replace(0))
}
