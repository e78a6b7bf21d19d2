//! Hits newest first, a page at a time with a cursor, and events by id. Days outside the
//! time range are never opened.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::ops::Bound;

use logpipe_common::event::{EventId, Timestamp};
use logpipe_language::{Query, Scope};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::{DateTime, DocAddress, Order, Searcher, TantivyDocument};

use super::deadline::Deadline;
use super::request::{Cursor, MAX_LIMIT, Request, SearchError, time_range};
use crate::catalog::{Catalog, DayReader, stored_event};
use crate::schema;
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
            // Strictly older than the cursor; the cursor's own instant is read whole below.
            let paged = match cursor {
                Some(cursor) => effective.clone().and(time_range(
                    Bound::Unbounded,
                    Bound::Excluded(Timestamp::from_unix_nanos(cursor.ts)),
                )),
                None => effective.clone(),
            };
            let paged = to_tantivy(&paged, &day.fields)?;
            let top = searcher
                .search(
                    &*paged,
                    &Deadline::new(
                        TopDocs::with_limit(limit)
                            .order_by_fast_field::<DateTime>(schema::TS, Order::Desc),
                        request.deadline,
                    ),
                )
                .map_err(on_day)?;
            let mut addresses: Vec<DocAddress> = top.iter().map(|(_, address)| *address).collect();
            // Events sharing the oldest instant of the page are all read, so ties are
            // ordered by id and none is skipped between pages.
            if top.len() == limit
                && let Some((Some(oldest), _)) = top.last()
            {
                let instant = Timestamp::from_unix_nanos(oldest.into_timestamp_nanos());
                addresses.extend(instant_docs(&searcher, &effective, day, instant, request)?);
            }
            if let Some(cursor) = cursor {
                let instant = Timestamp::from_unix_nanos(cursor.ts);
                addresses.extend(instant_docs(&searcher, &effective, day, instant, request)?);
            }
            let mut seen = HashSet::new();
            addresses.retain(|address| seen.insert(*address));
            for address in addresses {
                let (ts, id) = ts_and_id(&searcher, address);
                if let Some(cursor) = cursor
                    && (ts, id.as_str()) >= (cursor.ts, cursor.id.as_str())
                {
                    continue;
                }
                candidates.push(Candidate {
                    ts,
                    id,
                    day: index,
                    address,
                });
            }
        }
        searchers.push(searcher);
    }
    candidates.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
    candidates.truncate(limit);
    let mut hits = Vec::with_capacity(candidates.len());
    for candidate in &candidates {
        let searcher = &searchers[candidate.day];
        let doc: TantivyDocument = searcher
            .doc(candidate.address)
            .map_err(|error| request.failed(&days[candidate.day], error))?;
        if let Some(event) = stored_event(&doc, &days[candidate.day].fields) {
            hits.push(event);
        }
    }
    let cursor = match candidates.last() {
        Some(last) if candidates.len() == limit => Some(Cursor {
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

/// Every matching document at exactly `instant`.
fn instant_docs(
    searcher: &Searcher,
    effective: &Query,
    day: &DayReader,
    instant: Timestamp,
    request: &Request,
) -> Result<Vec<DocAddress>, SearchError> {
    let query = effective.clone().and(time_range(
        Bound::Included(instant),
        Bound::Included(instant),
    ));
    let query = to_tantivy(&query, &day.fields)?;
    let docs = searcher
        .search(&*query, &Deadline::new(DocSetCollector, request.deadline))
        .map_err(|error| request.failed(day, error))?;
    Ok(docs.into_iter().collect())
}

fn ts_and_id(searcher: &Searcher, address: DocAddress) -> (i64, String) {
    let segment = searcher.segment_reader(address.segment_ord);
    let fast = segment.fast_fields();
    let ts = fast
        .date(schema::TS)
        .ok()
        .and_then(|column| column.first(address.doc_id))
        .map(|date| date.into_timestamp_nanos())
        .unwrap_or(i64::MIN);
    let mut id = String::new();
    if let Ok(Some(column)) = fast.str(schema::ID)
        && let Some(ord) = column.term_ords(address.doc_id).next()
    {
        let _ = column.ord_to_str(ord, &mut id);
    }
    (ts, id)
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
