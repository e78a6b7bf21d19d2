//! The most frequent values of a keyword field or attribute among the matching events.

use std::collections::HashMap;

use logpipe_language::{FieldRef, Keyword};
use serde::Serialize;
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::DynamicColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::deadline::Deadline;
use super::request::{Request, SearchError};
use crate::catalog::Catalog;
use crate::schema;
use crate::translate::{label_path, to_tantivy};

#[derive(Debug, Clone, Serialize)]
pub struct TopValues {
    pub values: Vec<(serde_json::Value, u64)>,
    /// Matching events.
    pub total: u64,
}

/// The field a top-values request reads: a keyword field or an attribute path.
pub fn facet_column(field: &str) -> Result<String, SearchError> {
    match FieldRef::resolve(field)? {
        FieldRef::Keyword(keyword) if keyword.is_fast() => Ok(keyword.name().to_string()),
        FieldRef::Attribute(path) => Ok(format!("{}.{path}", schema::ATTRIBUTES)),
        FieldRef::Label(map, key) => Ok(format!("{}.{}", map.name(), label_path(&key))),
        _ => Err(SearchError::BadRequest(format!(
            "top values are counted for keyword fields ({}), attributes.<path> and k8s.labels.<key> (and k8s.annotations, k8s.namespace_labels), not for {field}",
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
) -> Result<TopValues, SearchError> {
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use logpipe_common::Timestamp;
    use logpipe_common::testkit::sample_event;
    use logpipe_language::{Query, Scope};

    use super::*;
    use crate::search::TimeRange;
    use crate::testkit::write_index;

    /// Counts of label values, keys with dots included, and searches on them.
    #[test]
    fn labels_and_workloads_are_counted_and_searched() {
        let dir = tempfile::tempdir().unwrap();
        let ts = Timestamp::from_unix_nanos(1_795_000_000_000_000_000);
        let events: Vec<_> = (0..30)
            .map(|n| {
                let mut event = sample_event(n, ts);
                let app = ["checkout", "checkout", "cart"][n as usize % 3];
                if n % 5 != 0 {
                    event.k8s.labels.insert("app".into(), app.into());
                    event
                        .k8s
                        .labels
                        .insert("app.kubernetes.io/part-of".into(), "shop".into());
                    event.k8s.workload = Some(app.into());
                    event.k8s.workload_kind = Some("Deployment".into());
                }
                event
            })
            .collect();
        let catalog = write_index(dir.path(), &events);
        let request = |query: &str| Request {
            query: Query::parse(query).unwrap(),
            range: TimeRange {
                from: Timestamp::from_unix_nanos(ts.unix_nanos() - 1_000_000_000),
                to: Timestamp::from_unix_nanos(ts.unix_nanos() + 1_000_000_000),
            },
            scope: Scope::all(),
            deadline: Instant::now() + Duration::from_secs(30),
            max_page_bytes: crate::search::DEFAULT_MAX_PAGE_BYTES,
        };
        let counts = |query: &str, field: &str| {
            top_values(&catalog, &request(query), field, 10)
                .unwrap()
                .values
                .into_iter()
                .map(|(value, n)| (value.as_str().unwrap().to_string(), n))
                .collect::<Vec<_>>()
        };
        // 24 labelled: 16 checkout, 8 cart.
        assert_eq!(
            counts("*", "k8s.labels.app"),
            vec![("checkout".into(), 16), ("cart".into(), 8)]
        );
        assert_eq!(
            counts("*", "k8s.workload"),
            vec![("checkout".into(), 16), ("cart".into(), 8)]
        );
        assert_eq!(
            counts(
                "k8s.labels.app:cart",
                "k8s.labels.app.kubernetes.io/part-of"
            ),
            vec![("shop".into(), 8)]
        );
        assert_eq!(
            counts(
                "k8s.labels.app.kubernetes.io/part-of:shop",
                "k8s.workload_kind"
            ),
            vec![("Deployment".into(), 24)]
        );
        assert_eq!(
            top_values(&catalog, &request("NOT k8s.labels.app:*"), "level", 10)
                .unwrap()
                .total,
            6
        );
        assert!(facet_column("k8s.labels.").is_err());
        assert!(facet_column("k8s.labels").is_err());
    }
}
