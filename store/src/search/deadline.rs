//! Deadlines: a search past its deadline fails instead of running on.

use std::time::Instant;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{SegmentOrdinal, SegmentReader};

/// Wraps a collector so that a search past its deadline fails at the next segment.
pub(crate) struct Deadline<C> {
    inner: C,
    deadline: Instant,
}

impl<C> Deadline<C> {
    pub(crate) fn new(inner: C, deadline: Instant) -> Self {
        Deadline { inner, deadline }
    }
}

impl<C: Collector> Collector for Deadline<C> {
    type Fruit = C::Fruit;
    type Child = C::Child;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<C::Child> {
        if Instant::now() > self.deadline {
            return Err(tantivy::TantivyError::InternalError(
                "the search passed its deadline".into(),
            ));
        }
        self.inner.for_segment(ord, segment)
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<C::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<C::Fruit> {
        self.inner.merge_fruits(fruits)
    }
}
