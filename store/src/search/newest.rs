//! The newest matching events of a day in the order of the hits, `(ts, id)` descending,
//! strictly after a cursor: one pass per segment that keeps the best `limit` by time and
//! the id's ordinal in the segment's dictionary (ordinals sort as the ids do), and reads
//! ids as text only for the events it keeps. A page among thousands of events sharing one
//! instant then costs what any page costs, instead of reading every id of the run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ops::Bound;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use super::request::Cursor;
use crate::schema;

/// One hit: its time, its id and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub ts: i64,
    pub id: String,
    pub address: DocAddress,
}

/// The best `limit` hits after `cursor`, best first.
pub(crate) struct Newest<'a> {
    limit: usize,
    cursor: Option<&'a Cursor>,
}

impl<'a> Newest<'a> {
    pub(crate) fn new(limit: usize, cursor: Option<&'a Cursor>) -> Self {
        Newest { limit, cursor }
    }
}

/// A hit's place within a segment: time, id ordinal (none sorts as the empty id does,
/// first), document.
type Key = (i64, Option<u64>, DocId);

pub(crate) struct NewestSegment {
    segment: SegmentOrdinal,
    ts: Option<Column<DateTime>>,
    ids: Option<StrColumn>,
    limit: usize,
    /// The cursor as this segment orders ids: a hit is below `(ts, Some(ordinal))`, the
    /// ordinal being that of the first id not below the cursor's.
    below: Option<(i64, Option<u64>)>,
    /// The best hits so far, the worst of them on top.
    kept: BinaryHeap<Reverse<Key>>,
}

impl Collector for Newest<'_> {
    type Fruit = Vec<Hit>;
    type Child = NewestSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<NewestSegment> {
        let fast = reader.fast_fields();
        let ids = fast.str(schema::ID)?;
        let below = match self.cursor {
            Some(cursor) => {
                let first_not_below = match &ids {
                    Some(ids) => match ids
                        .dictionary()
                        .term_bounds_to_ord(Bound::Unbounded, Bound::Excluded(&cursor.id))?
                        .1
                    {
                        Bound::Excluded(ordinal) => ordinal,
                        Bound::Included(ordinal) => ordinal + 1,
                        Bound::Unbounded => u64::MAX,
                    },
                    None => 0,
                };
                Some((cursor.ts, Some(first_not_below)))
            }
            None => None,
        };
        Ok(NewestSegment {
            segment,
            ts: fast.date(schema::TS).ok(),
            ids,
            limit: self.limit,
            below,
            kept: BinaryHeap::with_capacity(self.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<Hit>>) -> tantivy::Result<Vec<Hit>> {
        let mut hits: Vec<Hit> = fruits.into_iter().flatten().collect();
        hits.sort_by(|a, b| (b.ts, &b.id, b.address).cmp(&(a.ts, &a.id, a.address)));
        hits.truncate(self.limit);
        Ok(hits)
    }
}

impl SegmentCollector for NewestSegment {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let ts = self
            .ts
            .as_ref()
            .and_then(|column| column.first(doc))
            .map_or(i64::MIN, DateTime::into_timestamp_nanos);
        let full = self.kept.len() >= self.limit;
        // Older than every hit kept, or newer than the cursor (on an earlier page): its id
        // need not be read.
        if full && self.kept.peek().is_some_and(|Reverse(worst)| ts < worst.0) {
            return;
        }
        if self.below.is_some_and(|(below, _)| ts > below) {
            return;
        }
        let ordinal = self.ids.as_ref().and_then(|ids| ids.ords().first(doc));
        if self.below.is_some_and(|below| (ts, ordinal) >= below) {
            return;
        }
        let key = (ts, ordinal, doc);
        if !full {
            self.kept.push(Reverse(key));
        } else if self.kept.peek().is_some_and(|Reverse(worst)| key > *worst) {
            self.kept.pop();
            self.kept.push(Reverse(key));
        }
    }

    fn harvest(self) -> Vec<Hit> {
        let keys: Vec<Key> = self.kept.into_iter().map(|Reverse(key)| key).collect();
        let mut ordinals: Vec<u64> = keys.iter().filter_map(|(_, ordinal, _)| *ordinal).collect();
        ordinals.sort_unstable();
        ordinals.dedup();
        #[cfg(test)]
        super::probe::ids_read(ordinals.len());
        let mut ids = Vec::with_capacity(ordinals.len());
        if let Some(column) = &self.ids {
            // One pass over the dictionary blocks for every id kept.
            let _ = column
                .dictionary()
                .sorted_ords_to_term_cb(&ordinals, |bytes| {
                    ids.push(String::from_utf8_lossy(bytes).into_owned());
                });
        }
        keys.into_iter()
            .map(|(ts, ordinal, doc)| Hit {
                ts,
                id: ordinal
                    .and_then(|ordinal| ordinals.binary_search(&ordinal).ok())
                    .and_then(|at| ids.get(at).cloned())
                    .unwrap_or_default(),
                address: DocAddress::new(self.segment, doc),
            })
            .collect()
    }
}
