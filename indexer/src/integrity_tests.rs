//! The ledger and its digests against an attacker with the index volume: a store written
//! through crashes, duplicates, dead letters and retention verifies clean, and each kind
//! of tampering is named exactly by `verify`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use logpipe_common::event::{EventId, LogEvent};
use logpipe_store::catalog::{Catalog, Reload};
use logpipe_store::digest::{self, DigestFile, DigestKey};
use logpipe_store::document::document_of;
use logpipe_store::layout::{Day, IndexLayout};
use logpipe_store::verify::{Finding, Kind, Report, verify};
use logpipe_store::{Writer, WriterSettings};
use serde_json::json;
use tantivy::{IndexWriter, TantivyDocument, Term};

use crate::decode::{KafkaRecord, TsBounds};
use crate::pipeline::{Pipeline, PipelineSettings, Taken};
use crate::retention::RetentionPolicy;

const KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const OTHER_KEY: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";
const DAYS: [&str; 2] = ["2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z"];

fn id(n: u64) -> EventId {
    EventId::derive("node-1", "file-a", n)
}

fn event(n: u64) -> LogEvent {
    serde_json::from_value(json!({
        "v": 1,
        "id": id(n).to_string(),
        "ts": DAYS[(n % 2) as usize],
        "observed_ts": DAYS[(n % 2) as usize],
        "level": "info",
        "message": format!("user {n} read secret db-password"),
        "k8s": {"namespace": "shop", "pod": "api-1", "node": "node-1"},
        "source": {"kind": "file", "offset": n},
        "attributes": {"n": n}
    }))
    .unwrap()
}

fn open(dir: &Path, retention_days: u32) -> Pipeline {
    let catalog = Catalog::open(IndexLayout::under(dir), Reload::Manual).unwrap();
    let store = Writer::open(
        catalog,
        WriterSettings {
            topic: "logs".into(),
            writer_memory: 15 << 20,
            max_open_days: 2,
        },
    )
    .unwrap();
    let mut pipeline = Pipeline::open(
        store,
        None,
        PipelineSettings {
            topic: "logs".into(),
            bounds: TsBounds {
                max_past: Duration::from_secs(36_500 * 86_400),
                max_future: Duration::from_secs(3_600),
            },
            commit_interval: Duration::from_secs(3_600),
            commit_docs: usize::MAX,
            dedup_window: Duration::from_secs(24 * 3600),
            dedup_max_ids: 10_000,
            retention: RetentionPolicy {
                days: retention_days,
                max_bytes: None,
            },
            local_days: 0,
        },
    )
    .unwrap();
    pipeline
        .sign_digests(DigestKey::from_base64(KEY).unwrap(), Duration::ZERO, None)
        .unwrap();
    pipeline
}

/// Takes offsets of partition `partition`: offset `o` holds event `event_of(o)`, or a
/// message that is no event when that is `None`.
fn take(
    pipeline: &mut Pipeline,
    partition: i32,
    offsets: std::ops::Range<i64>,
    event_of: impl Fn(i64) -> Option<u64>,
) -> Vec<Taken> {
    offsets
        .map(|offset| {
            let bytes = match event_of(offset) {
                Some(n) => serde_json::to_vec(&event(n)).unwrap(),
                None => b"{\"v\": 1, \"truncated".to_vec(),
            };
            pipeline
                .take(&KafkaRecord {
                    topic: "logs",
                    partition,
                    offset,
                    key: None,
                    payload: Some(&bytes),
                    timestamp_ms: None,
                })
                .unwrap()
        })
        .collect()
}

/// Partition 0 holds events 0..300 at their offsets, but offset 120 repeats event 7
/// (a collector's resend) and offset 130 is no event; partition 1 holds 1000.. from
/// offset 0. The indexer crashes once with a round taken but not committed.
fn written_store(dir: &Path) {
    let on_0 = |o: i64| match o {
        120 => Some(7),
        130 => None,
        _ => Some(o as u64),
    };
    let on_1 = |o: i64| Some(1_000 + o as u64);
    let mut pipeline = open(dir, 0);
    take(&mut pipeline, 0, 0..100, on_0);
    take(&mut pipeline, 1, 0..40, on_1);
    pipeline.commit().unwrap();
    let taken = take(&mut pipeline, 0, 100..200, on_0);
    assert_eq!(taken[20], Taken::Duplicate);
    assert_eq!(taken[30], Taken::DeadLettered);
    pipeline.commit().unwrap();
    take(&mut pipeline, 0, 200..250, on_0);
    drop(pipeline);

    // Restarted: the uncommitted round is taken again, from the positions file.
    let mut pipeline = open(dir, 0);
    let resume = pipeline.resume_offset(0).unwrap();
    take(&mut pipeline, 0, resume..300, on_0);
    take(&mut pipeline, 1, 40..60, on_1);
    pipeline.close().unwrap();
}

fn report(dir: &Path, key: Option<&str>) -> Report {
    let key = key
        .map(|k| digest::public_key(&DigestKey::from_base64(k).unwrap().public_base64()).unwrap());
    verify(&IndexLayout::under(dir), key.as_ref()).unwrap()
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A copy of the untouched store, to tamper with.
fn tampered(store: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy(store, dir.path());
    let index = dir.path().join("index");
    (dir, index)
}

fn day_writer(
    index: &Path,
    day: &str,
) -> (IndexWriter<TantivyDocument>, logpipe_store::schema::Fields) {
    let layout = IndexLayout::at(index);
    let (index, fields) = layout.open(day.parse::<Day>().unwrap()).unwrap();
    (index.writer(15 << 20).unwrap(), fields)
}

fn kinds(report: &Report) -> Vec<Kind> {
    report.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn an_untouched_store_verifies_clean_through_a_crash_duplicates_dead_letters_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    written_store(dir.path());
    let clean = report(dir.path(), Some(KEY));
    assert!(clean.ok, "{:#?}", clean.findings);
    // 300 offsets of partition 0 less a duplicate and a dead letter, 60 of partition 1.
    assert_eq!(clean.events, 298 + 60);
    assert!(clean.digests >= 3, "{clean:?}");
    assert_eq!(clean.records_after_last_digest, 0);
    // Without the key the signatures go unchecked; with another they all fail.
    assert!(report(dir.path(), None).ok);
    let forged = report(dir.path(), Some(OTHER_KEY));
    assert!(!forged.ok);
    assert!(kinds(&forged).iter().all(|k| *k == Kind::Digest));

    // Retention removes the older day: its events are removed by policy, not tampered with.
    let mut pipeline = open(dir.path(), 1);
    pipeline
        .apply_retention("2026-11-27".parse().unwrap())
        .unwrap();
    pipeline.close().unwrap();
    let after = report(dir.path(), Some(KEY));
    assert!(after.ok, "{:#?}", after.findings);
    // Even events are on the older day: 148 of partition 0 (offsets 120 and 130 hold
    // none), 30 of partition 1.
    assert_eq!(after.removed_by_policy, 148 + 30);
    assert_eq!(after.events, 298 + 60 - 178);
}

#[test]
fn each_kind_of_tampering_is_named_exactly() {
    let store = tempfile::tempdir().unwrap();
    written_store(store.path());
    let stored = |n: u64| event(n);

    // One event's stored bytes changed (the document replaced by an edited one).
    let (dir, index) = tampered(store.path());
    let (mut writer, fields) = day_writer(&index, "2026-11-27");
    writer.delete_term(Term::from_field_text(fields.id, &id(41).to_string()));
    let mut edited = stored(41);
    edited.message = "user 41 read nothing".into();
    writer.add_document(document_of(&fields, &edited)).unwrap();
    writer.commit().unwrap();
    let found = report(dir.path(), Some(KEY));
    assert_eq!(
        found.findings,
        [Finding {
            kind: Kind::Altered,
            day: Some("2026-11-27".into()),
            partition: Some(0),
            offset: Some(41),
            id: Some(id(41).to_string()),
            detail: found.findings[0].detail.clone(),
        }]
    );

    // One document deleted.
    let (dir, index) = tampered(store.path());
    let (mut writer, fields) = day_writer(&index, "2026-11-26");
    writer.delete_term(Term::from_field_text(fields.id, &id(1_010).to_string()));
    writer.commit().unwrap();
    let found = report(dir.path(), Some(KEY));
    assert_eq!(kinds(&found), [Kind::Removed]);
    assert_eq!(found.findings[0].partition, Some(1));
    assert_eq!(found.findings[0].offset, Some(10));
    assert_eq!(found.findings[0].id, Some(id(1_010).to_string()));

    // One document added that nothing took from Kafka.
    let (dir, index) = tampered(store.path());
    let (mut writer, fields) = day_writer(&index, "2026-11-26");
    writer
        .add_document(document_of(&fields, &stored(9_998)))
        .unwrap();
    writer.commit().unwrap();
    let found = report(dir.path(), Some(KEY));
    assert_eq!(kinds(&found), [Kind::Inserted]);
    assert_eq!(found.findings[0].id, Some(id(9_998).to_string()));

    // A whole segment dropped from a day's index.
    let (dir, index) = tampered(store.path());
    let meta_path = index.join("2026-11-27/meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let segments = meta["segments"].as_array_mut().unwrap();
    let dropped = segments.remove(0);
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let found = report(dir.path(), Some(KEY));
    assert!(
        kinds(&found).iter().all(|k| *k == Kind::Removed),
        "{:#?}",
        found.findings
    );
    let expected = dropped["max_doc"].as_u64().unwrap()
        - dropped["deletes"]["num_deleted_docs"].as_u64().unwrap_or(0);
    assert_eq!(found.findings.len() as u64, expected);
    assert!(
        found
            .findings
            .iter()
            .all(|f| f.day.as_deref() == Some("2026-11-27"))
    );

    // Two ledger records swapped.
    let (dir, index) = tampered(store.path());
    let ledger_path = index.join("ledger.jsonl");
    let text = std::fs::read_to_string(&ledger_path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(0, 1);
    std::fs::write(&ledger_path, lines.join("\n") + "\n").unwrap();
    let found = report(dir.path(), Some(KEY));
    assert!(
        kinds(&found).contains(&Kind::Ledger),
        "{:#?}",
        found.findings
    );
    assert!(
        found.findings.iter().any(|f| f
            .detail
            .contains("ledger line 1 (record 1) is out of place")),
        "{:#?}",
        found.findings
    );

    // A digest replaced by one that another key signed, and one whose body was edited.
    let (dir, index) = tampered(store.path());
    let digests = digest::files(&index.join("digests")).unwrap();
    let last = digests.last().unwrap();
    let file: DigestFile = serde_json::from_slice(&std::fs::read(last).unwrap()).unwrap();
    let forged = DigestKey::from_base64(OTHER_KEY)
        .unwrap()
        .sign(file.signed.clone());
    std::fs::write(last, serde_json::to_vec(&forged).unwrap()).unwrap();
    let found = report(dir.path(), Some(KEY));
    assert_eq!(kinds(&found), [Kind::Digest]);
    assert!(
        found.findings[0].detail.contains("does not verify"),
        "{:#?}",
        found.findings
    );
    let edited = DigestFile {
        signed: file
            .signed
            .replacen("\"topic\":\"logs\"", "\"topic\":\"other\"", 1),
        ..file
    };
    std::fs::write(last, serde_json::to_vec(&edited).unwrap()).unwrap();
    assert_eq!(kinds(&report(dir.path(), Some(KEY))), [Kind::Digest]);

    // The ledger rewritten to hide an edit: its records no longer match the signed digests.
    let (dir, index) = tampered(store.path());
    let text = std::fs::read_to_string(index.join("ledger.jsonl")).unwrap();
    std::fs::write(
        index.join("ledger.jsonl"),
        text.replacen("\"duplicate\"", "\"dead-letter\"", 1),
    )
    .unwrap();
    let found = report(dir.path(), Some(KEY));
    assert!(
        kinds(&found).contains(&Kind::Digest) || kinds(&found).contains(&Kind::Ledger),
        "{:#?}",
        found.findings
    );

    // One byte of a segment's stored documents flipped.
    let (dir, index) = tampered(store.path());
    let store_file = std::fs::read_dir(index.join("2026-11-26"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "store"))
        .unwrap();
    let mut bytes = std::fs::read(&store_file).unwrap();
    let middle = bytes.len() / 3;
    bytes[middle] ^= 0x20;
    std::fs::write(&store_file, bytes).unwrap();
    let found = report(dir.path(), Some(KEY));
    assert!(!found.ok);
    assert!(
        kinds(&found)
            .iter()
            .all(|k| matches!(k, Kind::Altered | Kind::Removed | Kind::Unreadable)),
        "{:#?}",
        found.findings
    );
}

/// A partition that another indexer held for a while and gave back: its next round says
/// so and verifies; the same jump without an assignment is a gap.
#[test]
fn a_partition_resumed_after_a_rebalance_is_a_handover_not_a_gap() {
    let on_0 = |o: i64| Some(o as u64);
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = open(dir.path(), 0);
    pipeline.assigned(0, None, None);
    take(&mut pipeline, 0, 0..50, on_0);
    pipeline.commit().unwrap();
    // Another indexer took offsets 50..80; the partition comes back at 80.
    pipeline.assigned(0, None, None);
    take(&mut pipeline, 0, 80..100, on_0);
    pipeline.close().unwrap();
    let clean = report(dir.path(), Some(KEY));
    assert!(clean.ok, "{:#?}", clean.findings);
    assert_eq!((clean.events, clean.handovers), (70, 1));

    // Offsets skipped while the partition stayed here: a gap, named.
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = open(dir.path(), 0);
    take(&mut pipeline, 0, 0..50, on_0);
    pipeline.commit().unwrap();
    take(&mut pipeline, 0, 80..100, on_0);
    pipeline.close().unwrap();
    let gap = report(dir.path(), Some(KEY));
    assert_eq!(kinds(&gap), [Kind::Gap]);
    assert_eq!(gap.findings[0].offset, Some(50));
    assert_eq!(gap.handovers, 0);
}

/// A partition moving to another indexer takes its chain along: the new holder's first
/// round goes on from the head the last one committed with its offset, and the two
/// stores verified together prove the chains one; a forged carried head is named.
#[test]
fn a_partition_moved_to_another_indexer_goes_on_with_the_same_chain() {
    let on_0 = |o: i64| Some(o as u64);
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut holder = open(first.path(), 0);
    holder.assigned(0, None, None);
    take(&mut holder, 0, 0..60, on_0);
    holder.commit().unwrap();
    let offsets = std::collections::BTreeMap::from([(0, 60)]);
    let head = holder.heads_at(&offsets)[&0];
    assert!(
        holder.heads_at(&[(0, 59)].into()).is_empty(),
        "only where a round ended"
    );
    holder.close().unwrap();

    let mut taker = open(second.path(), 0);
    taker.assigned(0, Some(60), Some((60, head)));
    take(&mut taker, 0, 60..100, on_0);
    taker.close().unwrap();
    let layouts = [
        IndexLayout::under(first.path()),
        IndexLayout::under(second.path()),
    ];
    let joined = logpipe_store::verify::verify_all(&layouts, None).unwrap();
    assert!(joined.ok, "{:#?}", joined.findings);
    assert_eq!(
        (joined.events, joined.carried_heads, joined.linked_handovers),
        (100, 1, 1)
    );
    // The taker's chain is the holder's: its head is the one a single indexer taking
    // every offset would have.
    let alone = tempfile::tempdir().unwrap();
    let mut single = open(alone.path(), 0);
    take(&mut single, 0, 0..100, on_0);
    single.commit().unwrap();
    let all = std::collections::BTreeMap::from([(0, 100)]);
    assert_eq!(taker.heads_at(&all), single.heads_at(&all));

    // A head carried from anywhere else does not match the holder's chain.
    let forged = tempfile::tempdir().unwrap();
    let mut taker = open(forged.path(), 0);
    taker.assigned(0, Some(60), Some((60, [9; 32])));
    take(&mut taker, 0, 60..100, on_0);
    taker.close().unwrap();
    let layouts = [
        IndexLayout::under(first.path()),
        IndexLayout::under(forged.path()),
    ];
    let joined = logpipe_store::verify::verify_all(&layouts, None).unwrap();
    assert_eq!(kinds(&joined), [Kind::Ledger], "{:#?}", joined.findings);
    assert!(joined.findings[0].detail.contains("carried over head"));
    assert_eq!(joined.linked_handovers, 0);
    // A head carried for another offset than where reading resumes is not used.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut taker = open(elsewhere.path(), 0);
    taker.assigned(0, Some(60), Some((50, head)));
    take(&mut taker, 0, 60..100, on_0);
    taker.close().unwrap();
    assert_eq!(report(elsewhere.path(), None).carried_heads, 0);
}

/// A store indexed before the ledger existed: its events are adopted when the ledger
/// begins, so they verify instead of reading as inserted, and tampering with them later
/// is named; a ledger deleted from a store that has digests is not adopted anew.
#[test]
fn a_store_from_before_the_ledger_is_adopted_and_verified_from_then_on() {
    let on_0 = |o: i64| Some(o as u64);
    let dir = tempfile::tempdir().unwrap();
    let layout = IndexLayout::under(dir.path());
    for day in DAYS.map(|ts| Day::of(logpipe_common::Timestamp::parse_rfc3339(ts).unwrap())) {
        let (index, fields) = layout.open_or_create(day).unwrap();
        let mut writer: IndexWriter<TantivyDocument> = index.writer(15 << 20).unwrap();
        for n in (1_000..1_040).filter(|n| Day::of(event(*n).ts) == day) {
            writer
                .add_document(document_of(&fields, &event(n)))
                .unwrap();
        }
        writer.commit().unwrap();
    }
    let mut pipeline = open(dir.path(), 0);
    take(&mut pipeline, 0, 0..30, on_0);
    pipeline.close().unwrap();
    let clean = report(dir.path(), Some(KEY));
    assert!(clean.ok, "{:#?}", clean.findings);
    assert_eq!((clean.events, clean.adopted), (70, 40));
    // Opened again, nothing is adopted twice.
    open(dir.path(), 0).close().unwrap();
    let again = report(dir.path(), Some(KEY));
    assert!(again.ok, "{:#?}", again.findings);
    assert_eq!(again.adopted, 40);

    // An adopted event changed afterwards.
    let (copy, index) = tampered(dir.path());
    let (mut writer, fields) = day_writer(&index, "2026-11-27");
    writer.delete_term(Term::from_field_text(fields.id, &id(1_001).to_string()));
    let mut edited = event(1_001);
    edited.message = "user 1001 read nothing".into();
    writer.add_document(document_of(&fields, &edited)).unwrap();
    writer.commit().unwrap();
    let found = report(copy.path(), Some(KEY));
    assert_eq!(kinds(&found), [Kind::Altered], "{:#?}", found.findings);
    assert_eq!(found.findings[0].id, Some(id(1_001).to_string()));

    // The ledger deleted where digests remain: not adopted again, so the events, the
    // rounds' and the digests' absence are all named.
    let (copy, index) = tampered(dir.path());
    std::fs::remove_file(index.join(logpipe_store::ledger::LEDGER_FILE)).unwrap();
    open(copy.path(), 0).close().unwrap();
    let found = report(copy.path(), Some(KEY));
    assert!(!found.ok);
    assert_eq!(found.adopted, 0);
    assert!(
        kinds(&found).contains(&Kind::Inserted),
        "{:#?}",
        found.findings
    );
}
