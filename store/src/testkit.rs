//! Test indexes: events written into day indexes as the indexer lays them out, for tests
//! and benchmarks of what reads them.

use std::collections::BTreeMap;
use std::path::Path;

use logpipe_common::event::LogEvent;

use crate::catalog::{Catalog, Reload};
use crate::document::document_of;
use crate::layout::{Day, IndexLayout};

/// Indexing memory of the test writer: a few segments per 100,000 events.
const WRITER_MEMORY_BYTES: usize = 30_000_000;

/// Writes `events` into day indexes under `data_dir` (one commit per day) and opens them.
pub fn write_index(data_dir: &Path, events: &[LogEvent]) -> Catalog {
    write(data_dir, events, false)
}

/// `write_index`, each day then merged into one segment: the largest scan a search of
/// that day can meet.
pub fn write_index_one_segment(data_dir: &Path, events: &[LogEvent]) -> Catalog {
    write(data_dir, events, true)
}

fn write(data_dir: &Path, events: &[LogEvent], merge: bool) -> Catalog {
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
            .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
            .expect("a tantivy writer");
        if merge {
            writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        }
        for event in events {
            writer
                .add_document(document_of(&fields, event))
                .expect("a document");
        }
        writer.commit().expect("a commit");
        if merge {
            let segments = index.searchable_segment_ids().expect("the segments");
            if segments.len() > 1 {
                writer.merge(&segments).wait().expect("a merge");
            }
            writer.wait_merging_threads().expect("the merge finished");
        }
    }
    Catalog::open(layout, Reload::Manual).expect("the indexes just written")
}
