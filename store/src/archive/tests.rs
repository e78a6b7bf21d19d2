use std::collections::BTreeMap;

use logpipe_common::event::Timestamp;
use logpipe_common::testkit::sample_event;

use super::*;
use crate::catalog::{Catalog, Reload};
use crate::testkit::write_index;

const DAY: i64 = 86_400 * 1_000_000_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store of `count` events over three days, with positions, a ledger and a digest as
/// the indexer leaves them.
fn store_with(data_dir: &std::path::Path, count: u64, from: u64) -> IndexLayout {
    let start = Timestamp::now().unix_nanos() - 3 * DAY;
    let events: Vec<_> = (from..from + count)
        .map(|n| {
            sample_event(
                n,
                Timestamp::from_unix_nanos(start + (n as i64 % 3) * DAY + n as i64),
            )
        })
        .collect();
    write_index(data_dir, &events);
    let layout = IndexLayout::under(data_dir);
    layout
        .save_positions(&Positions {
            topic: "logs".into(),
            offsets: BTreeMap::from([(0, (from + count) as i64)]),
        })
        .unwrap();
    let mut ledger = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.root().join(LEDGER))
        .unwrap();
    use std::io::Write;
    writeln!(ledger, "{{\"round\":{from}}}").unwrap();
    // A line being written when the round reads the ledger.
    write!(ledger, "{{\"partial\":").unwrap();
    std::fs::create_dir_all(layout.root().join("digests")).unwrap();
    std::fs::write(layout.root().join(format!("digests/{from:08}.json")), b"{}").unwrap();
    layout
}

fn counts(layout: &IndexLayout) -> Vec<(String, u64)> {
    let catalog = Catalog::open(layout.clone(), Reload::Manual).unwrap();
    catalog
        .stats()
        .into_iter()
        .map(|s| (s.day.to_string(), s.docs))
        .collect()
}

async fn archive_in(dir: &std::path::Path) -> Archive {
    let url = url::Url::from_directory_path(dir).unwrap();
    Archive::open(url.as_str(), "indexer-0", std::iter::empty())
        .await
        .unwrap()
}

#[test]
fn a_store_restored_from_object_storage_is_the_store_that_was_copied() {
    let (data, remote, fresh) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let layout = store_with(data.path(), 300, 0);
    runtime().block_on(async {
        let mut archive = archive_in(remote.path()).await;
        let report = archive.sync(&layout).await.unwrap();
        assert!(report.uploaded_files > 3, "{report:?}");
        assert_eq!(report.positions, Some(BTreeMap::from([(0, 300)])));
        // Nothing new: nothing uploaded.
        let again = archive.sync(&layout).await.unwrap();
        assert_eq!(again.uploaded_files, 0, "{again:?}");

        // A new process on an empty volume.
        let restored = IndexLayout::under(fresh.path());
        let archive = archive_in(remote.path()).await;
        assert_eq!(
            archive.restore(&restored, Days::All).await.unwrap(),
            Some(BTreeMap::from([(0, 300)]))
        );
        assert_eq!(counts(&restored), counts(&layout));
        assert_eq!(counts(&restored).iter().map(|(_, n)| n).sum::<u64>(), 300);
        // The ledger up to its last whole line, the digest, the positions.
        assert_eq!(
            std::fs::read_to_string(restored.root().join(LEDGER)).unwrap(),
            "{\"round\":0}\n"
        );
        assert!(restored.root().join("digests/00000000.json").is_file());
        assert_eq!(restored.positions().unwrap(), layout.positions().unwrap());
        // A restore fills an empty directory only.
        let error = archive.restore(&restored, Days::All).await.unwrap_err();
        assert!(error.to_string().contains("not empty"), "{error}");
    });
}

#[test]
fn later_rounds_add_what_is_new_and_drop_what_merges_replaced() {
    let (data, remote, fresh) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let layout = store_with(data.path(), 200, 0);
    runtime().block_on(async {
        let mut archive = archive_in(remote.path()).await;
        archive.sync(&layout).await.unwrap();
        let before: BTreeSet<String> = archive.uploaded.keys().cloned().collect();
        // More commits, then every day merged into one segment.
        store_with(data.path(), 200, 200);
        for day in layout.days().unwrap() {
            let (index, _) = layout.open(day).unwrap();
            let mut writer: tantivy::IndexWriter =
                index.writer_with_num_threads(1, 15_000_000).unwrap();
            let segments = index.searchable_segment_ids().unwrap();
            writer.merge(&segments).wait().unwrap();
            writer.wait_merging_threads().unwrap();
        }
        let report = archive.sync(&layout).await.unwrap();
        assert!(report.deleted_files > 0, "{report:?}");
        let after: BTreeSet<String> = archive.uploaded.keys().cloned().collect();
        assert!(after.iter().any(|name| name.starts_with("ledger/0000")));
        assert_eq!(
            after.iter().filter(|n| n.starts_with("ledger/")).count(),
            2,
            "the ledger in two pieces: {after:?}"
        );
        assert!(
            before
                .difference(&after)
                .all(|gone| gone.starts_with("days/"))
        );
        // What the store holds is what its manifest names: a restore from a new process
        // sees every event once.
        let restored = IndexLayout::under(fresh.path());
        archive_in(remote.path())
            .await
            .restore(&restored, Days::All)
            .await
            .unwrap();
        assert_eq!(counts(&restored), counts(&layout));
        assert_eq!(counts(&restored).iter().map(|(_, n)| n).sum::<u64>(), 400);
        assert_eq!(
            std::fs::read_to_string(restored.root().join(LEDGER)).unwrap(),
            "{\"round\":0}\n{\"partial\":{\"round\":200}\n"
        );
    });
}

#[test]
fn a_ledger_shorter_than_its_copy_is_refused() {
    let (data, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let layout = store_with(data.path(), 30, 0);
    runtime().block_on(async {
        let mut archive = archive_in(remote.path()).await;
        archive.sync(&layout).await.unwrap();
        std::fs::write(layout.root().join(LEDGER), b"").unwrap();
        let error = archive.sync(&layout).await.unwrap_err();
        assert!(error.to_string().contains("fewer than"), "{error}");
        // The last manifest stays whole.
        let manifest = archive_in(remote.path()).await.manifest().cloned().unwrap();
        assert_eq!(manifest.ledger_bytes, "{\"round\":0}\n".len() as u64);
    });
}

#[test]
fn nothing_is_restored_from_an_empty_bucket() {
    let (data, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    runtime().block_on(async {
        let archive = archive_in(remote.path()).await;
        assert_eq!(
            archive
                .restore(&IndexLayout::under(data.path()), Days::All)
                .await
                .unwrap(),
            None
        );
    });
}

#[test]
fn an_evicted_day_stays_in_object_storage_until_retention_removes_it() {
    let (data, remote, volume, everything, cache) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let layout = store_with(data.path(), 300, 0);
    let oldest = layout.days().unwrap()[0];
    let remove = |reason: &str| {
        use std::io::Write;
        let mut ledger = std::fs::OpenOptions::new()
            .append(true)
            .open(layout.root().join(LEDGER))
            .unwrap();
        write!(
            ledger,
            "\n{{\"seq\":9,\"prev\":\"\",\"at\":\"\",\"body\":{{\"removal\":{{\"day\":\"{oldest}\",\"reason\":\"{reason}\"}}}}}}\n"
        )
        .unwrap();
    };
    runtime().block_on(async {
        let mut archive = archive_in(remote.path()).await;
        archive.sync(&layout).await.unwrap();
        assert!(archive.evicted_days().is_empty());
        // The indexer records the eviction, then the day leaves its volume.
        remove(crate::ledger::EVICTED);
        std::fs::remove_dir_all(layout.day_dir(oldest)).unwrap();
        for _ in 0..2 {
            archive.sync(&layout).await.unwrap();
            let manifest = archive.manifest().unwrap();
            assert_eq!(
                manifest.evicted,
                BTreeSet::from([oldest.to_string()]),
                "{manifest:?}"
            );
            assert_eq!(manifest.days.len(), 3);
        }
        let evicted = archive.evicted_days();
        assert_eq!(evicted.len(), 1);
        assert_eq!(evicted[0].0, oldest);
        assert!(archive.day_bytes(&oldest.to_string(), &evicted[0].1) > 0);

        // A new volume gets the days it held; the whole record has the evicted one too.
        let reader = archive_in(remote.path()).await;
        let restored = IndexLayout::under(volume.path());
        reader.restore(&restored, Days::Volume).await.unwrap();
        assert_eq!(counts(&restored).len(), 2);
        assert!(!restored.day_dir(oldest).exists());
        let whole = IndexLayout::under(everything.path());
        reader.restore(&whole, Days::All).await.unwrap();
        assert_eq!(counts(&whole).iter().map(|(_, n)| n).sum::<u64>(), 300);
        // One day alone, as the query service caches it.
        let cached = IndexLayout::under(cache.path());
        let files = reader
            .fetch_day(&oldest.to_string(), &evicted[0].1, &cached.day_dir(oldest))
            .await
            .unwrap();
        assert!(files > 1);
        assert_eq!(counts(&cached), vec![(oldest.to_string(), 100)]);

        // Retention removes it from object storage too.
        remove("age");
        let report = archive.sync(&layout).await.unwrap();
        assert!(report.deleted_files > 0);
        let manifest = archive.manifest().unwrap();
        assert!(manifest.evicted.is_empty());
        assert!(!manifest.days.contains_key(&oldest.to_string()));
        assert!(
            !archive
                .uploaded
                .keys()
                .any(|name| name.starts_with(&format!("days/{oldest}/")))
        );
    });
}
