//! The index copied to a real S3 server (SeaweedFS): a lost volume restored from it while
//! the events keep coming, every event searchable once; an outage of object storage that
//! indexing rides through, reported, and caught up.

use std::time::{Duration, Instant};

use logpipe_common::Timestamp;
use logpipe_common::config::host_name;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, TestObjectStore, produce_all};
use logpipe_store::archive::Archive;
use logpipe_store::digest::{DigestKey, public_key};
use logpipe_store::layout::IndexLayout;

use crate::util::{Indexer, message};

const TOPIC: &str = "logs";
const DLQ: &str = "logs-dlq";
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn produce(broker: &TestBroker, range: std::ops::Range<u64>) {
    let messages: Vec<_> = range.map(|n| message(n, Timestamp::now())).collect();
    produce_all(&broker.settings(), TOPIC, messages).unwrap();
}

/// Events the last manifest in object storage covers, read as a new process would.
async fn archived(s3: &TestObjectStore) -> Option<i64> {
    let archive = Archive::open(&s3.url("cluster"), &host_name(), s3.env())
        .await
        .ok()?;
    let positions = archive.manifest()?.positions.clone()?;
    Some(positions.offsets.values().sum())
}

async fn wait_archived(s3: &TestObjectStore, events: i64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = archived(s3).await;
        if got == Some(events) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{got:?} of {events} events in object storage"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn wait_archive_check(indexer: &Indexer, ready: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = indexer.ctx.health.readiness_report();
        let check = report.checks.get("archive").cloned().unwrap_or_default();
        if (check == "ok") == ready {
            // Object storage never makes the indexer unready: indexing goes on.
            assert!(report.ok, "{report:?}");
            if !ready {
                assert!(check.contains("behind the index"), "{check}");
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "archive check {check:?}, wanted ready={ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A broker with the topics, an S3 server, and the indexer's variables for copying to it
/// (every 300 ms, behind past 1.5 s, digests signed) with `more`.
async fn broker_and_store(
    more: &[(&str, &str)],
) -> (TestBroker, TestObjectStore, Vec<(String, String)>) {
    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 2), TopicSpec::new(DLQ, 1)])
        .await
        .unwrap();
    let s3 = TestObjectStore::start().unwrap();
    let mut vars: Vec<(String, String)> = s3.env();
    vars.push(("LOGPIPE_STORE_URL".to_owned(), s3.url("cluster")));
    for (name, value) in [
        ("LOGPIPE_STORE_SYNC_INTERVAL_MS", "300"),
        ("LOGPIPE_STORE_MAX_LAG_MS", "1500"),
        ("LOGPIPE_INDEXER_DIGEST_KEY", KEY),
    ]
    .iter()
    .chain(more)
    {
        vars.push(((*name).to_owned(), (*value).to_owned()));
    }
    (broker, s3, vars)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_lost_while_object_storage_was_behind_is_restored_with_every_event_once() {
    let (broker, mut s3, vars) = broker_and_store(&[
        ("LOGPIPE_INDEXER_DIGEST_INTERVAL_MS", "1000"),
        // The same member of the consumer group on either volume, as a StatefulSet's pod
        // is: the new one takes the partitions back at once.
        ("LOGPIPE_INDEXER_INSTANCE_ID", "indexer-0"),
    ])
    .await;
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    // Indexed and copied.
    let lost = tempfile::tempdir().unwrap();
    produce(&broker, 0..2_000);
    let first = Indexer::start(&broker, lost.path(), &extra).await;
    first.wait_for_docs(2_000, Duration::from_secs(60)).await;
    wait_archived(&s3, 2_000).await;
    wait_archive_check(&first, true).await;

    // Object storage down: indexing goes on, the readiness report says uploads are behind.
    s3.stop();
    produce(&broker, 2_000..3_000);
    first.wait_for_docs(3_000, Duration::from_secs(60)).await;
    wait_archive_check(&first, false).await;

    // The volume is lost before object storage came back: its last copy is behind.
    first.stop().await;
    drop(lost);
    s3.restart().unwrap();
    // Still the copy from before the outage (read once the restarted server answers).
    wait_archived(&s3, 2_000).await;
    produce(&broker, 3_000..3_500);

    // A new indexer on an empty volume: restored, then every event once.
    let fresh = tempfile::tempdir().unwrap();
    let second = Indexer::start(&broker, fresh.path(), &extra).await;
    second.wait_for_docs(3_500, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(second.docs().await, 3_500, "no event twice");
    wait_archived(&s3, 3_500).await;
    wait_archive_check(&second, true).await;
    second.stop().await;

    // The restored index, its ledger and digests, and what came after verify clean.
    let key = public_key(&DigestKey::from_base64(KEY).unwrap().public_base64()).unwrap();
    let report =
        logpipe_store::verify::verify(&IndexLayout::under(fresh.path()), Some(&key)).unwrap();
    assert!(report.ok, "{:?}", report.findings);
    assert_eq!(report.events, 3_500);
    assert!(report.digests > 0);
}

/// The value of a gauge or counter in the process's metrics, `0` when absent.
fn metric(name: &str) -> f64 {
    logpipe_common::ops::metrics_handle()
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_storage_outage_is_ridden_through_reported_and_caught_up() {
    let outage = Duration::from_secs(logpipe_common::testkit::env_number(
        "LOGPIPE_DRILL_STORE_OUTAGE_SECS",
        60,
    ));
    let (broker, mut s3, vars) = broker_and_store(&[]).await;
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let data = tempfile::tempdir().unwrap();
    produce(&broker, 0..1_000);
    let indexer = Indexer::start(&broker, data.path(), &extra).await;
    indexer.wait_for_docs(1_000, Duration::from_secs(60)).await;
    wait_archived(&s3, 1_000).await;
    wait_archive_check(&indexer, true).await;
    assert!(metric("logpipe_indexer_archive_lag_seconds") < 1.5);

    // Down for the whole outage while events keep coming: every one is indexed locally
    // at once, and the readiness report and the lag metric say the copy is behind.
    s3.stop();
    let failures_before = metric("logpipe_indexer_archive_failures_total");
    let started = Instant::now();
    let mut produced = 1_000;
    while started.elapsed() < outage {
        produce(&broker, produced..produced + 100);
        produced += 100;
        indexer
            .wait_for_docs(produced, Duration::from_secs(30))
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    wait_archive_check(&indexer, false).await;
    // Past the maximum lag (a failed round may take the client's retries to end, so the
    // gauge can trail the outage by that much).
    let lag = metric("logpipe_indexer_archive_lag_seconds");
    assert!(lag > 1.5, "lag {lag} s after a {outage:?} outage");
    assert!(metric("logpipe_indexer_archive_failures_total") > failures_before);

    // Back: the copy catches up with everything, and says so.
    s3.restart().unwrap();
    wait_archived(&s3, produced as i64).await;
    wait_archive_check(&indexer, true).await;
    assert!(metric("logpipe_indexer_archive_lag_seconds") < 1.5);
    assert_eq!(indexer.docs().await, produced);
    indexer.stop().await;

    // The copy alone holds every event, and verifies.
    let restored = tempfile::tempdir().unwrap();
    let layout = IndexLayout::under(restored.path());
    let archive = Archive::open(&s3.url("cluster"), &host_name(), s3.env())
        .await
        .unwrap();
    archive
        .restore(&layout, logpipe_store::archive::Days::All)
        .await
        .unwrap();
    let key = public_key(&DigestKey::from_base64(KEY).unwrap().public_base64()).unwrap();
    let report = logpipe_store::verify::verify(&layout, Some(&key)).unwrap();
    assert!(report.ok, "{:?}", report.findings);
    assert_eq!(report.events, produced);
}

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

/// Events per day in object storage's copy, read whole as `logpipe verify` reads it.
async fn copied_days(s3: &TestObjectStore) -> (Vec<(String, u64)>, logpipe_store::verify::Report) {
    let archive = Archive::open(&s3.url("cluster"), &host_name(), s3.env())
        .await
        .unwrap();
    let whole = tempfile::tempdir().unwrap();
    let layout = IndexLayout::under(whole.path());
    archive
        .restore(&layout, logpipe_store::archive::Days::All)
        .await
        .unwrap();
    let catalog =
        logpipe_store::Catalog::open(layout.clone(), logpipe_store::Reload::Manual).unwrap();
    let mut days: Vec<_> = catalog
        .stats()
        .into_iter()
        .map(|s| (s.day, s.docs))
        .collect();
    days.sort();
    (days, logpipe_store::verify::verify(&layout, None).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_past_the_local_days_are_evicted_to_object_storage_and_late_events_fetch_them_back() {
    logpipe_common::ops::metrics_handle();
    let (broker, s3, vars) = broker_and_store(&[
        ("LOGPIPE_STORE_LOCAL_DAYS", "1"),
        ("LOGPIPE_INDEXER_RETENTION_INTERVAL_MS", "300"),
    ])
    .await;
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let now = Timestamp::now();
    let ago = |days: i64| Timestamp::from_unix_nanos(now.unix_nanos() - days * DAY_NANOS);
    let day = |days: i64| logpipe_store::Day::of(ago(days));
    let messages: Vec<_> = (0..900u64)
        .map(|n| message(n, ago((n % 3) as i64)))
        .collect();
    produce_all(&broker.settings(), TOPIC, messages).unwrap();
    let data = tempfile::tempdir().unwrap();
    let layout = IndexLayout::under(data.path());
    let indexer = Indexer::start(&broker, data.path(), &extra).await;

    // Yesterday and the day before leave the volume once object storage has them whole.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let archive = Archive::open(&s3.url("cluster"), &host_name(), s3.env())
            .await
            .unwrap();
        let evicted: Vec<_> = archive.evicted_days().into_iter().map(|(d, _)| d).collect();
        if layout.days().unwrap() == [day(0)] && evicted == [day(2), day(1)] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "on the volume {:?}, evicted {evicted:?}",
            layout.days().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(indexer.docs().await, 300, "the volume holds today alone");
    // The volume's own record accounts for what left it.
    let local = logpipe_store::verify::verify(&layout, None).unwrap();
    assert!(local.ok, "{:?}", local.findings);
    assert_eq!((local.events, local.in_object_storage), (300, 600));

    // Late events for an evicted day: it comes back whole, takes them, and leaves again.
    let late: Vec<_> = (900..950u64).map(|n| message(n, ago(2))).collect();
    produce_all(&broker.settings(), TOPIC, late).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (days, report) = copied_days(&s3).await;
        let expected = vec![
            (day(2).to_string(), 350),
            (day(1).to_string(), 300),
            (day(0).to_string(), 300),
        ];
        if days == expected && layout.days().unwrap() == [day(0)] {
            assert!(report.ok, "{:?}", report.findings);
            assert_eq!(report.events, 950);
            break;
        }
        assert!(Instant::now() < deadline, "object storage holds {days:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (fetched, evicted) = (
        metric("logpipe_indexer_fetched_back_days_total"),
        metric("logpipe_indexer_evicted_days_total"),
    );
    assert!(fetched >= 1.0 && evicted >= 3.0, "{fetched} {evicted}");
    indexer.stop().await;
}
