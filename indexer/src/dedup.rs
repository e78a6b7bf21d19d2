//! The most recent event ids, to drop an event the collector delivered twice (it resends
//! what it cannot prove was delivered). Replays of Kafka itself are handled by offsets
//! and never reach this set.

use std::collections::{HashSet, VecDeque};

use logpipe_common::event::EventId;

#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    set: HashSet<u128>,
    order: VecDeque<u128>,
}

impl RecentIds {
    /// Remembers up to `capacity` ids; 0 turns deduplication by id off.
    pub fn new(capacity: usize) -> Self {
        RecentIds {
            capacity,
            set: HashSet::with_capacity(capacity.min(1 << 20)),
            order: VecDeque::with_capacity(capacity.min(1 << 20)),
        }
    }

    /// Records `id`; false when it was already among the recent ones.
    pub fn insert(&mut self, id: EventId) -> bool {
        if self.capacity == 0 {
            return true;
        }
        let id = id.as_u128();
        if !self.set.insert(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(id);
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_refused_until_it_ages_out() {
        let mut ids = RecentIds::new(2);
        let [a, b, c] = [1u128, 2, 3].map(EventId::from_u128);
        assert!(ids.insert(a));
        assert!(!ids.insert(a));
        assert!(ids.insert(b));
        assert!(ids.insert(c));
        assert_eq!(ids.len(), 2);
        assert!(ids.insert(a), "a aged out");
        assert!(!ids.insert(c));
    }

    #[test]
    fn capacity_zero_remembers_nothing() {
        let mut ids = RecentIds::new(0);
        let a = EventId::from_u128(7);
        assert!(ids.insert(a));
        assert!(ids.insert(a));
        assert_eq!(ids.len(), 0);
    }
}
