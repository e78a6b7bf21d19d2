//! Search execution over the day indexes of a `Catalog`: hits newest first with a cursor,
//! a date histogram, the top values of a field and events by id. Days outside the time
//! range are never opened; every search stops at its deadline.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;
use std::time::{Duration, Instant};

use logpipe_common::event::{EventId, Timestamp};
use logpipe_indexer::catalog::stored_event;
use logpipe_indexer::schema;
use logpipe_indexer::{Catalog, DayReader};
use serde::Serialize;
use tantivy::collector::{Collector, Count, DocSetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::DynamicColumn;
use tantivy::{
    DateTime, DocAddress, DocId, Order, Score, Searcher, SegmentOrdinal, SegmentReader,
    TantivyDocument,
};

use crate::language::{
    FieldRef, Keyword, Leaf, Op, Query, QueryError, Scalar, TimeField, to_tantivy,
};
use crate::scope::Scope;

/// Most hits one page returns.
pub const MAX_LIMIT: usize = 10_000;
/// Most buckets a histogram has.
pub const MAX_BUCKETS: u64 = 2_000;
/// Buckets an automatic interval aims for at most.
const TARGET_BUCKETS: u64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    BadRequest(String),
    #[error("the search took longer than its time limit; narrow the query or the time range")]
    Timeout,
    #[error("searching day {day}: {detail}")]
    Index { day: String, detail: String },
}

/// `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl TimeRange {
    fn query(&self) -> Query {
        time_range(Bound::Included(self.from), Bound::Excluded(self.to))
    }

    fn overlaps(&self, day: &DayReader) -> bool {
        day.day.start() < self.to && day.day.end() > self.from
    }
}

fn time_range(lower: Bound<Timestamp>, upper: Bound<Timestamp>) -> Query {
    Query::Leaf(Leaf {
        field: FieldRef::Time(TimeField::Ts),
        op: Op::Range {
            lower: lower.map(Scalar::Time),
            upper: upper.map(Scalar::Time),
        },
    })
}

/// Where the next page starts: after the event with this time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ts: i64,
    pub id: String,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ts, self.id)
    }
}

impl FromStr for Cursor {
    type Err = EngineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            EngineError::BadRequest(
                "invalid cursor; pass the `cursor` of the previous answer unchanged".to_string(),
            )
        };
        let (ts, id) = text.rsplit_once('-').ok_or_else(bad)?;
        let ts: i64 = ts.parse().map_err(|_| bad())?;
        let id: EventId = id.parse().map_err(|_| bad())?;
        Ok(Cursor {
            ts,
            id: id.to_string(),
        })
    }
}

/// A search: the user's query, the time range, the caller's scope.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: Query,
    pub range: TimeRange,
    pub scope: Scope,
    pub deadline: Instant,
}

impl Request {
    /// The query, limited to the range and the scope.
    fn effective(&self) -> Query {
        self.query
            .clone()
            .and(self.range.query())
            .and(self.scope.query())
    }

    fn check_deadline(&self) -> Result<(), EngineError> {
        if Instant::now() > self.deadline {
            return Err(EngineError::Timeout);
        }
        Ok(())
    }

    /// A failed search of `day`: a timeout when the deadline passed.
    fn failed(&self, day: &DayReader, error: tantivy::TantivyError) -> EngineError {
        if Instant::now() > self.deadline {
            EngineError::Timeout
        } else {
            EngineError::Index {
                day: day.day.to_string(),
                detail: error.to_string(),
            }
        }
    }

    fn days(&self, catalog: &Catalog) -> Vec<DayReader> {
        catalog
            .readers()
            .into_iter()
            .filter(|day| self.range.overlaps(day))
            .collect()
    }
}

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
) -> Result<Page, EngineError> {
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
) -> Result<Page, EngineError> {
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
) -> Result<Vec<DocAddress>, EngineError> {
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

// ---- histogram ----

#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// Bucket start (nanoseconds) and count, oldest first, every bucket present.
    pub buckets: Vec<(i64, u64)>,
    pub interval: Duration,
    pub total: u64,
}

/// The interval for `range` when none is asked for: the smallest round one giving at most
/// `TARGET_BUCKETS` buckets.
pub fn auto_interval(range: &TimeRange) -> Duration {
    const STEPS: [u64; 18] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    ];
    let span = (range.to.unix_nanos() - range.from.unix_nanos()).max(1) as u64;
    for step in STEPS {
        let nanos = step * 1_000_000_000;
        if span.div_ceil(nanos) <= TARGET_BUCKETS {
            return Duration::from_secs(step);
        }
    }
    let days = span.div_ceil(86_400_000_000_000 * TARGET_BUCKETS).max(1);
    Duration::from_secs(86_400 * days)
}

pub fn histogram(
    catalog: &Catalog,
    request: &Request,
    interval: Option<Duration>,
) -> Result<Histogram, EngineError> {
    let interval = interval.unwrap_or_else(|| auto_interval(&request.range));
    let step = interval.as_nanos() as i64;
    if step <= 0 {
        return Err(EngineError::BadRequest(
            "the interval must be positive".into(),
        ));
    }
    let first = request.range.from.unix_nanos().div_euclid(step) * step;
    let last = (request.range.to.unix_nanos() - 1).div_euclid(step) * step;
    let count = ((last - first) / step + 1) as u64;
    if count > MAX_BUCKETS {
        return Err(EngineError::BadRequest(format!(
            "an interval of {} over this range makes {count} buckets; at most {MAX_BUCKETS} are allowed",
            humantime::format_duration(interval)
        )));
    }
    let mut counts = vec![0u64; count as usize];
    let effective = request.effective();
    for day in request.days(catalog) {
        request.check_deadline()?;
        let searcher = day.reader.searcher();
        let query = to_tantivy(&effective, &day.fields)?;
        let collector = Deadline::new(
            BucketCollector {
                first,
                step,
                buckets: count as usize,
            },
            request.deadline,
        );
        let day_counts = searcher
            .search(&*query, &collector)
            .map_err(|error| request.failed(&day, error))?;
        for (total, add) in counts.iter_mut().zip(day_counts) {
            *total += add;
        }
    }
    let total = counts.iter().sum();
    Ok(Histogram {
        buckets: counts
            .into_iter()
            .enumerate()
            .map(|(i, n)| (first + i as i64 * step, n))
            .collect(),
        interval,
        total,
    })
}

struct BucketCollector {
    first: i64,
    step: i64,
    buckets: usize,
}

struct BucketSegment {
    column: Option<tantivy::columnar::Column<DateTime>>,
    first: i64,
    step: i64,
    counts: Vec<u64>,
}

impl Collector for BucketCollector {
    type Fruit = Vec<u64>;
    type Child = BucketSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<BucketSegment> {
        Ok(BucketSegment {
            column: segment.fast_fields().date(schema::TS).ok(),
            first: self.first,
            step: self.step,
            counts: vec![0; self.buckets],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u64>>) -> tantivy::Result<Vec<u64>> {
        let mut total = vec![0; self.buckets];
        for fruit in fruits {
            for (t, n) in total.iter_mut().zip(fruit) {
                *t += n;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for BucketSegment {
    type Fruit = Vec<u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(column) = &self.column else { return };
        if let Some(ts) = column.first(doc) {
            let offset = (ts.into_timestamp_nanos() - self.first).div_euclid(self.step);
            if let Some(count) = usize::try_from(offset)
                .ok()
                .and_then(|i| self.counts.get_mut(i))
            {
                *count += 1;
            }
        }
    }

    fn harvest(self) -> Vec<u64> {
        self.counts
    }
}

// ---- top values ----

#[derive(Debug, Clone, Serialize)]
pub struct TopValues {
    pub values: Vec<(serde_json::Value, u64)>,
    /// Matching events.
    pub total: u64,
}

/// The field a top-values request reads: a keyword field or an attribute path.
pub fn facet_column(field: &str) -> Result<String, EngineError> {
    match FieldRef::resolve(field)? {
        FieldRef::Keyword(keyword) if keyword.is_fast() => Ok(keyword.name().to_string()),
        FieldRef::Attribute(path) => Ok(format!("{}.{path}", schema::ATTRIBUTES)),
        _ => Err(EngineError::BadRequest(format!(
            "top values are counted for keyword fields ({}) and attributes.<path>, not for {field}",
            Keyword::ALL
                .iter()
                .filter(|k| k.is_fast())
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub fn top_values(
    catalog: &Catalog,
    request: &Request,
    field: &str,
    limit: usize,
) -> Result<TopValues, EngineError> {
    let column = facet_column(field)?;
    let effective = request.effective();
    let mut counts: HashMap<ValueKey, u64> = HashMap::new();
    let mut total = 0u64;
    for day in request.days(catalog) {
        request.check_deadline()?;
        let searcher = day.reader.searcher();
        let query = to_tantivy(&effective, &day.fields)?;
        let collector = Deadline::new(
            (
                Count,
                ValueCollector {
                    column: column.clone(),
                },
            ),
            request.deadline,
        );
        let (matched, day_counts) = searcher
            .search(&*query, &collector)
            .map_err(|error| request.failed(&day, error))?;
        total += matched as u64;
        for (key, n) in day_counts {
            *counts.entry(key).or_default() += n;
        }
    }
    let mut values: Vec<(ValueKey, u64)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(limit);
    Ok(TopValues {
        values: values
            .into_iter()
            .map(|(k, n)| (k.into_json(), n))
            .collect(),
        total,
    })
}

/// A value of a fast column, ordered and hashable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ValueKey {
    Str(String),
    I64(i64),
    U64(u64),
    /// Bits of the f64.
    F64(u64),
    Bool(bool),
}

impl ValueKey {
    fn into_json(self) -> serde_json::Value {
        match self {
            ValueKey::Str(s) => s.into(),
            ValueKey::I64(v) => v.into(),
            ValueKey::U64(v) => v.into(),
            ValueKey::F64(bits) => f64::from_bits(bits).into(),
            ValueKey::Bool(b) => b.into(),
        }
    }
}

struct ValueCollector {
    column: String,
}

struct ValueSegment {
    strings: Vec<tantivy::columnar::StrColumn>,
    numbers: Vec<DynamicColumn>,
    by_ord: Vec<HashMap<u64, u64>>,
    other: HashMap<ValueKey, u64>,
}

impl Collector for ValueCollector {
    type Fruit = HashMap<ValueKey, u64>;
    type Child = ValueSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<ValueSegment> {
        let mut strings = Vec::new();
        let mut numbers = Vec::new();
        for handle in segment.fast_fields().dynamic_column_handles(&self.column)? {
            match handle.open()? {
                DynamicColumn::Str(column) => strings.push(column),
                column @ (DynamicColumn::I64(_)
                | DynamicColumn::U64(_)
                | DynamicColumn::F64(_)
                | DynamicColumn::Bool(_)) => numbers.push(column),
                _ => {}
            }
        }
        let by_ord = vec![HashMap::new(); strings.len()];
        Ok(ValueSegment {
            strings,
            numbers,
            by_ord,
            other: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        fruits: Vec<HashMap<ValueKey, u64>>,
    ) -> tantivy::Result<HashMap<ValueKey, u64>> {
        let mut total = HashMap::new();
        for fruit in fruits {
            for (key, n) in fruit {
                *total.entry(key).or_default() += n;
            }
        }
        Ok(total)
    }
}

impl SegmentCollector for ValueSegment {
    type Fruit = HashMap<ValueKey, u64>;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (column, counts) in self.strings.iter().zip(self.by_ord.iter_mut()) {
            for ord in column.term_ords(doc) {
                *counts.entry(ord).or_default() += 1;
            }
        }
        for column in &self.numbers {
            match column {
                DynamicColumn::I64(c) => c.values_for_doc(doc).for_each(|v| {
                    *self.other.entry(ValueKey::I64(v)).or_default() += 1;
                }),
                DynamicColumn::U64(c) => c.values_for_doc(doc).for_each(|v| {
                    *self.other.entry(ValueKey::U64(v)).or_default() += 1;
                }),
                DynamicColumn::F64(c) => c.values_for_doc(doc).for_each(|v| {
                    *self.other.entry(ValueKey::F64(v.to_bits())).or_default() += 1;
                }),
                DynamicColumn::Bool(c) => c.values_for_doc(doc).for_each(|v| {
                    *self.other.entry(ValueKey::Bool(v)).or_default() += 1;
                }),
                _ => {}
            }
        }
    }

    fn harvest(self) -> HashMap<ValueKey, u64> {
        let mut out = self.other;
        let mut text = String::new();
        for (column, counts) in self.strings.iter().zip(self.by_ord) {
            for (ord, n) in counts {
                text.clear();
                if column.ord_to_str(ord, &mut text).unwrap_or(false) {
                    *out.entry(ValueKey::Str(text.clone())).or_default() += n;
                }
            }
        }
        out
    }
}

// ---- events by id ----

/// The stored event with `id` when the scope allows its namespace.
pub fn event(
    catalog: &Catalog,
    id: EventId,
    scope: &Scope,
) -> Result<Option<Vec<u8>>, EngineError> {
    let found = catalog.find(id).map_err(|error| EngineError::Index {
        day: "any".into(),
        detail: error.to_string(),
    })?;
    Ok(found.filter(|bytes| scope.allows_stored(bytes)))
}

// ---- deadlines ----

/// Wraps a collector so that a search past its deadline fails at the next segment.
struct Deadline<C> {
    inner: C,
    deadline: Instant,
}

impl<C> Deadline<C> {
    fn new(inner: C, deadline: Instant) -> Self {
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
