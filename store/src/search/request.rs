//! What a search asks: the query, the time range, the caller's scope and the deadline; the
//! cursor that continues a page; and why a search fails.

use std::fmt;
use std::ops::Bound;
use std::str::FromStr;
use std::time::Instant;

use logpipe_common::event::{EventId, Timestamp};
use logpipe_language::{FieldRef, Leaf, Op, Query, QueryError, Scalar, Scope, TimeField};

use crate::catalog::{Catalog, DayReader};

/// Most hits one page returns.
pub const MAX_LIMIT: usize = 10_000;
/// Most bytes of events one page holds unless the request says otherwise
/// ([`Request::max_page_bytes`]).
pub const DEFAULT_MAX_PAGE_BYTES: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
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
    pub(crate) fn query(&self) -> Query {
        time_range(Bound::Included(self.from), Bound::Excluded(self.to))
    }

    pub(crate) fn overlaps(&self, day: &DayReader) -> bool {
        day.day.start() < self.to && day.day.end() > self.from
    }
}

pub(crate) fn time_range(lower: Bound<Timestamp>, upper: Bound<Timestamp>) -> Query {
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
    type Err = SearchError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            SearchError::BadRequest(
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

/// A search: the user's query, the time range, the caller's scope, and its limits.
#[derive(Debug, Clone)]
pub struct Request {
    pub query: Query,
    pub range: TimeRange,
    pub scope: Scope,
    pub deadline: Instant,
    /// Most bytes of events one page holds, whatever its limit: four concurrent pages of
    /// a thousand large events cannot take gigabytes. A page at the bound ends early with
    /// a cursor; a single larger event still makes a page of one.
    pub max_page_bytes: usize,
}

impl Request {
    /// The query, limited to the range and the scope.
    pub(crate) fn effective(&self) -> Query {
        self.query
            .clone()
            .and(self.range.query())
            .and(self.scope.query())
    }

    pub(crate) fn check_deadline(&self) -> Result<(), SearchError> {
        if Instant::now() > self.deadline {
            return Err(SearchError::Timeout);
        }
        Ok(())
    }

    /// A failed search of `day`: a timeout when the deadline passed.
    pub(crate) fn failed(&self, day: &DayReader, error: tantivy::TantivyError) -> SearchError {
        if Instant::now() > self.deadline {
            SearchError::Timeout
        } else {
            SearchError::Index {
                day: day.day.to_string(),
                detail: error.to_string(),
            }
        }
    }

    pub(crate) fn days(&self, catalog: &Catalog) -> Vec<DayReader> {
        catalog
            .readers()
            .into_iter()
            .filter(|day| self.range.overlaps(day))
            .collect()
    }
}
