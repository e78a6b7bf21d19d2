//! Readers over every day index, for the indexer's own HTTP endpoints and for the query
//! service co-located with it. The indexer reloads a day's reader right after each commit
//! of that day, so what is committed is what is searchable.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use logpipe_common::event::{EventId, Timestamp};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DateTime, Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};

use crate::error::StoreError;
use crate::layout::{Day, IndexLayout};
use crate::schema::{self, Fields};

/// How readers see new commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The writer in this process reloads after each commit.
    Manual,
    /// Another process writes: tantivy watches `meta.json`.
    OnCommit,
}

/// One day's index opened for reading.
#[derive(Clone)]
pub struct DayReader {
    pub day: Day,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
}

impl std::fmt::Debug for DayReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DayReader").field("day", &self.day).finish()
    }
}

/// Statistics of one day index.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DayStats {
    pub day: String,
    pub docs: u64,
    pub segments: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    layout: IndexLayout,
    reload: Reload,
    days: Arc<RwLock<BTreeMap<Day, DayReader>>>,
}

impl Catalog {
    /// Opens every day index under `layout`.
    pub fn open(layout: IndexLayout, reload: Reload) -> Result<Self, StoreError> {
        let catalog = Catalog {
            layout,
            reload,
            days: Arc::default(),
        };
        catalog.refresh()?;
        Ok(catalog)
    }

    pub fn layout(&self) -> &IndexLayout {
        &self.layout
    }

    /// Picks up days created or removed by another process.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let on_disk = self
            .layout
            .days()
            .map_err(|error| StoreError::io(self.layout.root(), error))?;
        let known: Vec<Day> = self.read().keys().copied().collect();
        for day in &known {
            if !on_disk.contains(day) {
                self.write().remove(day);
            }
        }
        for day in on_disk {
            if !known.contains(&day) {
                self.open_day(day)?;
            }
        }
        Ok(())
    }

    fn open_day(&self, day: Day) -> Result<DayReader, StoreError> {
        let (index, fields) = self.layout.open(day)?;
        let policy = match self.reload {
            Reload::Manual => ReloadPolicy::Manual,
            Reload::OnCommit => ReloadPolicy::OnCommitWithDelay,
        };
        let reader = index
            .reader_builder()
            .reload_policy(policy)
            .try_into()
            .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day), error))?;
        let day_reader = DayReader {
            day,
            index,
            reader,
            fields,
        };
        self.write().insert(day, day_reader.clone());
        Ok(day_reader)
    }

    /// Makes the last commit of `day` visible, opening the day when it is new.
    pub fn reload(&self, day: Day) -> Result<(), StoreError> {
        let existing = self.read().get(&day).cloned();
        let reader = match existing {
            Some(reader) => reader,
            None => self.open_day(day)?,
        };
        reader
            .reader
            .reload()
            .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day), error))
    }

    pub fn forget(&self, day: Day) {
        self.write().remove(&day);
    }

    /// Every day, newest first.
    pub fn readers(&self) -> Vec<DayReader> {
        self.read().values().rev().cloned().collect()
    }

    pub fn stats(&self) -> Vec<DayStats> {
        self.readers()
            .into_iter()
            .map(|day| {
                let searcher = day.reader.searcher();
                DayStats {
                    day: day.day.to_string(),
                    docs: searcher.num_docs(),
                    segments: searcher.segment_readers().len(),
                    bytes: self.layout.day_bytes(day.day),
                }
            })
            .collect()
    }

    /// The stored event with `id`, searching the newest days first.
    pub fn find(&self, id: EventId) -> Result<Option<Vec<u8>>, StoreError> {
        for day in self.readers() {
            let searcher = day.reader.searcher();
            let term = Term::from_field_text(day.fields.id, &id.to_string());
            let query = TermQuery::new(term, IndexRecordOption::Basic);
            let hits = searcher
                .search(&query, &TopDocs::with_limit(1).order_by_score())
                .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day.day), error))?;
            if let Some((_, address)) = hits.first() {
                let doc: TantivyDocument = searcher
                    .doc(*address)
                    .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day.day), error))?;
                return Ok(stored_event(&doc, &day.fields));
            }
        }
        Ok(None)
    }

    /// How many documents carry `id`, over every day.
    pub fn count_id(&self, id: EventId) -> Result<u64, StoreError> {
        let mut total = 0;
        for day in self.readers() {
            let term = Term::from_field_text(day.fields.id, &id.to_string());
            let query = TermQuery::new(term, IndexRecordOption::Basic);
            total += day
                .reader
                .searcher()
                .search(&query, &Count)
                .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day.day), error))?
                as u64;
        }
        Ok(total)
    }

    /// Ids of the `limit` most recently observed events, newest days first.
    pub fn recent_ids(&self, limit: usize) -> Result<Vec<EventId>, StoreError> {
        Ok(self
            .recently_observed(limit)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// Ids and observation times of the `limit` most recently observed events, most
    /// recently observed first within each day, newest days first.
    pub fn recently_observed(&self, limit: usize) -> Result<Vec<(EventId, Timestamp)>, StoreError> {
        let mut ids = Vec::new();
        for day in self.readers() {
            if ids.len() >= limit {
                break;
            }
            let searcher = day.reader.searcher();
            let wanted = (limit - ids.len()).min(searcher.num_docs() as usize);
            if wanted == 0 {
                continue;
            }
            let collector = TopDocs::with_limit(wanted)
                .order_by_fast_field::<DateTime>(schema::OBSERVED_TS, Order::Desc);
            let hits = searcher
                .search(&AllQuery, &collector)
                .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day.day), error))?;
            let mut text = String::new();
            for (observed, address) in hits {
                // Every event has an observation time; one without would sort last.
                let Some(observed) = observed else {
                    break;
                };
                let segment = searcher.segment_reader(address.segment_ord);
                let Ok(Some(column)) = segment.fast_fields().str(schema::ID) else {
                    continue;
                };
                for ord in column.term_ords(address.doc_id) {
                    text.clear();
                    if column.ord_to_str(ord, &mut text).unwrap_or(false)
                        && let Ok(id) = text.parse()
                    {
                        let observed = Timestamp::from_unix_nanos(observed.into_timestamp_nanos());
                        ids.push((id, observed));
                    }
                }
            }
        }
        Ok(ids)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Day, DayReader>> {
        self.days.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Day, DayReader>> {
        self.days.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// The event JSON stored with a document.
pub fn stored_event(doc: &TantivyDocument, fields: &Fields) -> Option<Vec<u8>> {
    doc.get_first(fields.event)
        .and_then(|value| value.as_bytes())
        .map(<[u8]>::to_vec)
}
