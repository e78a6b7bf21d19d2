//! A date histogram of the matching events.

use serde::Serialize;
use std::time::Duration;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use super::deadline::Deadline;
use super::request::{Request, SearchError, TimeRange};
use crate::catalog::Catalog;
use crate::schema;
use crate::translate::to_tantivy;

/// Most buckets a histogram has.
pub const MAX_BUCKETS: u64 = 2_000;
/// Buckets an automatic interval aims for at most.
const TARGET_BUCKETS: u64 = 120;

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
) -> Result<Histogram, SearchError> {
    let interval = interval.unwrap_or_else(|| auto_interval(&request.range));
    let step = interval.as_nanos() as i64;
    if step <= 0 {
        return Err(SearchError::BadRequest(
            "the interval must be positive".into(),
        ));
    }
    let first = request.range.from.unix_nanos().div_euclid(step) * step;
    let last = (request.range.to.unix_nanos() - 1).div_euclid(step) * step;
    let count = ((last - first) / step + 1) as u64;
    if count > MAX_BUCKETS {
        return Err(SearchError::BadRequest(format!(
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
