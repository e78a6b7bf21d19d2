//! The ids of the events observed within a recent window, to drop an event the collector
//! delivered twice (it resends what it cannot prove was delivered: after a crash, the
//! records since its last checkpoint). Replays of Kafka itself are handled by offsets and
//! never reach this set.
//!
//! The window is a span of observation time (the original's `observed_ts`), bounded by a
//! number of ids so that memory stays bounded at any rate: about `BYTES_PER_ID` bytes each.
//! A resent event is caught when its original is still inside both bounds.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use logpipe_common::event::{EventId, Timestamp};

/// Memory per remembered id, typically: the set's entry (16 bytes and a control byte, in
/// a table between 7/16 and 7/8 full) and the queue's (24 bytes, in a buffer that grows
/// by doubling). At most about 90.
pub const BYTES_PER_ID: usize = 64;

#[derive(Debug)]
pub struct RecentIds {
    window_nanos: i64,
    max_ids: usize,
    set: HashSet<u128>,
    /// Oldest first (in arrival order): observation time and the id's two halves (24
    /// bytes, where a `u128` would align the pair to 32).
    order: VecDeque<(i64, u64, u64)>,
    newest: i64,
}

impl RecentIds {
    /// Remembers the ids observed within `window` of the newest, at most `max_ids` of them;
    /// `max_ids` 0 turns deduplication by id off.
    pub fn new(window: Duration, max_ids: usize) -> Self {
        RecentIds {
            window_nanos: i64::try_from(window.as_nanos()).unwrap_or(i64::MAX),
            max_ids,
            set: HashSet::with_capacity(max_ids.min(1 << 20)),
            order: VecDeque::with_capacity(max_ids.min(1 << 20)),
            newest: i64::MIN,
        }
    }

    /// Records `id`, observed at `observed`; false when it is already remembered.
    pub fn insert(&mut self, id: EventId, observed: Timestamp) -> bool {
        if self.max_ids == 0 {
            return true;
        }
        let id = id.as_u128();
        if !self.set.insert(id) {
            return false;
        }
        let observed = observed.unix_nanos();
        self.order
            .push_back((observed, (id >> 64) as u64, id as u64));
        self.newest = self.newest.max(observed);
        let oldest_kept = self.newest.saturating_sub(self.window_nanos);
        while self.order.len() > self.max_ids
            || self
                .order
                .front()
                .is_some_and(|(at, _, _)| *at < oldest_kept)
        {
            if let Some((_, high, low)) = self.order.pop_front() {
                self.set
                    .remove(&((u128::from(high) << 64) | u128::from(low)));
            }
        }
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// About how much memory the remembered ids take.
    pub fn bytes(&self) -> usize {
        self.len() * BYTES_PER_ID
    }

    /// The observation time the remembered ids span: how far back a resend is caught now.
    pub fn span(&self) -> Duration {
        match self.order.front() {
            Some((oldest, _, _)) => {
                Duration::from_nanos(u64::try_from(self.newest - oldest).unwrap_or(0))
            }
            None => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(seconds * 1_000_000_000)
    }

    #[test]
    fn a_repeated_id_is_refused_until_it_leaves_the_count() {
        let mut ids = RecentIds::new(Duration::from_secs(3600), 2);
        let [a, b, c] = [1u128, 2, 3].map(EventId::from_u128);
        assert!(ids.insert(a, at(0)));
        assert!(!ids.insert(a, at(1)));
        assert!(ids.insert(b, at(1)));
        assert!(ids.insert(c, at(2)));
        assert_eq!(ids.len(), 2);
        assert!(ids.insert(a, at(3)), "a aged out by count");
        assert!(!ids.insert(c, at(3)));
    }

    #[test]
    fn ids_older_than_the_window_are_let_go_and_no_sooner() {
        let mut ids = RecentIds::new(Duration::from_secs(24 * 3600), 1_000_000);
        let first = EventId::from_u128(1);
        assert!(ids.insert(first, at(0)));
        // A day's worth of other events, one a minute: the first stays inside the window
        // (a count-bounded window of 1,000 would have forgotten it).
        for minute in 1..24 * 60 {
            assert!(ids.insert(EventId::from_u128(1_000 + minute as u128), at(minute * 60)));
        }
        assert!(
            !ids.insert(first, at(24 * 3600 - 1)),
            "resent within the window"
        );
        assert_eq!(ids.span(), Duration::from_secs((24 * 60 - 1) * 60));
        // Past the window it ages out.
        assert!(ids.insert(EventId::from_u128(2), at(24 * 3600 + 61)));
        assert!(ids.insert(first, at(24 * 3600 + 61)));
    }

    #[test]
    fn no_ids_remembered_turns_deduplication_off() {
        let mut ids = RecentIds::new(Duration::from_secs(60), 0);
        let a = EventId::from_u128(7);
        assert!(ids.insert(a, at(0)));
        assert!(ids.insert(a, at(0)));
        assert_eq!(ids.len(), 0);
    }
}
