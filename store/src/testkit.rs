//! Test indexes: events written into day indexes as the indexer lays them out, for tests
//! and benchmarks of what reads them.

use std::collections::BTreeMap;
use std::path::Path;

use logpipe_common::event::LogEvent;

use crate::catalog::{Catalog, Reload};
use crate::document::document_of;
use crate::layout::{Day, IndexLayout};

/// Writes `events` into day indexes under `data_dir` (one commit per day) and opens them.
pub fn write_index(data_dir: &Path, events: &[LogEvent]) -> Catalog {
    let layout = IndexLayout::under(data_dir);
    let mut by_day: BTreeMap<Day, Vec<&LogEvent>> = BTreeMap::new();
    for event in events {
        by_day.entry(Day::of(event.ts)).or_default().push(event);
    }
    for (day, events) in by_day {
        let (index, fields) = layout
            .open_or_create(day)
            .expect("a writable test directory");
        let mut writer: tantivy::IndexWriter = index
            .writer_with_num_threads(1, 30_000_000)
            .expect("a tantivy writer");
        for event in events {
            writer
                .add_document(document_of(&fields, event))
                .expect("a document");
        }
        writer.commit().expect("a commit");
    }
    Catalog::open(layout, Reload::Manual).expect("the indexes just written")
}
