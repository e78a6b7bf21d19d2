//! Indexer throughput, segment count and time-to-searchable, printed as JSON.
//!
//! `cargo bench -p logpipe-indexer --bench indexing` builds a realistic mix of events
//! (a third with nested application attributes, a third real Apache access-log lines, a
//! third deeply nested NGINX Plus status documents, both from ../shared/data) and runs:
//!
//! - `baseline`: a bare tantivy `IndexWriter` (same schema, one indexing thread, same
//!   memory) adding documents built beforehand, one commit at the end: no Kafka, no
//!   decoding, no dedup;
//! - `pipeline_bulk`: the indexer's consumer loop reading the same events from
//!   librdkafka's mock cluster (enough partitions to hold them all), with one commit at
//!   the end;
//! - `pipeline_1s`: the same with one-second commits, as in production; then `logpipe
//!   verify` over the index it wrote, in MB of stored events per CPU second, against
//!   SHA-256 of the same bytes in process and by `sha256sum`;
//! - `pipeline_1s_archived`: `pipeline_1s` with the index copied every second to a real
//!   S3 server (SeaweedFS, started by the bench), the last round included;
//! - `ledger`: the ledger's own work on the same events (fingerprints, records, a round
//!   synced every 20,000 events), as a share of `pipeline_1s`'s CPU;
//! - `hour_of_commits`: 3,600 commits of a small batch each, and the segment count after;
//! - `time_to_searchable`: events appended to a real broker (tansu, one partition) at
//!   2,000 and at 10,000 per second while the indexer runs with one-second commits; for
//!   each event the time from its send to the first reader that sees it, p50/p99/max,
//!   split into send to taken by the consumer loop (broker and fetch) and taken to
//!   visible (the indexer's commit interval, commit and reload).
//!   The load generator sends without idempotence or compression, in 50 ms batches
//!   (`LOAD_PRODUCER` says why).
//!
//! `baseline`, `pipeline_bulk` and `pipeline_1s` run `LOGPIPE_BENCH_REPEAT` times
//! (default 3) in interleaved rounds; each reports its median run and lists every run.
//!
//! `LOGPIPE_BENCH_EVENTS` (default 200000), `LOGPIPE_BENCH_COMMITS` (default 3600),
//! `LOGPIPE_BENCH_TTS_SECS` (default 15) and `LOGPIPE_BENCH_TTS_RATES` (default
//! `2000,10000`) size the runs; `LOGPIPE_BENCH_ONLY` (e.g. `baseline,pipeline_bulk`) runs
//! some scenarios only. `LOGPIPE_KAFKA_PROPERTY_*` variables reach the indexer's Kafka
//! clients as they would in production.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use logpipe_common::config::{Env, KAFKA_PROPERTY_PREFIX, SharedConfig};
use logpipe_common::event::{LogEvent, RawRecord, Timestamp};
use logpipe_common::health::Health;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{
    MockKafka, TestBroker, TestObjectStore, env_number, produce_all, sample_event, shared_data,
};
use logpipe_indexer::IndexerConfig;
use logpipe_indexer::consumer::{self, LoopSettings};
use logpipe_indexer::service;
use logpipe_store::document::EventDocument;
use logpipe_store::layout::IndexLayout;
use logpipe_store::schema;
use serde_json::{Value, json};
use tantivy::schema::document::Document as _;
use tantivy::{Index, IndexWriter, TantivyDocument};
use tokio_util::sync::CancellationToken;

const TOPIC: &str = "logs";
const WRITER_MEMORY: usize = 64 << 20;
/// Raw event bytes per partition that fit the 5 MB (compressed) librdkafka's mock
/// cluster keeps of one partition; a shortfall fails the run.
const MOCK_PARTITION_BYTES: usize = 10_000_000;

/// The load generator of `time_to_searchable` departs from the collector's producer
/// settings where they cost the shared two cores without bearing on the indexer: an
/// idempotent librdkafka producer polls without sleeping while its five requests are in
/// flight (the batch is ready, the window full), which a co-located broker keeps full;
/// tansu spends a third of its produce time inflating zstd; and it answers each request
/// in time that grows with their number, which 50 ms batches keep low. What the indexer
/// fetches is the same records either way.
const LOAD_PRODUCER: [(&str, &str); 3] = [
    ("enable.idempotence", "false"),
    ("compression.type", "none"),
    ("linger.ms", "50"),
];

/// The allocator the `logpipe` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let events = env_number("LOGPIPE_BENCH_EVENTS", 200_000);
    let commits = env_number("LOGPIPE_BENCH_COMMITS", 3_600);
    let tts_secs = env_number("LOGPIPE_BENCH_TTS_SECS", 15);
    let tts_rates: Vec<u64> = std::env::var("LOGPIPE_BENCH_TTS_RATES")
        .unwrap_or_else(|_| "2000,10000".to_owned())
        .split(',')
        .map(|rate| {
            rate.trim()
                .parse()
                .unwrap_or_else(|_| panic!("LOGPIPE_BENCH_TTS_RATES: {rate:?} is not a rate"))
        })
        .collect();
    let payloads = realistic_mix(events);
    let bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();

    let only = std::env::var("LOGPIPE_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|n| n == name);
    let repeat: usize = env_number("LOGPIPE_BENCH_REPEAT", 3);
    let throughput = [
        "baseline",
        "pipeline_bulk",
        "pipeline_1s",
        "pipeline_1s_archived",
    ];
    // Rounds interleave the scenarios, so a slow spell of the shared machine hits them
    // alike; each reports the run with the median MB per CPU second.
    let mut runs: [Vec<Value>; 4] = Default::default();
    let mut s3: Option<TestObjectStore> = None;
    for _ in 0..repeat.max(1) {
        for (scenario, runs) in throughput.iter().zip(&mut runs) {
            match *scenario {
                name if !wanted(name) => {}
                "baseline" => runs.push(run_baseline(&payloads)),
                "pipeline_bulk" => {
                    runs.push(run_pipeline(&payloads, Duration::from_secs(3_600), &[]));
                }
                "pipeline_1s" => runs.push(run_pipeline(&payloads, Duration::from_secs(1), &[])),
                _ => {
                    let s3 = s3.get_or_insert_with(|| TestObjectStore::start().unwrap());
                    let mut extra = s3.env();
                    extra.push((
                        "LOGPIPE_STORE_URL".into(),
                        s3.url(&format!("bench-{}", runs.len())),
                    ));
                    extra.push(("LOGPIPE_STORE_SYNC_INTERVAL_MS".into(), "1000".into()));
                    runs.push(run_pipeline(&payloads, Duration::from_secs(1), &extra));
                }
            }
        }
    }
    drop(s3);
    let [baseline, bulk, one_second, archived] = runs.map(median);
    let ledger = wanted("ledger").then(|| run_ledger(&payloads));
    let segments = wanted("hour_of_commits").then(|| run_hour_of_commits(commits));
    let searchable: Option<Vec<Value>> = wanted("time_to_searchable").then(|| {
        tts_rates
            .iter()
            .map(|&rate| run_time_to_searchable(rate, tts_secs))
            .collect()
    });
    let (baseline, bulk, one_second, archived) = (
        json!(baseline),
        json!(bulk),
        json!(one_second),
        json!(archived),
    );
    let cpu = |v: &Value| v["cpu_seconds"].as_f64().unwrap_or(0.0);

    let per_core = |v: &Value| v["mb_per_cpu_sec"].as_f64().unwrap_or(0.0);
    let output = json!({
        "benchmark": "indexer",
        "data": {
            "events": payloads.len(),
            "bytes": bytes,
            "mean_event_bytes": bytes / payloads.len().max(1),
            "content": "1/3 application events with nested attributes, 1/3 Apache access-log lines, 1/3 NGINX Plus status documents",
        },
        "scenarios": {
            "baseline": baseline,
            "pipeline_bulk": bulk,
            "pipeline_1s": one_second,
            "pipeline_1s_archived": archived,
            "ledger": ledger,
            "hour_of_commits": segments,
            "time_to_searchable": searchable,
        },
        "ratios": {
            "bulk_vs_baseline_per_core": per_core(&bulk) / per_core(&baseline),
            "one_second_vs_baseline_per_core": per_core(&one_second) / per_core(&baseline),
            "archived_vs_one_second_per_core": per_core(&archived) / per_core(&one_second),
            "ledger_cpu_share_of_one_second": ledger
                .as_ref()
                .map(|l| l["cpu_seconds"].as_f64().unwrap_or(0.0) / cpu(&one_second)),
        },
        "goals": {
            "mb_per_cpu_sec_at_least": 15,
            "vs_baseline_at_least": 0.7,
            "time_to_searchable_p99_ms_below": 2000,
            "ledger_and_upload_cost_at_most": 0.1,
        },
    });
    println!("{}", serde_json::to_string_pretty(&output).unwrap());
}

/// The run with the median MB per CPU second, listing every run's figure; `None` when
/// the scenario did not run.
fn median(mut runs: Vec<Value>) -> Option<Value> {
    let per_core = |run: &Value| run["mb_per_cpu_sec"].as_f64().unwrap_or(0.0);
    runs.sort_by(|a, b| per_core(a).total_cmp(&per_core(b)));
    let samples: Vec<f64> = runs.iter().map(per_core).collect();
    let mut report = runs.get(runs.len() / 2)?.clone();
    report["mb_per_cpu_sec_runs"] = json!(samples);
    Some(report)
}

/// Events as the collector ships them: (key, JSON).
fn realistic_mix(count: u64) -> Vec<(String, Vec<u8>)> {
    let data = shared_data().join("elastic-examples");
    let apache: Vec<String> = std::fs::read_to_string(data.join("apache_logs"))
        .expect("apache_logs")
        .lines()
        .map(str::to_owned)
        .collect();
    let nginx: Vec<String> = std::fs::read_to_string(data.join("nginxplus_json_logs.jsonl"))
        .expect("nginxplus_json_logs.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    let now = Timestamp::now();
    (0..count)
        .map(|n| {
            let mut event = sample_event(n, now);
            let line = match n % 3 {
                0 => None,
                1 => Some(&apache[(n as usize / 3) % apache.len()]),
                _ => Some(&nginx[(n as usize / 3) % nginx.len()]),
            };
            if let Some(line) = line {
                let identity = format!("bench-{}", n % 3);
                event = LogEvent::from_raw(RawRecord {
                    payload: line.as_bytes(),
                    runtime_ts: Some(now),
                    observed_ts: now,
                    stream: event.stream,
                    k8s: event.k8s.clone(),
                    source: event.source.clone(),
                    identity: &identity,
                    offset: n,
                    truncated: false,
                });
            }
            (event.kafka_key(), serde_json::to_vec(&event).unwrap())
        })
        .collect()
}

/// The process's CPU time so far: user and system seconds.
#[derive(Clone, Copy)]
struct Cpu {
    user: f64,
    system: f64,
}

impl Cpu {
    fn now() -> Cpu {
        Cpu::of(nix::sys::resource::UsageWho::RUSAGE_SELF)
    }

    /// The CPU time of the children waited for so far.
    fn children() -> Cpu {
        Cpu::of(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
    }

    fn of(who: nix::sys::resource::UsageWho) -> Cpu {
        let usage = nix::sys::resource::getrusage(who).unwrap();
        let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        Cpu {
            user: seconds(usage.user_time()),
            system: seconds(usage.system_time()),
        }
    }

    fn since(self, start: Cpu) -> Cpu {
        Cpu {
            user: self.user - start.user,
            system: self.system - start.system,
        }
    }
}

fn rates(events: usize, bytes: usize, wall: f64, cpu: Cpu) -> Value {
    let mb = bytes as f64 / 1e6;
    let (system, cpu) = (cpu.system, cpu.user + cpu.system);
    json!({
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "system_cpu_seconds": system,
        "events_per_sec": events as f64 / wall,
        "mb_per_sec": mb / wall,
        "events_per_cpu_sec": events as f64 / cpu,
        "mb_per_cpu_sec": mb / cpu,
    })
}

fn run_baseline(payloads: &[(String, Vec<u8>)]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let (schema, fields) = schema::build();
    let index = Index::create_in_dir(dir.path(), schema).unwrap();
    let docs: Vec<TantivyDocument> = payloads
        .iter()
        .map(|(_, payload)| {
            EventDocument::parse(&fields, payload.clone())
                .unwrap()
                .into_tantivy_document()
        })
        .collect();
    let bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();
    let (started, cpu) = (Instant::now(), Cpu::now());
    let mut writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY).unwrap();
    for doc in docs {
        writer.add_document(doc).unwrap();
    }
    writer.commit().unwrap();
    writer.wait_merging_threads().unwrap();
    rates(
        payloads.len(),
        bytes,
        started.elapsed().as_secs_f64(),
        Cpu::now().since(cpu),
    )
}

fn indexer_env(
    brokers: &str,
    data: &Path,
    commit_interval: Duration,
    extra: &[(String, String)],
) -> (SharedConfig, IndexerConfig) {
    let pinned = [
        ("LOGPIPE_KAFKA_BROKERS", brokers.to_owned()),
        ("LOGPIPE_DATA_DIR", data.display().to_string()),
        (
            "LOGPIPE_INDEXER_COMMIT_INTERVAL_MS",
            commit_interval.as_millis().to_string(),
        ),
        ("LOGPIPE_INDEXER_COMMIT_DOCS", "10000000".to_owned()),
        ("LOGPIPE_INDEXER_WRITER_MEMORY", format!("{WRITER_MEMORY}")),
        ("LOGPIPE_INDEXER_PARTITIONS", "all".to_owned()),
    ]
    .map(|(name, value)| (name.to_owned(), value));
    let properties = std::env::vars().filter(|(name, _)| name.starts_with(KAFKA_PROPERTY_PREFIX));
    let env = Env::from_pairs(
        pinned
            .into_iter()
            .chain(extra.iter().cloned())
            .chain(properties),
    );
    logpipe_common::service::load::<IndexerConfig>(&env).unwrap()
}

/// Runs the consumer loop until `done` says so; returns the loop's thread result.
fn spawn_loop(
    shared: &SharedConfig,
    config: &IndexerConfig,
    data: &Path,
    stop: CancellationToken,
) -> (
    logpipe_store::Catalog,
    consumer::SharedPipeline,
    std::thread::JoinHandle<()>,
) {
    let (catalog, pipeline) = service::open(config, shared, IndexLayout::under(data)).unwrap();
    let pipeline = Arc::new(Mutex::new(pipeline));
    let consumer = service::subscribe(config, shared, pipeline.clone()).unwrap();
    let settings = LoopSettings::new(config, TOPIC);
    let heartbeat = Health::new().heartbeat("bench", Duration::from_secs(3_600));
    let shared_pipeline = pipeline.clone();
    let thread = std::thread::spawn(move || {
        consumer::run(&consumer, &shared_pipeline, &settings, &stop, &heartbeat).unwrap();
    });
    (catalog, pipeline, thread)
}

fn taken(pipeline: &consumer::SharedPipeline) -> i64 {
    pipeline.lock().unwrap().positions().values().sum()
}

fn run_pipeline(
    payloads: &[(String, Vec<u8>)],
    commit_interval: Duration,
    extra: &[(String, String)],
) -> Value {
    let bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();
    // The mock cluster keeps at most 5 MB per partition: enough partitions to hold it all.
    let partitions = (bytes / MOCK_PARTITION_BYTES + 1).max(3) as i32;
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic(TOPIC, partitions).unwrap();
    kafka.create_topic("logs-dlq", 1).unwrap();
    produce_all(&kafka.settings(), TOPIC, payloads.iter().cloned()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (shared, config) = indexer_env(&kafka.bootstrap(), dir.path(), commit_interval, extra);
    let stop = CancellationToken::new();
    let (started, cpu) = (Instant::now(), Cpu::now());
    // With object storage: its thread started first, as the service does.
    let syncing = config.store_url.is_some().then(|| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let layout = IndexLayout::under(dir.path());
        let readiness = Health::new().optional("archive");
        let syncing = runtime
            .block_on(logpipe_indexer::archive::start(&config, layout, readiness))
            .unwrap()
            .unwrap();
        (runtime, syncing)
    });
    let (catalog, pipeline, thread) = spawn_loop(&shared, &config, dir.path(), stop.clone());
    if let Some((_, syncing)) = &syncing {
        pipeline
            .lock()
            .unwrap()
            .archive_to(syncing.archived.clone());
    }
    while taken(&pipeline) < payloads.len() as i64 {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.cancel();
    thread.join().unwrap();
    if let Some((runtime, syncing)) = syncing {
        // The last round, which copies what the last commit made.
        syncing.finish().unwrap();
        drop(runtime);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = Cpu::now().since(cpu);
    let docs: u64 = catalog.stats().iter().map(|d| d.docs).sum();
    if docs != payloads.len() as u64 {
        let mut missing = [0usize; 3];
        for (n, (_, payload)) in payloads.iter().enumerate() {
            let event: LogEvent = serde_json::from_slice(payload).unwrap();
            if catalog.count_id(event.id).unwrap() == 0 {
                missing[n % 3] += 1;
            }
        }
        panic!(
            "{docs} of {} events indexed; missing by kind: {missing:?}",
            payloads.len()
        );
    }
    let mut report = rates(payloads.len(), bytes, wall, cpu);
    if extra.is_empty() && commit_interval == Duration::from_secs(1) {
        report["verify"] = run_verify(dir.path(), payloads);
    }
    report["partitions"] = json!(partitions);
    report["segments"] = json!(catalog.stats().iter().map(|d| d.segments).sum::<usize>());
    report
}

/// The ledger's own work on the same events (each event's fingerprint and record, a
/// round written and synced every 20,000 events, about a second's worth), in CPU seconds.
fn run_ledger(payloads: &[(String, Vec<u8>)]) -> Value {
    let (_, fields) = schema::build();
    let events: Vec<(logpipe_store::Day, String, Vec<u8>)> = payloads
        .iter()
        .map(|(_, payload)| {
            let document = EventDocument::parse(&fields, payload.clone()).unwrap();
            (
                document.day(),
                document.event().id.to_string(),
                document.stored().to_vec(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (started, cpu) = (Instant::now(), Cpu::now());
    let mut ledger = logpipe_store::ledger::Ledger::open(dir.path()).unwrap();
    for (n, (day, id, stored)) in events.into_iter().enumerate() {
        ledger.event(0, n as i64, day, id, &stored);
        if n % 20_000 == 19_999 {
            ledger.commit_round(TOPIC).unwrap();
        }
    }
    ledger.commit_round(TOPIC).unwrap();
    let bytes: usize = payloads.iter().map(|(_, p)| p.len()).sum();
    let mut report = rates(
        payloads.len(),
        bytes,
        started.elapsed().as_secs_f64(),
        Cpu::now().since(cpu),
    );
    report["ledger_bytes"] =
        json!(std::fs::metadata(dir.path().join("ledger.jsonl")).map_or(0, |m| m.len()));
    report
}

/// `logpipe verify` over the index a run wrote, in MB of stored events per CPU second,
/// against SHA-256 of the same bytes in this process and by `sha256sum`.
fn run_verify(dir: &Path, payloads: &[(String, Vec<u8>)]) -> Value {
    let layout = IndexLayout::under(dir);
    let cpu = Cpu::now();
    let report = logpipe_store::verify::verify(&layout, None).unwrap();
    let verify_cpu = Cpu::now().since(cpu);
    assert!(report.ok, "{:?}", report.findings);
    let (_, fields) = schema::build();
    let stored: Vec<u8> = payloads
        .iter()
        .flat_map(|(_, payload)| {
            EventDocument::parse(&fields, payload.clone())
                .unwrap()
                .stored()
                .to_vec()
        })
        .collect();
    let cpu = Cpu::now();
    let digest = logpipe_store::ledger::fingerprint(&stored);
    std::hint::black_box(digest);
    let in_process = Cpu::now().since(cpu);
    let file = dir.join("stored.bin");
    std::fs::write(&file, &stored).unwrap();
    let before = Cpu::children();
    let status = std::process::Command::new("sha256sum")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let sha256sum = Cpu::children().since(before);
    let mb = report.bytes as f64 / 1e6;
    let seconds = |cpu: Cpu| (cpu.user + cpu.system).max(1e-9);
    json!({
        "events": report.events,
        "stored_mb": mb,
        "cpu_seconds": seconds(verify_cpu),
        "mb_per_cpu_sec": mb / seconds(verify_cpu),
        "sha256_in_process_mb_per_cpu_sec": stored.len() as f64 / 1e6 / seconds(in_process),
        "sha256sum_mb_per_cpu_sec": stored.len() as f64 / 1e6 / seconds(sha256sum),
    })
}

fn run_hour_of_commits(commits: u64) -> Value {
    use logpipe_store::{Writer, WriterSettings};
    let dir = tempfile::tempdir().unwrap();
    let catalog = logpipe_store::Catalog::open(
        IndexLayout::under(dir.path()),
        logpipe_store::Reload::Manual,
    )
    .unwrap();
    let mut store = Writer::open(
        catalog.clone(),
        WriterSettings {
            topic: TOPIC.into(),
            writer_memory: WRITER_MEMORY,
            max_open_days: 1,
        },
    )
    .unwrap();
    let (_, fields) = schema::build();
    let now = Timestamp::now();
    let day = logpipe_store::Day::of(now);
    let per_commit = 50;
    let mut positions = std::collections::BTreeMap::new();
    let mut max_segments = 0;
    let started = Instant::now();
    for commit in 0..commits {
        for i in 0..per_commit {
            let n = commit * per_commit + i;
            let event = sample_event(n, now);
            store
                .add(
                    day,
                    EventDocument::parse(&fields, serde_json::to_vec(&event).unwrap()).unwrap(),
                    &positions,
                )
                .unwrap();
        }
        positions.insert(0, ((commit + 1) * per_commit) as i64);
        store.commit(&positions).unwrap();
        let segments = catalog.stats().iter().map(|d| d.segments).sum::<usize>();
        max_segments = max_segments.max(segments);
    }
    let before_close = catalog.stats().iter().map(|d| d.segments).sum::<usize>();
    store.close_all(&positions).unwrap();
    catalog.reload(day).unwrap();
    json!({
        "commits": commits,
        "docs_per_commit": per_commit,
        "seconds": started.elapsed().as_secs_f64(),
        "segments_max": max_segments,
        "segments_at_end": before_close,
        "segments_after_merges_finish": catalog.stats().iter().map(|d| d.segments).sum::<usize>(),
    })
}

/// Records when the broker acknowledged each message of the time-to-searchable load.
struct Acks {
    clock: Instant,
    acked_at: Arc<Vec<AtomicU64>>,
}

impl rdkafka::ClientContext for Acks {}

impl rdkafka::producer::ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, n: usize) {
        if result.is_ok() {
            self.acked_at[n].store(self.clock.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
}

fn run_time_to_searchable(rate: u64, seconds: u64) -> Value {
    const BATCH: u64 = 100;
    let broker = TestBroker::start().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(broker.create_topics(&[TopicSpec::new(TOPIC, 1), TopicSpec::new("logs-dlq", 1)]))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (shared, config) =
        indexer_env(&broker.bootstrap(), dir.path(), Duration::from_secs(1), &[]);
    let stop = CancellationToken::new();
    let (catalog, pipeline, thread) = spawn_loop(&shared, &config, dir.path(), stop.clone());

    // Wait for the assignment: one event through before timing starts.
    let warmup = broker.settings();
    produce_all(
        &warmup,
        TOPIC,
        [(
            String::from("warm/up"),
            serde_json::to_vec(&sample_event(u64::MAX, Timestamp::now())).unwrap(),
        )],
    )
    .unwrap();
    while taken(&pipeline) < 1 {
        std::thread::sleep(Duration::from_millis(10));
    }

    let total = seconds * rate;
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let clock = Instant::now();
    let producing = Arc::new(AtomicBool::new(true));
    let acked_at: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let producer = {
        let settings = broker.settings();
        let sent_at = sent_at.clone();
        let producing = producing.clone();
        let acks = Acks {
            clock,
            acked_at: acked_at.clone(),
        };
        std::thread::spawn(move || {
            use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
            let mut config = settings.producer();
            for (property, value) in LOAD_PRODUCER {
                config.set(property, value);
            }
            let producer: ThreadedProducer<Acks> = config.create_with_context(acks).unwrap();
            let now = Timestamp::now();
            for batch in 0..total / BATCH {
                let due = Duration::from_micros(batch * BATCH * 1_000_000 / rate);
                if let Some(wait) = due.checked_sub(clock.elapsed()) {
                    std::thread::sleep(wait);
                }
                for n in batch * BATCH..(batch + 1) * BATCH {
                    let event = sample_event(n, now);
                    let payload = serde_json::to_vec(&event).unwrap();
                    sent_at[n as usize]
                        .store(clock.elapsed().as_micros() as u64, Ordering::Relaxed);
                    let mut record = BaseRecord::with_opaque_to(TOPIC, n as usize)
                        .key("k")
                        .payload(&payload);
                    while let Err((_, returned)) = producer.send(record) {
                        record = returned;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            producer.flush(Duration::from_secs(60)).unwrap();
            producing.store(false, Ordering::Relaxed);
        })
    };
    // One partition: documents are taken and become visible in offset order, so each
    // count is a prefix. A count of taken records waits while a commit holds the
    // pipeline; the records taken in the last poll before it are recorded late by the
    // commit's duration, a fraction of a percent of them.
    let mut taken_at = vec![0u64; total as usize];
    let mut visible_at = vec![0u64; total as usize];
    let (mut taken_count, mut seen) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    while seen < total && Instant::now() < deadline {
        // The warm-up event is the first of each count.
        let taken_now = (taken(&pipeline) as u64).saturating_sub(1);
        let now = clock.elapsed().as_micros() as u64;
        while taken_count < taken_now.min(total) {
            taken_at[taken_count as usize] = now;
            taken_count += 1;
        }
        let docs: u64 = catalog
            .readers()
            .iter()
            .map(|day| day.reader.searcher().num_docs())
            .sum::<u64>()
            .saturating_sub(1);
        let now = clock.elapsed().as_micros() as u64;
        while seen < docs.min(total) {
            visible_at[seen as usize] = now;
            seen += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    producer.join().unwrap();
    stop.cancel();
    thread.join().unwrap();
    let sent = |i: usize| sent_at[i].load(Ordering::Relaxed);
    let acked: Vec<u64> = acked_at
        .iter()
        .map(|at| at.load(Ordering::Relaxed))
        .collect();
    let visible = seen as usize;
    let quantiles = |from: &dyn Fn(usize) -> u64, to: &[u64]| {
        let mut latencies: Vec<f64> = (0..visible)
            .map(|i| to[i].saturating_sub(from(i)) as f64 / 1_000.0)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        json!({"p50_ms": quantile(0.5), "p99_ms": quantile(0.99), "max_ms": quantile(1.0)})
    };
    let total_latency = quantiles(&sent, &visible_at);
    json!({
        "broker": "tansu",
        "producer": LOAD_PRODUCER.iter().map(|(p, v)| format!("{p}={v}")).collect::<Vec<_>>(),
        "rate_per_sec": rate,
        "events": total,
        "visible": seen,
        "p50_ms": total_latency["p50_ms"],
        "p99_ms": total_latency["p99_ms"],
        "max_ms": total_latency["max_ms"],
        "sent_to_taken": quantiles(&sent, &taken_at),
        "sent_to_acked": quantiles(&sent, &acked),
        "acked_to_taken": quantiles(&|i| acked[i], &taken_at),
        "taken_to_visible": quantiles(&|i| taken_at[i], &visible_at),
    })
}
