//! Hits newest first (ties on one instant by id, descending), a page at a time with a
//! cursor, and events by id. Days outside the time range are never opened.

use std::cmp::Reverse;
use std::ops::Bound;

use logpipe_common::event::{EventId, Timestamp};
use logpipe_language::Scope;
use tantivy::collector::Count;
use tantivy::{DocAddress, TantivyDocument};

use super::deadline::Deadline;
use super::newest::Newest;
use super::request::{Cursor, MAX_LIMIT, Request, SearchError, time_range};
use crate::catalog::{Catalog, stored_event};
use crate::translate::to_tantivy;

/// One page of hits, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// Stored events as JSON.
    pub hits: Vec<Vec<u8>>,
    pub total: u64,
    pub cursor: Option<Cursor>,
}

struct Candidate {
    ts: i64,
    id: String,
    day: usize,
    address: DocAddress,
}

/// Hits of `request`, newest first, `limit` at most, after `cursor`, with the total.
pub fn search(
    catalog: &Catalog,
    request: &Request,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page, SearchError> {
    search_page(catalog, request, limit, cursor, true)
}

/// `search`, counting the total only when `count` is set (otherwise it is 0): paging
/// through every match (an export) needs no count per page, and can stop at the first
/// day older than a full page.
pub fn search_page(
    catalog: &Catalog,
    request: &Request,
    limit: usize,
    cursor: Option<&Cursor>,
    count: bool,
) -> Result<Page, SearchError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let effective = request.effective();
    let days = request.days(catalog);
    let mut total = 0u64;
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut searchers = Vec::with_capacity(days.len());
    for (index, day) in days.iter().enumerate() {
        request.check_deadline()?;
        let searcher = day.reader.searcher();
        let on_day = |error| request.failed(day, error);
        if count {
            let query = to_tantivy(&effective, &day.fields)?;
            total += searcher
                .search(&*query, &Deadline::new(Count, request.deadline))
                .map_err(on_day)? as u64;
        }

        let enough = candidates.len() >= limit
            && kth_newest(&candidates, limit).is_some_and(|kth| day.day.end().unix_nanos() <= kth);
        if enough && !count {
            break;
        }
        if !enough {
            // At or before the cursor's instant; the collector keeps what is strictly
            // after the cursor in the order of the hits.
            let paged = match cursor {
                Some(cursor) => effective.clone().and(time_range(
                    Bound::Unbounded,
                    Bound::Included(Timestamp::from_unix_nanos(cursor.ts)),
                )),
                None => effective.clone(),
            };
            let paged = to_tantivy(&paged, &day.fields)?;
            let hits = searcher
                .search(
                    &*paged,
                    &Deadline::new(Newest::new(limit, cursor), request.deadline),
                )
                .map_err(on_day)?;
            candidates.extend(hits.into_iter().map(|hit| Candidate {
                ts: hit.ts,
                id: hit.id,
                day: index,
                address: hit.address,
            }));
        }
        searchers.push(searcher);
    }
    candidates.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
    candidates.truncate(limit);
    let mut hits = Vec::with_capacity(candidates.len());
    let mut bytes = 0usize;
    let mut held = candidates.len();
    for (n, candidate) in candidates.iter().enumerate() {
        let searcher = &searchers[candidate.day];
        let doc: TantivyDocument = searcher
            .doc(candidate.address)
            .map_err(|error| request.failed(&days[candidate.day], error))?;
        if let Some(event) = stored_event(&doc, &days[candidate.day].fields) {
            bytes += event.len();
            if bytes > request.max_page_bytes && n > 0 {
                held = n;
                break;
            }
            hits.push(event);
        }
    }
    let ended_early = held < candidates.len();
    candidates.truncate(held);
    let cursor = match candidates.last() {
        Some(last) if ended_early || candidates.len() == limit => Some(Cursor {
            ts: last.ts,
            id: last.id.clone(),
        }),
        _ => None,
    };
    Ok(Page {
        hits,
        total,
        cursor,
    })
}

/// The `limit`-th newest time among the candidates.
fn kth_newest(candidates: &[Candidate], limit: usize) -> Option<i64> {
    let mut times: Vec<i64> = candidates.iter().map(|c| c.ts).collect();
    times.sort_unstable_by_key(|ts| Reverse(*ts));
    times.get(limit - 1).copied()
}

/// The stored event with `id` when the scope allows its namespace.
pub fn event(
    catalog: &Catalog,
    id: EventId,
    scope: &Scope,
) -> Result<Option<Vec<u8>>, SearchError> {
    let found = catalog.find(id).map_err(|error| SearchError::Index {
        day: "any".into(),
        detail: error.to_string(),
    })?;
    Ok(found.filter(|bytes| scope.allows_stored(bytes)))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use logpipe_common::event::{LogEvent, Timestamp};
    use logpipe_common::testkit::sample_event;
    use logpipe_language::{Query, Scope};

    use super::*;
    use crate::search::{TimeRange, probe};
    use crate::testkit::write_index;

    const NOON: i64 = 1_795_000_000_000_000_000;
    const SECOND: i64 = 1_000_000_000;

    fn request(query: &str) -> Request {
        Request {
            query: Query::parse(query).unwrap(),
            range: TimeRange {
                from: Timestamp::from_unix_nanos(NOON - 3 * 86_400 * SECOND),
                to: Timestamp::from_unix_nanos(NOON + 3 * 86_400 * SECOND),
            },
            scope: Scope::all(),
            deadline: Instant::now() + Duration::from_secs(600),
            max_page_bytes: crate::search::DEFAULT_MAX_PAGE_BYTES,
        }
    }

    /// `(ts, id)` of every hit, page after page of `limit`, checking each page with `page`.
    fn page_through(
        catalog: &Catalog,
        request: &Request,
        limit: usize,
        mut page: impl FnMut(&Page),
    ) -> Vec<(i64, String)> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let found = search_page(catalog, request, limit, cursor.as_ref(), false).unwrap();
            page(&found);
            for hit in &found.hits {
                let event: LogEvent = serde_json::from_slice(hit).unwrap();
                seen.push((event.ts.unix_nanos(), event.id.to_string()));
            }
            match found.cursor {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    }

    fn newest_first(events: &[LogEvent], keep: impl Fn(&LogEvent) -> bool) -> Vec<(i64, String)> {
        let mut expected: Vec<(i64, String)> = events
            .iter()
            .filter(|event| keep(event))
            .map(|event| (event.ts.unix_nanos(), event.id.to_string()))
            .collect();
        expected.sort_by(|a, b| b.cmp(a));
        expected
    }

    /// Regression: every page inside a run of events sharing one instant read the id of
    /// every event of the run, so paging through the run took time quadratic in its length.
    #[test]
    fn a_page_among_events_sharing_one_instant_reads_only_the_ids_it_may_return() {
        const TIED: u64 = 20_000;
        const LIMIT: usize = 100;
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<LogEvent> = (0..TIED + 200)
            .map(|n| {
                // 100 events before the run and 100 after it, one second apart.
                let offset = match n {
                    n if n < 100 => (n as i64 - 100) * SECOND,
                    n if n >= TIED + 100 => (n - TIED - 99) as i64 * SECOND,
                    _ => 0,
                };
                sample_event(n, Timestamp::from_unix_nanos(NOON + offset))
            })
            .collect();
        let catalog = write_index(dir.path(), &events);
        let segments: usize = catalog.stats().iter().map(|day| day.segments).sum();
        let request = request("*");
        probe::take_ids_read();
        let mut pages = 0;
        let seen = page_through(&catalog, &request, LIMIT, |_| {
            pages += 1;
            let read = probe::take_ids_read();
            assert!(
                read <= (LIMIT * segments) as u64,
                "page {pages} read {read} ids for {LIMIT} hits over {segments} segments"
            );
        });
        assert_eq!(seen, newest_first(&events, |_| true));
        // A full last page still has a cursor, to an empty page.
        assert_eq!(pages, events.len() / LIMIT + 1);
    }

    #[test]
    fn pages_follow_time_then_id_across_days_segments_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        // Three days, a handful of instants each, so most events share theirs.
        let events: Vec<LogEvent> = (0..1_500u64)
            .map(|n| {
                let day = (n % 3) as i64 - 1;
                let instant = ((n / 3) % 5) as i64;
                sample_event(
                    n,
                    Timestamp::from_unix_nanos(NOON + day * 86_400 * SECOND + instant * SECOND),
                )
            })
            .collect();
        // Two writes: two segments a day.
        write_index(dir.path(), &events[..700]);
        let catalog = write_index(dir.path(), &events[700..]);
        assert!(catalog.stats().iter().all(|day| day.segments == 2));
        for (query, keep) in [
            ("*", (|_: &LogEvent| true) as fn(&LogEvent) -> bool),
            ("k8s.namespace:shop", |event| {
                event.k8s.namespace.as_deref() == Some("shop")
            }),
        ] {
            let expected = newest_first(&events, keep);
            for limit in [1, 7, 50, 1_000, MAX_LIMIT] {
                let seen = page_through(&catalog, &request(query), limit, |_| {});
                assert_eq!(seen, expected, "{query}, pages of {limit}");
            }
        }
    }

    /// A page holds at most so many bytes of events whatever its limit, ending early with
    /// a cursor; paging on returns every event once.
    #[test]
    fn a_page_of_large_events_ends_at_its_byte_bound() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<LogEvent> = (0..40u64)
            .map(|n| {
                let mut event =
                    sample_event(n, Timestamp::from_unix_nanos(NOON + n as i64 * SECOND));
                event.message = format!("{n} {}", "x".repeat(10_000));
                event
            })
            .collect();
        let catalog = write_index(dir.path(), &events);
        let bound = 35_000;
        let request = Request {
            max_page_bytes: bound,
            ..request("")
        };
        let first = search(&catalog, &request, 1_000, None).unwrap();
        let held: usize = first.hits.iter().map(Vec::len).sum();
        assert!(held <= bound, "{held} bytes");
        assert_eq!(first.hits.len(), 3, "three events of about 10 KB fit");
        assert_eq!(first.total, 40);
        assert!(first.cursor.is_some());
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = search_page(&catalog, &request, 1_000, cursor.as_ref(), false).unwrap();
            assert!(!page.hits.is_empty());
            for hit in &page.hits {
                let event: LogEvent = serde_json::from_slice(hit).unwrap();
                seen.push((event.ts.unix_nanos(), event.id.to_string()));
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, newest_first(&events, |_| true));
        // One event larger than the bound still makes a page of one.
        let tiny = Request {
            max_page_bytes: 100,
            ..request
        };
        let single = search_page(&catalog, &tiny, 10, None, false).unwrap();
        assert_eq!(single.hits.len(), 1);
        assert!(single.cursor.is_some());
    }

    /// A day written under schema version 3 (no `source.via`) is still read and
    /// appended to: `source.via` matches none of its events, every other field works.
    #[test]
    fn a_day_of_schema_version_3_is_read_without_source_via() {
        use crate::layout::{Day, IndexLayout};
        use crate::schema::{self, SOURCE_VIA};

        let dir = tempfile::tempdir().unwrap();
        let old_day = Day::of(Timestamp::from_unix_nanos(NOON));
        let (current, _) = schema::build();
        let mut builder = tantivy::schema::Schema::builder();
        for (_, entry) in current.fields() {
            if entry.name() != SOURCE_VIA {
                builder.add_field(entry.clone());
            }
        }
        IndexLayout::under(dir.path())
            .create(old_day, builder.build(), 3)
            .unwrap();
        let pushed = |n: u64, day_offset: i64| {
            let mut event = sample_event(
                n,
                Timestamp::from_unix_nanos(NOON + day_offset * 86_400 * SECOND + n as i64),
            );
            event.source.via = Some("batch-token".into());
            event
        };
        // Two events on the version 3 day, one on a new day (version 4).
        let events = [pushed(1, 0), pushed(2, 0), pushed(3, 1)];
        let catalog = write_index(dir.path(), &events);
        let ids = |query: &str| {
            let page = search(&catalog, &request(query), 100, None).unwrap();
            page.hits
                .iter()
                .map(|hit| serde_json::from_slice::<LogEvent>(hit).unwrap().id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("source.via:batch-token"), vec![events[2].id]);
        assert_eq!(ids("NOT source.via:batch-token").len(), 2);
        assert_eq!(ids("*").len(), 3);
        // The stored event keeps `via` on either day.
        let all = search(&catalog, &request("*"), 100, None).unwrap();
        for hit in &all.hits {
            let event: LogEvent = serde_json::from_slice(hit).unwrap();
            assert_eq!(event.source.via.as_deref(), Some("batch-token"));
        }
    }
}
