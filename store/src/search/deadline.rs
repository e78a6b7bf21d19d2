//! Deadlines: a search past its deadline fails instead of running on, between segments and
//! inside one, so a single large segment (a day of events, or a run of events sharing one
//! instant) cannot hold a search far past its time limit.

use std::time::Instant;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::Weight;
use tantivy::{COLLECT_BLOCK_BUFFER_LEN, DocSet, SegmentOrdinal, SegmentReader, TERMINATED};

/// Documents a segment's scan goes through between two looks at the clock: often enough
/// to stop within a few milliseconds, seldom enough that the clock costs nothing.
pub(crate) const DEADLINE_CHECK_DOCS: usize = 4096;

/// Wraps a collector so that a search past its deadline fails at the next segment, or
/// within [`DEADLINE_CHECK_DOCS`] documents of the segment it is scanning.
pub(crate) struct Deadline<C> {
    inner: C,
    deadline: Instant,
}

impl<C> Deadline<C> {
    pub(crate) fn new(inner: C, deadline: Instant) -> Self {
        Deadline { inner, deadline }
    }

    fn check(&self) -> tantivy::Result<()> {
        if Instant::now() > self.deadline {
            return Err(tantivy::TantivyError::InternalError(
                "the search passed its deadline".into(),
            ));
        }
        Ok(())
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
        self.check()?;
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

    /// tantivy's own loop over a segment cannot be stopped: this one is, and otherwise
    /// does what it does (blocks of documents, deleted ones skipped). A collector's own
    /// shortcut for a whole segment (`Count` asking the query for its count) is given up
    /// for it; the queries a search runs are intersections, which count by scanning anyway.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<<C::Child as SegmentCollector>::Fruit> {
        let mut child = self.for_segment(ord, segment)?;
        let mut scorer = weight.scorer(segment, 1.0)?;
        let alive = segment.alive_bitset();
        let mut unchecked = 0;
        let mut visited = |docs: usize| {
            #[cfg(test)]
            super::probe::visited(docs);
            unchecked += docs;
            if unchecked >= DEADLINE_CHECK_DOCS {
                unchecked = 0;
                return self.check();
            }
            Ok(())
        };
        if self.inner.requires_scoring() {
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|alive| alive.is_alive(doc)) {
                    child.collect(doc, scorer.score());
                }
                visited(1)?;
                doc = scorer.advance();
            }
        } else {
            let mut buffer = [0; COLLECT_BLOCK_BUFFER_LEN];
            loop {
                let filled = scorer.fill_buffer(&mut buffer);
                let docs = &buffer[..filled];
                match alive {
                    Some(alive) => docs
                        .iter()
                        .filter(|doc| alive.is_alive(**doc))
                        .for_each(|doc| child.collect(*doc, 0.0)),
                    None => child.collect_block(docs),
                }
                visited(filled)?;
                if filled < buffer.len() {
                    break;
                }
            }
        }
        Ok(child.harvest())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use logpipe_common::event::Timestamp;
    use logpipe_common::testkit::sample_event;
    use logpipe_language::{Query, Scope};

    use crate::catalog::Catalog;
    use crate::search::{
        Cursor, Request, SearchError, TimeRange, histogram, probe, search_page, top_values,
    };
    use crate::testkit::write_index_one_segment;

    /// Events in the one segment, all at one instant.
    const EVENTS: u64 = 200_000;
    const INSTANT: i64 = 1_795_000_000_000_000_000;
    /// Time limits tried, doubling from the first: the shortest ones pass before a scan
    /// starts, a longer one passes during it.
    const FIRST_LIMIT: Duration = Duration::from_micros(25);
    const LIMITS_TRIED: u32 = 14;

    fn request(deadline: Instant) -> Request {
        Request {
            query: Query::All,
            range: TimeRange {
                from: Timestamp::from_unix_nanos(INSTANT - 1_000_000_000),
                to: Timestamp::from_unix_nanos(INSTANT + 1_000_000_000),
            },
            scope: Scope::all(),
            deadline,
            max_page_bytes: crate::search::DEFAULT_MAX_PAGE_BYTES,
        }
    }

    type Search = fn(&Catalog, &Request) -> Result<(), SearchError>;

    /// Regression: the deadline was looked at only between segments, so a search of one
    /// large segment ran to its end whatever its time limit.
    #[test]
    fn a_search_past_its_deadline_stops_inside_a_large_segment() {
        let dir = tempfile::tempdir().unwrap();
        let ts = Timestamp::from_unix_nanos(INSTANT);
        let events: Vec<_> = (0..EVENTS).map(|n| sample_event(n, ts)).collect();
        let catalog = write_index_one_segment(dir.path(), &events);
        assert_eq!(catalog.stats()[0].segments, 1);
        let searches: [(&str, Search); 5] = [
            ("hits with their total", |catalog, request| {
                search_page(catalog, request, 100, None, true).map(drop)
            }),
            ("hits", |catalog, request| {
                search_page(catalog, request, 100, None, false).map(drop)
            }),
            ("hits after a cursor among the ties", |catalog, request| {
                let cursor = Cursor {
                    ts: INSTANT,
                    id: "8".repeat(32),
                };
                search_page(catalog, request, 100, Some(&cursor), false).map(drop)
            }),
            ("a histogram", |catalog, request| {
                histogram(catalog, request, None).map(drop)
            }),
            ("top values", |catalog, request| {
                top_values(catalog, request, "k8s.namespace", 10).map(drop)
            }),
        ];
        let mut ran_on = Vec::new();
        for (name, search) in searches {
            let mut outcome = None;
            for step in 0..LIMITS_TRIED {
                let limit = FIRST_LIMIT * 2u32.pow(step);
                probe::take_visited();
                let deadline = Instant::now() + limit;
                let result = search(&catalog, &request(deadline));
                let late = Instant::now() > deadline;
                let visited = probe::take_visited();
                match result {
                    // Out of time before the scan began: try a longer limit.
                    Err(SearchError::Timeout) if visited == 0 => {}
                    Err(SearchError::Timeout) if visited < EVENTS => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Err(SearchError::Timeout) => {
                        outcome = Some(Err(format!(
                            "{name}: went through all {visited} documents, then timed out"
                        )));
                        break;
                    }
                    Ok(()) if late => {
                        outcome = Some(Err(format!(
                            "{name}: ran to its end past a {limit:?} limit"
                        )));
                        break;
                    }
                    Ok(()) => panic!("{name}: finished within {limit:?}, too soon to test"),
                    Err(error) => panic!("{name}: {error}"),
                }
            }
            match outcome {
                Some(Ok(())) => {}
                Some(Err(failure)) => ran_on.push(failure),
                None => ran_on.push(format!("{name}: timed out before every scan")),
            }
        }
        assert!(ran_on.is_empty(), "{ran_on:#?}");
    }
}
