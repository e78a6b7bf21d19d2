//! Indexer drill with the real binary and a real broker: kill -9 at random moments while
//! it indexes the events on the topic; afterwards every event is in the index exactly once
//! and `logpipe verify` finds the store as its ledger and signed digests describe it.
//!
//! The full-size drill (one million events, ten kills) is
//! `LOGPIPE_DRILL_EVENTS=1000000 LOGPIPE_DRILL_KILLS=10 ./dev test --profile drill -E 'test(indexer_killed)'`.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use logpipe_common::Timestamp;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, env_number, produce_all, sample_event};
use logpipe_store::{Catalog, IndexLayout, Reload};
use nix::sys::signal::Signal;

use crate::util::{Rng, Running, get, run};

const TOPIC: &str = "logs";
/// The digest signing key of the drill (base64 of 32 bytes of 7).
const DIGEST_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

fn start_indexer(bootstrap: &str, data: &Path) -> Running {
    Running::start(
        &["indexer"],
        &[
            ("LOGPIPE_KAFKA_BROKERS", bootstrap),
            ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
            ("LOGPIPE_KAFKA_TOPIC_PARTITIONS", "3"),
            (
                "LOGPIPE_LOG_LEVEL",
                "warn,logpipe_common=info,logpipe_store=info,logpipe_indexer=info",
            ),
            ("PORT", "0"),
            ("LOGPIPE_INDEXER_DIGEST_KEY", DIGEST_KEY),
            // The consumer group with the default static membership: a restart takes the
            // partitions back at once, without waiting for the killed member's eviction.
        ],
    )
}

/// Documents over every day index, as the indexer reports them.
fn docs(port: u16) -> u64 {
    let (_, body) = get(port, "/api/v1/index/days");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    body["days"]
        .as_array()
        .map(|days| days.iter().map(|d| d["docs"].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

#[test]
fn indexer_killed_at_random_moments_indexes_every_event_once() {
    let events = env_number("LOGPIPE_DRILL_EVENTS", 100_000);
    let kills = env_number("LOGPIPE_DRILL_KILLS", 5);
    let broker = TestBroker::start().unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(broker.create_topics(&[TopicSpec::new(TOPIC, 3), TopicSpec::new("logs-dlq", 1)]))
        .unwrap();
    let now = Timestamp::now();
    let yesterday = Timestamp::from_unix_nanos(now.unix_nanos() - NANOS_PER_DAY);
    // Events over two days; one in 500 is delivered twice, as a collector resending
    // after a crash does.
    let settings = broker.settings();
    let produced = std::thread::spawn(move || {
        let messages = (0..events).flat_map(move |n| {
            let ts = if n % 3 == 0 { yesterday } else { now };
            let event = sample_event(n, ts);
            let message = (event.kafka_key(), serde_json::to_vec(&event).unwrap());
            let copies = if n % 500 == 0 { 2 } else { 1 };
            std::iter::repeat_n(message, copies)
        });
        produce_all(&settings, TOPIC, messages).unwrap()
    })
    .join()
    .unwrap();
    eprintln!("{produced} messages produced");

    let data = tempfile::tempdir().unwrap();
    let bootstrap = broker.bootstrap();
    let mut rng = Rng::from_time();
    let mut indexer = start_indexer(&bootstrap, data.path());
    let mut indexed = 0;
    for kill in 0..kills {
        let port = indexer.port();
        // The kill lands while indexing: once this run has committed something, at a
        // random moment within the next two seconds.
        let deadline = Instant::now() + Duration::from_secs(120);
        while docs(port) <= indexed && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let wait = Duration::from_millis(rng.below(2_000));
        std::thread::sleep(wait);
        indexed = docs(port);
        eprintln!(
            "kill -9 number {} after {wait:?} more, {indexed} documents",
            kill + 1
        );
        indexer.signal(Signal::SIGKILL);
        indexer.wait(Duration::from_secs(5)).expect("killed");
        indexer = start_indexer(&bootstrap, data.path());
    }
    let port = indexer.port();
    let deadline = Instant::now() + Duration::from_secs(60 + events / 2_000);
    let started = Instant::now();
    loop {
        let got = docs(port);
        if got >= events {
            break;
        }
        eprintln!("{got} documents after {:?}", started.elapsed());
        if Instant::now() >= deadline {
            let log: Vec<String> = indexer.lines().iter().map(|l| l.to_string()).collect();
            panic!(
                "{got} of {events} documents; indexer log:\n{}",
                log.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(1_000));
    }
    indexer.signal(Signal::SIGTERM);
    let status = indexer
        .wait(Duration::from_secs(30))
        .expect("stops on SIGTERM");
    assert!(status.success(), "{status}");

    let catalog = Catalog::open(IndexLayout::under(data.path()), Reload::Manual).unwrap();
    let ids = catalog.recent_ids(usize::MAX >> 1).unwrap();
    let unique: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "{} ids indexed twice",
        ids.len() - unique.len()
    );
    let expected: HashSet<_> = (0..events).map(|n| sample_event(n, now).id).collect();
    assert_eq!(unique, expected);
    assert_eq!(catalog.readers().len(), 2, "two day indexes");
    eprintln!("{events} events indexed exactly once through {kills} kills");

    // The ledger chained every event once through the kills, and the digests vouch for it.
    let public = logpipe_store::digest::DigestKey::from_base64(DIGEST_KEY)
        .unwrap()
        .public_base64();
    let index = data.path().join("index");
    let output = run(
        &[
            "verify",
            index.to_str().unwrap(),
            "--public-key",
            &public,
            "--json",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["events"], events);
    assert_eq!(report["records_after_last_digest"], 0, "{report}");
    // Another key's signatures are not these.
    let other = logpipe_store::digest::DigestKey::from_base64(
        "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
    )
    .unwrap()
    .public_base64();
    let output = run(
        &["verify", index.to_str().unwrap(), "--public-key", &other],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("does not verify"));

    // The same index copied to object storage verifies from there.
    let remote = tempfile::tempdir().unwrap();
    let url = url::Url::from_directory_path(remote.path()).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut archive = logpipe_store::archive::Archive::open(url.as_str(), "indexer-0", [])
            .await
            .unwrap();
        archive.sync(&IndexLayout::at(&index)).await.unwrap();
    });
    let copy = format!("{url}indexer-0");
    let output = run(&["verify", &copy, "--public-key", &public, "--json"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["events"], events);
    // Several stores at once: the same store twice covers every offset twice.
    let output = run(
        &[
            "verify",
            index.to_str().unwrap(),
            index.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["stores"], 2);
    assert!(
        // Each store's events counted once per store.
        2 * report["offsets_in_several_stores"].as_u64().unwrap()
            >= report["events"].as_u64().unwrap()
    );
    let output = run(&["verify", &format!("{url}nothing-here")], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no manifest.json"));
}
