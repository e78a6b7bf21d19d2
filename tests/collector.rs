//! Collector drills with the real binary and a real broker: kill -9 at random moments
//! while files are written and rotated, and a broker outage.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use logpipe_common::LogEvent;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, env_number};
use nix::sys::signal::Signal;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};

use crate::util::{Rng, Running};

const TOPIC: &str = "logs";

fn container_dir(pods: &Path, pod: &str) -> PathBuf {
    let dir = pods.join(format!("drill_{pod}_uid-{pod}")).join("app");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `lines` lines to each container in turn, rotating by rename every 1,000 lines
/// like the kubelet, until done or stopped.
fn write_and_rotate(dirs: Vec<PathBuf>, lines: usize, per_second: usize) -> Vec<String> {
    use std::io::Write;
    let mut expected = Vec::new();
    let started = Instant::now();
    let mut files: Vec<std::fs::File> = dirs
        .iter()
        .map(|d| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(d.join("0.log"))
                .unwrap()
        })
        .collect();
    let mut rotations = 0;
    for n in 0..lines {
        let which = n % dirs.len();
        let message = format!("drill line {n}");
        let line = format!("2026-11-27T05:00:00.{n:09}Z stdout F {message}\n");
        files[which].write_all(line.as_bytes()).unwrap();
        expected.push(message);
        let written_here = n / dirs.len() + 1;
        if written_here.is_multiple_of(1_000) && which == dirs.len() - 1 {
            rotations += 1;
            for (i, dir) in dirs.iter().enumerate() {
                std::fs::rename(dir.join("0.log"), dir.join(format!("0.log.{rotations:06}")))
                    .unwrap();
                files[i] = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("0.log"))
                    .unwrap();
                if rotations > 5 {
                    let _ = std::fs::remove_file(dir.join(format!("0.log.{:06}", rotations - 5)));
                }
            }
        }
        let due = Duration::from_secs_f64(n as f64 / per_second as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    expected
}

fn start_collector(bootstrap: &str, pods: &Path, data: &Path) -> Running {
    let process = Running::start(
        &["collector"],
        &[
            ("LOGPIPE_KAFKA_BROKERS", bootstrap),
            ("LOGPIPE_COLLECTOR_PODS_DIR", pods.to_str().unwrap()),
            ("LOGPIPE_DATA_DIR", data.to_str().unwrap()),
            ("LOGPIPE_NODE_NAME", "drill-node"),
            ("LOGPIPE_COLLECTOR_CHECKPOINT_INTERVAL_MS", "200"),
            ("LOGPIPE_LOG_LEVEL", "warn,logpipe_common=info"),
            ("PORT", "0"),
        ],
    );
    process.port();
    process
}

/// Reads the topic until every expected message is there, then checks: none lost, and
/// a message seen twice always has the same id.
async fn assert_all_delivered(
    broker: &TestBroker,
    expected: &[String],
    timeout: Duration,
    collector: &Running,
) {
    let consumer: StreamConsumer = broker.settings().consumer("drill-check").create().unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let mut by_message: HashMap<String, LogEvent> = HashMap::new();
    let mut duplicates = 0;
    let deadline = Instant::now() + timeout;
    while by_message.len() < expected.len() {
        if Instant::now() >= deadline {
            let problems: Vec<String> = collector
                .lines()
                .into_iter()
                .filter(|line| line["level"] != "INFO")
                .take(30)
                .map(|line| line.to_string())
                .collect();
            let all: Vec<String> = collector
                .lines()
                .iter()
                .map(|line| line.to_string())
                .collect();
            let _ = std::fs::write(
                std::env::temp_dir().join("logpipe-drill-collector.jsonl"),
                all.join("\n"),
            );
            panic!(
                "{} of {} delivered; collector warnings:\n{}\nbroker log:\n{}",
                by_message.len(),
                expected.len(),
                problems.join("\n"),
                broker
                    .log()
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        if let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            let event: LogEvent = serde_json::from_slice(message.payload().unwrap()).unwrap();
            if let Some(previous) = by_message.get(&event.message) {
                assert_eq!(
                    previous.id, event.id,
                    "a duplicate with another id: {}",
                    event.message
                );
                duplicates += 1;
            }
            by_message.insert(event.message.clone(), event);
        }
    }
    let missing = expected
        .iter()
        .filter(|m| !by_message.contains_key(*m))
        .count();
    assert_eq!(missing, 0);
    eprintln!(
        "delivered {} lines, {duplicates} duplicates with identical ids",
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_killed_three_times_loses_nothing() {
    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 3)])
        .await
        .unwrap();
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| container_dir(pods.path(), &format!("pod-{i}")))
        .collect();
    let mut rng = Rng::from_time();
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = writing.clone();
        std::thread::spawn(move || {
            let expected = write_and_rotate(dirs, 30_000, 1_500);
            writing.store(false, Ordering::Relaxed);
            expected
        })
    };
    let bootstrap = broker.bootstrap();
    let mut collector = start_collector(&bootstrap, pods.path(), data.path());
    for kill in 0..3 {
        let wait = Duration::from_millis(1_000 + rng.below(2_000));
        std::thread::sleep(wait);
        eprintln!("kill -9 number {} after {wait:?}", kill + 1);
        collector.signal(Signal::SIGKILL);
        collector.wait(Duration::from_secs(5)).expect("killed");
        collector = start_collector(&bootstrap, pods.path(), data.path());
    }
    let expected = writer.join().unwrap();
    assert!(!writing.load(Ordering::Relaxed));
    assert_all_delivered(&broker, &expected, Duration::from_secs(120), &collector).await;
    drop(collector);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_stopped_for_30_seconds_loses_nothing() {
    let mut broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 3)])
        .await
        .unwrap();
    let (pods, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dirs: Vec<PathBuf> = (0..2)
        .map(|i| container_dir(pods.path(), &format!("pod-{i}")))
        .collect();
    let mut collector = start_collector(&broker.bootstrap(), pods.path(), data.path());
    let writer = std::thread::spawn(move || write_and_rotate(dirs, 20_000, 500));
    std::thread::sleep(Duration::from_secs(3));
    // A crash: the process is gone at once, in-flight requests unanswered.
    broker.kill();
    eprintln!("broker stopped");
    let outage = env_number("LOGPIPE_DRILL_OUTAGE_SECS", 30);
    std::thread::sleep(Duration::from_secs(outage));
    broker.restart().unwrap();
    eprintln!("broker restarted");
    let expected = writer.join().unwrap();
    assert_all_delivered(&broker, &expected, Duration::from_secs(120), &collector).await;
    collector.signal(Signal::SIGTERM);
    // The drain window (5 s by default), then the collector's own drain.
    let status = collector
        .wait(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
}
